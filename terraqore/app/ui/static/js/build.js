// The Build tab: a task to the `studio` graph, each agent's steps and tokens as they stream,
// the plan approval interrupt (Approve, feedback, or stop: `Command(resume=...)`), and at
// the end the plan, the files, the test report, the security review and the sources.

import { createThread, streamRun, threadState } from "./api.js";
import { clearStatus, el, fill, place, showError } from "./dom.js";
import { highlight } from "./highlight.js";

const $ = (id) => document.getElementById(id);
const LIVE_CHARS = 1200;
let thread = null;
let busy = false;
let context = {};

/** What a finished step did, in a few words, like `terraqore build` prints. */
function summary(node, update) {
  const count = (xs) => (xs || []).length;
  switch (node) {
    case "retrieve":
      return `${count(update.sources)} source(s) from the lake`;
    case "search_ingest":
      return update.searched_web ? "searched the web" : "the web search failed";
    case "idea":
      return update.idea?.title || "";
    case "planner":
      return update.plan ? `${count(update.plan.steps)} step(s); files ${update.plan.files.map((f) => f.path).join(", ")}` : "";
    case "approve_plan":
      if (update.approved !== false) return "approved";
      return update.plan_feedback ? "sent back with feedback" : "rejected";
    case "coder": {
      const files = Object.keys(update.files || {}).sort().join(", ") || "nothing";
      const fresh = (update.candidates || []).filter((c) => !c.validation);
      const fixes = fresh.filter((c) => c.origin === "fix" || c.origin === "security").length;
      if (fresh.length < 2) return `wrote ${files}`;
      return fixes ? `wrote a fix and ${fresh.length - fixes} more version(s) of ${files}` : `wrote ${fresh.length} versions of ${files}`;
    }
    case "validator":
      return update.designed_tests ? `designed ${count(update.designed_tests)} test(s)` : "kept the tests";
    case "run_tests": {
      const v = update.validation || {};
      const examples = v.stated_run ? ` (the task's examples: ${v.stated_passed}/${v.stated_run})` : "";
      const line = `${v.passed ? "passed" : "failing"}: ${v.tests_passed ?? 0}/${v.tests_run ?? 0} in ${v.seconds ?? "?"} s${examples}`;
      const pool = count(update.candidates);
      const kept = pool > 1 ? `${line}, kept candidate #${update.selected} of ${pool}` : line;
      return update.widen ? `${kept}; the coder writes its other versions` : kept;
    }
    case "security_scan":
      return `${count(update.security?.findings)} finding(s)`;
    case "security":
      return `${update.security?.verdict} (${count(update.security?.findings)} finding(s))`;
    case "report":
      return "written";
    default:
      return "";
  }
}

const NAMES = {
  retrieve: "Retrieval",
  search_ingest: "Web search",
  idea: "Idea",
  planner: "Planner",
  approve_plan: "Your approval",
  coder: "Coder",
  validator: "Validator",
  run_tests: "Tests in the sandbox",
  security_scan: "Bandit",
  security: "Security",
  report: "Report",
};

function addStep(node, update, tokens) {
  const tokenNote = tokens ? ` · ${tokens} token(s)` : "";
  $("steps").append(
    el(
      "li",
      { class: "step", "data-node": node },
      el("span", { class: "step-name", text: NAMES[node] || node }),
      el("span", { text: `: ${summary(node, update)}${tokenNote}` }),
    ),
  );
}

function planView(plan) {
  if (!plan) return el("p", { text: "No plan." });
  return el(
    "div",
    { class: "plan" },
    el("h3", { text: "Files" }),
    el("ul", {}, plan.files.map((f) => el("li", {}, el("code", { text: f.path }), ` ${f.purpose}`))),
    el("h3", { text: "Steps" }),
    el("ol", {}, plan.steps.map((s) => el("li", { text: s }))),
    plan.acceptance?.length ? el("h3", { text: "Done when" }) : null,
    plan.acceptance?.length ? el("ul", {}, plan.acceptance.map((s) => el("li", { text: s }))) : null,
    plan.tests?.length ? el("h3", { text: "Tests to write" }) : null,
    plan.tests?.length ? el("ul", {}, plan.tests.map((s) => el("li", { text: s }))) : null,
  );
}

function filesView(title, files) {
  const paths = Object.keys(files || {}).sort();
  if (!paths.length) return null;
  return el(
    "section",
    { class: "files", "aria-label": title },
    el("h3", { text: title }),
    paths.map((path) =>
      el(
        "details",
        { open: true, class: "file" },
        el("summary", {}, el("code", { text: path })),
        el("pre", { tabindex: "0", "aria-label": `Contents of ${path}` }, el("code", { class: "hl" }, highlight(files[path], path))),
      ),
    ),
  );
}

function testsView(v) {
  if (!v || v.tests_run === undefined) return el("p", { text: "The tests did not run." });
  return el(
    "div",
    {},
    el("p", { class: v.passed ? "good" : "bad", text: `${v.passed ? "Passed" : "Failing"}: ${v.tests_passed} of ${v.tests_run} test(s) in ${v.seconds} s` }),
    el("p", { class: "muted", text: `Sandbox: ${v.sandbox || "none"}` }),
    v.failures?.length ? el("ul", {}, v.failures.map((f) => el("li", { text: typeof f === "string" ? f : JSON.stringify(f) }))) : null,
    v.output ? el("details", {}, el("summary", { text: "pytest output" }), el("pre", { tabindex: "0" }, el("code", { text: v.output }))) : null,
  );
}

function securityView(s) {
  if (!s?.verdict) return el("p", { text: "Not reviewed." });
  const findings = s.findings || [];
  return el(
    "div",
    {},
    el("p", { class: s.verdict === "pass" ? "good" : "bad", text: `Verdict: ${s.verdict}` }),
    findings.length
      ? el(
          "div",
          { class: "table-wrap" },
          el(
            "table",
            {},
            el("caption", { text: "Findings" }),
            el("thead", {}, el("tr", {}, ["Severity", "Where", "Issue", "Found by"].map((h) => el("th", { scope: "col", text: h })))),
            el("tbody", {}, findings.map((f) => el("tr", {}, [f.severity, f.location, f.issue, f.source].map((x) => el("td", { text: x ?? "" }))))),
          ),
        )
      : el("p", { text: "No findings." }),
  );
}

function usageView(usage) {
  const byAgent = {};
  for (const u of usage || []) {
    const row = (byAgent[u.agent] ||= { model: u.model, calls: 0, prompt: 0, output: 0, seconds: 0 });
    row.calls += 1;
    row.prompt += u.prompt_tokens;
    row.output += u.output_tokens;
    row.seconds += u.seconds;
  }
  const rows = Object.entries(byAgent);
  if (!rows.length) return null;
  return el(
    "div",
    { class: "table-wrap" },
    el(
      "table",
      {},
      el("caption", { text: "Tokens by agent" }),
      el("thead", {}, el("tr", {}, ["Agent", "Model", "Calls", "Prompt", "Output", "Seconds"].map((h) => el("th", { scope: "col", text: h })))),
      el("tbody", {}, rows.map(([agent, r]) => el("tr", {}, [agent, r.model, r.calls, r.prompt, r.output, r.seconds.toFixed(1)].map((x) => el("td", { text: String(x) }))))),
    ),
  );
}

function showResult(values) {
  const box = $("build-result");
  const section = (title, ...content) => el("section", { class: "result-part" }, el("h2", { text: title }), ...content);
  fill(
    box,
    values.approved === false ? el("p", { class: "bad", text: "The run stopped at the plan." }) : null,
    section("Plan", planView(values.plan)),
    section("Files", filesView("Project", values.files) || el("p", { text: "No files." }), filesView("Tests", values.test_files)),
    section("Test report", testsView(values.validation)),
    section("Security review", securityView(values.security)),
    section("Sources", sourcesView(values.sources)),
    usageView(values.usage),
    (values.notes || []).map((n) => el("p", { class: "note", text: n })),
  );
  box.hidden = false;
}

function sourcesView(sources) {
  if (!sources?.length) return el("p", { text: "No sources from the lake." });
  return el(
    "ol",
    { class: "build-sources" },
    sources.map((s) =>
      el(
        "li",
        { value: s.n },
        el(
          "details",
          {},
          el("summary", {}, `${s.title || "(untitled)"} `, el("span", { class: "muted", text: place(s.url) })),
          el("blockquote", { text: s.snippet || "" }),
        ),
      ),
    ),
  );
}

/** Stream one leg of the run (until it ends or pauses at the plan). */
async function runLeg(body) {
  const working = $("build-working");
  const live = $("build-live");
  const tokens = {};
  let text = "";
  let interrupt = null;
  await streamRun(thread, { assistant_id: "studio", stream_mode: ["updates", "messages-tuple"], context, ...body }, (name, data) => {
    if (name === "messages") {
      const [chunk, meta] = data;
      const node = meta?.langgraph_node;
      if (node && typeof chunk?.content === "string" && chunk.content) {
        tokens[node] = (tokens[node] || 0) + 1;
        working.textContent = `${NAMES[node] || node} is writing: ${tokens[node]} token(s)`;
        // The tail of what the agent writes, as it writes it (kept short: files can be long).
        text = (text + chunk.content).slice(-LIVE_CHARS);
        live.textContent = text;
        live.hidden = false;
      }
    } else if (name === "updates") {
      for (const [node, update] of Object.entries(data)) {
        if (node === "__interrupt__") interrupt = update[0]?.value;
        else if (update && typeof update === "object") addStep(node, update, tokens[node]);
        else addStep(node, {}, tokens[node]);
      }
      working.textContent = "";
      text = "";
      live.hidden = true;
    }
  });
  live.hidden = true;
  return interrupt;
}

async function run(body) {
  busy = true;
  $("build-submit").disabled = true;
  const working = $("build-working");
  clearStatus(working, "Starting…");
  try {
    const interrupt = await runLeg(body);
    if (interrupt) {
      $("approval-plan").replaceChildren(planView(interrupt.plan));
      $("approval").hidden = false;
      $("approval-title").focus();
      working.textContent = "Waiting for your decision on the plan.";
      return;
    }
    const state = await threadState(thread);
    showResult(state.values);
    working.textContent = "Done.";
  } catch (error) {
    showError(working, error);
  } finally {
    busy = false;
    $("build-submit").disabled = false;
  }
}

function resume(decision) {
  if (busy) return;
  $("approval").hidden = true;
  $("feedback").value = "";
  run({ command: { resume: decision } });
}

export function setupBuild(info) {
  $("build-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const task = $("task").value.trim();
    if (!task || busy) return;
    context = { approve_plan: $("build-approve").checked };
    if (info.online_allowed) context.online = $("build-online").checked;
    $("steps").replaceChildren();
    $("approval").hidden = true;
    $("build-result").hidden = true;
    try {
      thread = (await createThread({ ui: "build", title: task.slice(0, 80) })).thread_id;
    } catch (error) {
      showError($("build-working"), error);
      return;
    }
    run({ input: { task } });
  });
  $("task").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) $("build-form").requestSubmit();
  });
  $("approve").addEventListener("click", () => resume(true));
  $("reject").addEventListener("click", () => resume(false));
  $("send-feedback").addEventListener("click", () => {
    const text = $("feedback").value.trim();
    if (text) resume(text);
    else $("feedback").focus();
  });
}
