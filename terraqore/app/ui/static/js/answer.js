// An answer's Markdown as DOM: paragraphs, bullet lists, `code`, **bold**, and `[n]`
// citations as chips that open their source card.

import { el, place, when } from "./dom.js";

const INLINE = /\[(\d+(?:\s*,\s*\d+)*)\]|`([^`\n]+)`|\*\*([^*\n]+)\*\*/g;

function inline(text, sources, onCite) {
  const parts = [];
  let last = 0;
  for (const match of text.matchAll(INLINE)) {
    if (match.index > last) parts.push(text.slice(last, match.index));
    if (match[1]) {
      for (const n of match[1].split(",").map((x) => Number(x.trim()))) {
        const source = sources.find((s) => s.n === n);
        parts.push(
          source
            ? el("button", {
                type: "button",
                class: "chip",
                "data-n": String(n),
                "aria-label": `Source ${n}: ${source.title || source.url}`,
                text: `${n}`,
                onclick: (event) => onCite(source, event.currentTarget),
              })
            : `[${n}]`,
        );
      }
    } else if (match[2]) parts.push(el("code", { text: match[2] }));
    else parts.push(el("strong", { text: match[3] }));
    last = match.index + match[0].length;
  }
  parts.push(text.slice(last));
  return parts;
}

/** The answer as blocks: a paragraph per blank-line-separated block, lists kept. */
export function renderAnswer(text, sources, onCite) {
  const fragment = document.createDocumentFragment();
  for (const block of text.split(/\n\s*\n/)) {
    const lines = block.split("\n").filter((l) => l.trim());
    if (!lines.length) continue;
    if (lines.every((l) => /^\s*(?:[-*]|\d+\.)\s+/.test(l))) {
      const ordered = /^\s*\d+\./.test(lines[0]);
      fragment.append(
        el(ordered ? "ol" : "ul", {}, lines.map((l) => el("li", {}, inline(l.replace(/^\s*(?:[-*]|\d+\.)\s+/, ""), sources, onCite)))),
      );
    } else {
      fragment.append(el("p", {}, inline(lines.join(" "), sources, onCite)));
    }
  }
  return fragment;
}

/** A compact list of numbered sources (title, where, date), each opening its card. */
export function sourceList(sources, onCite) {
  return el(
    "ol",
    { class: "source-list" },
    sources.map((s) =>
      el(
        "li",
        { value: s.n },
        el("button", {
          type: "button",
          class: "link",
          text: s.title || "(untitled)",
          onclick: (event) => onCite(s, event.currentTarget),
        }),
        el("span", { class: "muted", text: ` ${place(s.url)}` }),
        s.published ? el("span", { class: "muted", text: ` · ${when(s.published)}` }) : null,
      ),
    ),
  );
}
