// LangGraph's HTTP API, as the page uses it: threads, runs streamed as server-sent events,
// thread state and history. The API lives one level above the page (`/terraqore/`), so the
// page works under any mount prefix.

const API = new URL("../", document.baseURI);
const KEY_STORE = "terraqore.key";

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function headers(extra = {}) {
  const key = sessionStorage.getItem(KEY_STORE);
  return key ? { ...extra, Authorization: `Bearer ${key}` } : extra;
}

export function setKey(key) {
  if (key) sessionStorage.setItem(KEY_STORE, key);
  else sessionStorage.removeItem(KEY_STORE);
}

async function failure(response) {
  // A missing or wrong key: the page asks for one (main.js).
  if (response.status === 401) window.dispatchEvent(new Event("terraqore-key"));
  let message = `${response.status} ${response.statusText}`;
  try {
    const body = await response.json();
    message = body.error || body.detail || body.message || message;
  } catch {
    // Not JSON: keep the status line.
  }
  return new ApiError(response.status, typeof message === "string" ? message : JSON.stringify(message));
}

/** One JSON request to the API (a path relative to its root). */
export async function request(path, { method = "GET", body, signal } = {}) {
  const response = await fetch(new URL(path, API), {
    method,
    signal,
    headers: headers(body === undefined ? {} : { "Content-Type": "application/json" }),
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw await failure(response);
  return response.status === 204 ? null : response.json();
}

/** The page's own facts (`/terraqore/api/...`). */
export async function pageInfo(name) {
  const response = await fetch(new URL(`api/${name}`, document.baseURI), { headers: headers() });
  if (!response.ok) throw await failure(response);
  return response.json();
}

export const createThread = (metadata) => request("threads", { method: "POST", body: { metadata } });

export const searchThreads = (metadata, limit = 50) =>
  request("threads/search", {
    method: "POST",
    body: { metadata, limit, sort_by: "updated_at", sort_order: "desc" },
  });

export const threadState = (id) => request(`threads/${encodeURIComponent(id)}/state`);

/** Checkpoints of a thread, newest first. */
export const threadHistory = (id, limit = 200) =>
  request(`threads/${encodeURIComponent(id)}/history`, { method: "POST", body: { limit } });

/** Parse a stream of server-sent events, calling `onEvent(name, data)` for each. */
async function readEvents(response, onEvent) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value.replace(/\r\n/g, "\n");
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      let name = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) name = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      }
      if (!data.length) continue;
      let parsed = data.join("\n");
      try {
        parsed = JSON.parse(parsed);
      } catch {
        // Leave non-JSON data as text.
      }
      onEvent(name, parsed);
    }
  }
}

/**
 * Start a run on a thread and stream it: `body` is LangGraph's run request (assistant_id,
 * input or command, stream_mode, context). Resolves when the run ends or pauses; an
 * `error` event rejects.
 */
export async function streamRun(threadId, body, onEvent, signal) {
  const response = await fetch(new URL(`threads/${encodeURIComponent(threadId)}/runs/stream`, API), {
    method: "POST",
    signal,
    headers: headers({ "Content-Type": "application/json", Accept: "text/event-stream" }),
    body: JSON.stringify({ on_disconnect: "cancel", ...body }),
  });
  if (!response.ok) throw await failure(response);
  let error = null;
  await readEvents(response, (name, data) => {
    if (name === "error") error = new ApiError(500, data?.message || data?.error || String(data));
    else onEvent(name, data);
  });
  if (error) throw error;
}
