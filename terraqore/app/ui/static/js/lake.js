// The Lake tab: sources and their freshness (the app's read-only route), recent additions
// and their errors (the `ingest` graph's threads), and a form that runs the `ingest` graph
// with its progress.

import { createThread, pageInfo, searchThreads, streamRun } from "./api.js";
import { ago, clearStatus, el, showError, when } from "./dom.js";

const $ = (id) => document.getElementById(id);
let busy = false;
let online = false;

// The ingest graph's custom stream names its steps (lake/operations.py, retrievers/indexer.py).
const STEPS = { reading: "Reading", silver: "Chunking", embedding: "Embedding", "full-text index": "Full-text index" };

function sourceRow(s) {
  return el(
    "tr",
    { class: s.last_error ? "has-error" : null },
    el("td", {}, el("code", { text: s.uri })),
    el("td", { text: s.kind }),
    el("td", { text: s.topic || "" }),
    el("td", { class: "num", text: String(s.items) }),
    el("td", { class: "num", text: String(s.chunks) }),
    el("td", { text: s.newest_item ? ago(s.stale_seconds) : "nothing yet", title: s.newest_item || "" }),
    el("td", { class: s.last_error ? "bad" : "muted", text: s.last_error || "none" }),
  );
}

async function refreshStatus() {
  const summary = $("lake-summary");
  try {
    const facts = await pageInfo("lake");
    const body = $("lake-sources").querySelector("tbody");
    body.replaceChildren(...facts.sources.map(sourceRow));
    if (!facts.sources.length) body.append(el("tr", {}, el("td", { colspan: "7", class: "muted", text: "The lake is empty." })));
    summary.textContent = facts.exists
      ? `${facts.bronze_items} item(s) as ${facts.silver_chunks} chunk(s); the newest arrived ${ago(facts.stale_seconds)}.` +
        (facts.errors.length ? ` ${facts.errors.length} source(s) failed on their last run.` : "")
      : "There is no lake yet: add a folder to start one.";
    summary.classList.remove("error");
  } catch (error) {
    showError(summary, error);
  }
}

function runItem(t) {
  const v = t.values || {};
  const outcome = v.error
    ? el("span", { class: "bad", text: v.error })
    : v.added !== undefined
      ? el("span", { text: `${v.added} new, ${v.already_present} already there, ${v.chunks} chunk(s), ${v.indexed ?? 0} indexed` })
      : el("span", { class: "muted", text: t.status });
  return el(
    "li",
    { class: v.error ? "has-error" : null },
    el("code", { text: v.source || t.metadata?.title || "?" }),
    " ",
    el("span", { class: "muted", text: when(t.updated_at) }),
    el("br"),
    outcome,
  );
}

async function refreshRuns() {
  try {
    const threads = await searchThreads({ ui: "lake" }, 10);
    $("lake-runs").replaceChildren(...threads.map(runItem));
    if (!threads.length) $("lake-runs").append(el("li", { class: "muted", text: "Nothing added from this page yet." }));
  } catch (error) {
    showError(null, error);
  }
}

function showProgress({ step, done, total }) {
  $("lake-progress").hidden = false;
  $("lake-step").textContent = `${STEPS[step] || step}: ${done}${total ? ` of ${total}` : ""}`;
  const bar = $("lake-bar");
  if (total) {
    bar.max = total;
    bar.value = done;
  } else {
    bar.removeAttribute("value"); // indeterminate: the total is not known while reading
  }
}

async function addSource(source, topic) {
  busy = true;
  $("lake-submit").disabled = true;
  const result = $("lake-result");
  clearStatus(result, "Adding…");
  $("lake-bar").removeAttribute("value");
  $("lake-step").textContent = "Starting";
  $("lake-progress").hidden = false;
  try {
    const thread = (await createThread({ ui: "lake", title: source.slice(0, 200) })).thread_id;
    let values = {};
    const context = online ? { online: $("lake-online").checked } : {};
    await streamRun(
      thread,
      { assistant_id: "ingest", input: { source, topic: topic || null }, stream_mode: ["custom", "values"], context },
      (name, data) => {
        if (name === "custom" && data?.step) showProgress(data);
        else if (name === "values") values = data;
      },
    );
    if (values.error) {
      showError(result, values.error);
    } else {
      result.textContent =
        `Added ${values.added} new item(s) (${values.already_present} already there) as ` +
        `${values.chunks} chunk(s); ${values.indexed ?? 0} chunk(s) indexed.`;
    }
  } catch (error) {
    showError(result, error);
  } finally {
    busy = false;
    $("lake-submit").disabled = false;
    $("lake-progress").hidden = true;
    refreshStatus();
    refreshRuns();
  }
}

export function setupLake(info) {
  online = info.online_allowed;
  $("lake-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const source = $("lake-source").value.trim();
    if (!source || busy) return;
    addSource(source, $("lake-topic").value.trim());
  });
  $("lake-refresh").addEventListener("click", () => {
    refreshStatus();
    refreshRuns();
  });
}

/** Called when the tab is shown: the lake may have changed since. */
export function showLake() {
  refreshStatus();
  refreshRuns();
}
