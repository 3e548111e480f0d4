// The Ask tab: questions to the `qa` graph on a LangGraph thread, the answer streamed as
// the model writes it, then the checked answer with citation chips and source cards.

import { createThread, searchThreads, streamRun, threadHistory } from "./api.js";
import { renderAnswer, sourceList } from "./answer.js";
import { clearStatus, el, isWebAddress, showError, when } from "./dom.js";

const $ = (id) => document.getElementById(id);
let thread = null;
let busy = false;
let online = false;

// The verify step's own words for an answer the sources do not support (nodes/verify.py).
const NOT_FOUND = /^I could not find the answer to this question in the sources\.?$/;
// The model's own answer, never cited, follows this marker on its own paragraph.
const OWN = "Not in the sources:";
// What each kind of answer (the state's `kind`) is called on the page.
const KINDS = {
  stated: "Stated in the sources",
  identified: "Sources identify the subject, not the answer",
  not_found: "Not found in the lake",
};

function openSource(source, opener) {
  const card = $("source-card");
  $("source-title").textContent = source.title || "(untitled)";
  $("source-number").textContent = `Source ${source.n}`;
  $("source-date").textContent = source.published ? `· ${when(source.published)}` : "";
  const where = $("source-where");
  where.replaceChildren(
    isWebAddress(source.url)
      ? el("a", { href: source.url, target: "_blank", rel: "noopener noreferrer", text: source.url })
      : el("code", { text: source.url }),
  );
  $("source-snippet").textContent = source.snippet || "";
  $("source-text").textContent = source.text || source.snippet || "";
  card.hidden = false;
  card.opener = opener;
  $("source-title").focus();
}

function closeSource() {
  const card = $("source-card");
  card.hidden = true;
  card.opener?.focus();
}

function turnItem(question) {
  const answer = el("div", { class: "answer", "aria-busy": "true" });
  const item = el("li", { class: "turn" }, el("p", { class: "question", text: question }), answer);
  $("turns").append(item);
  return { item, answer };
}

function finishTurn({ item, answer }, values) {
  answer.removeAttribute("aria-busy");
  const full = values.answer || "";
  const sources = values.sources || [];
  const at = full.indexOf(OWN);
  const text = at < 0 ? full : full.slice(0, at).trim();
  const own = at < 0 ? "" : full.slice(at + OWN.length).trim();
  const notFound = values.kind === "not_found" || NOT_FOUND.test(text.trim()) || (!text.trim() && !sources.length);
  const kind = values.kind || (notFound ? "not_found" : "stated");
  answer.replaceChildren();
  item.dataset.kind = kind;
  answer.append(el("p", { class: `badge kind-${kind}`, text: KINDS[kind] || kind }));
  if (notFound) {
    item.classList.add("not-found");
    answer.append(el("p", { text: text || "No answer was given." }));
  } else {
    answer.append(renderAnswer(text, sources, openSource));
  }
  if (own) {
    // Plain text, never chips: this sentence is the model's, not a source's.
    answer.append(el("p", { class: "own-answer" }, el("strong", { text: OWN }), ` ${own}`));
  }
  if (values.searched_web) {
    item.append(el("p", { class: "note web", text: "The web was searched (the lake had too little); what it found is now in the lake." }));
  }
  for (const note of values.notes || []) item.append(el("p", { class: "note", text: note }));
  if (sources.length && !notFound) {
    const cited = new Set([...text.matchAll(/\[(\d+)\]/g)].map((m) => Number(m[1])));
    const shown = sources.filter((s) => cited.has(s.n));
    if (shown.length) item.append(el("h3", { class: "sources-title", text: "Sources" }), sourceList(shown, openSource));
  }
}

async function refreshThreads() {
  const list = $("thread-list");
  try {
    const threads = await searchThreads({ ui: "ask" });
    list.replaceChildren(
      ...threads.map((t) =>
        el(
          "li",
          {},
          el(
            "button",
            {
              type: "button",
              class: "thread",
              "data-thread": t.thread_id,
              "aria-current": t.thread_id === thread ? "true" : null,
              onclick: () => openThread(t.thread_id),
            },
            el("span", { class: "thread-title", text: t.metadata?.title || "(untitled)" }),
            el("span", { class: "muted", text: when(t.updated_at) }),
          ),
        ),
      ),
    );
    if (!threads.length) list.append(el("li", { class: "muted", text: "No conversations yet." }));
  } catch (error) {
    showError(null, error);
  }
}

/** Reopen a past conversation: each turn's final state, from the thread's checkpoints. */
async function openThread(id) {
  if (busy) return;
  thread = id;
  $("turns").replaceChildren();
  closeSource();
  try {
    const states = await threadHistory(id);
    const finals = states.filter((s) => !s.next?.length && s.values?.answer !== undefined && s.values?.question);
    for (const state of finals.reverse()) finishTurn(turnItem(state.values.question), state.values);
  } catch (error) {
    showError($("ask-status"), error);
  }
  refreshThreads();
  $("question").focus();
}

async function ask(question) {
  busy = true;
  $("ask-submit").disabled = true;
  const status = $("ask-status");
  clearStatus(status, "Looking in the lake…");
  let turn = null;
  try {
    if (!thread) {
      thread = (await createThread({ ui: "ask", title: question.slice(0, 80) })).thread_id;
    }
    turn = turnItem(question);
    let live = "";
    let values = null;
    const body = {
      assistant_id: "qa",
      input: { question },
      stream_mode: ["messages-tuple", "updates", "values"],
      context: online ? { online: $("ask-online").checked } : {},
    };
    await streamRun(thread, body, (name, data) => {
      if (name === "messages") {
        const [chunk, meta] = data;
        if (meta?.langgraph_node === "answer" && typeof chunk?.content === "string") {
          live += chunk.content;
          turn.answer.textContent = live;
          status.textContent = "Writing the answer…";
        }
      } else if (name === "updates") {
        if (data.retrieve) status.textContent = `${(data.retrieve.sources || []).length} passage(s) found; writing the answer…`;
        if (data.search_ingest) status.textContent = "Searched the web; writing the answer…";
        if (data.answer) status.textContent = "Checking the citations…";
      } else if (name === "values") {
        values = data;
      }
    });
    finishTurn(turn, values || {});
    clearStatus(status, "");
  } catch (error) {
    if (turn) turn.answer.removeAttribute("aria-busy");
    showError(status, error);
  } finally {
    busy = false;
    $("ask-submit").disabled = false;
    refreshThreads();
  }
}

export function setupAsk(info) {
  online = info.online_allowed;
  $("ask-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const question = $("question").value.trim();
    if (!question || busy) return;
    $("question").value = "";
    ask(question);
  });
  $("question").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      $("ask-form").requestSubmit();
    }
  });
  $("new-thread").addEventListener("click", () => {
    if (busy) return;
    thread = null;
    $("turns").replaceChildren();
    closeSource();
    refreshThreads();
    $("question").focus();
  });
  $("source-close").addEventListener("click", closeSource);
  $("source-card").addEventListener("keydown", (event) => {
    if (event.key === "Escape") closeSource();
  });
  refreshThreads();
}
