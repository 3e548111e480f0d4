// The page's entry point: tabs (keyboard-navigable, kept in the address's #fragment), the API
// key prompt when the server needs one, and the three tabs' set-up.

import { pageInfo, setKey } from "./api.js";
import { setupAsk } from "./ask.js";
import { setupBuild } from "./build.js";
import { setupLake, showLake } from "./lake.js";
import { showError } from "./dom.js";

const TABS = ["ask", "build", "lake"];
const $ = (id) => document.getElementById(id);

function selectTab(name, focus = false) {
  if (!TABS.includes(name)) name = "ask";
  for (const tab of TABS) {
    const selected = tab === name;
    const button = $(`tab-${tab}`);
    button.setAttribute("aria-selected", String(selected));
    button.tabIndex = selected ? 0 : -1;
    $(`panel-${tab}`).hidden = !selected;
  }
  if (focus) $(`tab-${name}`).focus();
  if (location.hash !== `#${name}`) history.replaceState(null, "", `#${name}`);
  if (name === "lake") showLake();
}

function setupTabs() {
  const list = $("tabs");
  list.addEventListener("click", (event) => {
    const tab = event.target.closest("[role=tab]");
    if (tab) selectTab(tab.id.slice(4));
  });
  list.addEventListener("keydown", (event) => {
    const current = TABS.indexOf(document.activeElement.id.slice(4));
    if (current < 0) return;
    const moves = { ArrowRight: current + 1, ArrowLeft: current - 1, Home: 0, End: TABS.length - 1 };
    if (!(event.key in moves)) return;
    event.preventDefault();
    selectTab(TABS[(moves[event.key] + TABS.length) % TABS.length], true);
  });
  window.addEventListener("hashchange", () => selectTab(location.hash.slice(1)));
}

function askForKey() {
  const form = $("key-form");
  if (!form.hidden) return;
  form.hidden = false;
  $("key-input").focus();
  form.addEventListener(
    "submit",
    (event) => {
      event.preventDefault();
      setKey($("key-input").value.trim());
      location.reload();
    },
    { once: true },
  );
}

async function start() {
  setupTabs();
  let info;
  try {
    info = await pageInfo("info");
  } catch (error) {
    showError(null, error);
    return;
  }
  for (const node of document.querySelectorAll(".online-only")) node.hidden = !info.online_allowed;
  window.addEventListener("terraqore-key", askForKey);
  if (info.key_required && !sessionStorage.getItem("terraqore.key")) askForKey();
  setupAsk(info);
  setupBuild(info);
  setupLake(info);
  selectTab(location.hash.slice(1) || "ask");
  document.body.dataset.ready = "true";
}

start();
