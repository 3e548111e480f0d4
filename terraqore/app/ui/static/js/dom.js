// Small DOM helpers. Everything the graphs return is shown as text, never parsed as HTML.

const present = (children) => children.flat(Infinity).filter((c) => c !== undefined && c !== null && c !== false);

/** An element with attributes (`class`, `data-*`, `aria-*`, properties) and children. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name in node && !name.includes("-")) node[name] = value;
    else node.setAttribute(name, value === true ? "" : value);
  }
  const kids = present(children);
  if (kids.length) node.append(...kids);
  return node;
}

/** Replace a node's children (arrays are flattened; null, undefined and false are skipped). */
export function fill(node, ...children) {
  node.replaceChildren(...present(children));
  return node;
}

/** "3 minutes ago" for an age in seconds. */
export function ago(seconds) {
  if (seconds === null || seconds === undefined) return "never";
  const steps = [
    [60, "second"],
    [60, "minute"],
    [24, "hour"],
    [30, "day"],
    [12, "month"],
    [Infinity, "year"],
  ];
  let value = Math.max(0, seconds);
  if (value < 10) return "just now";
  for (const [size, unit] of steps) {
    if (value < size) {
      const n = Math.floor(value);
      return `${n} ${unit}${n === 1 ? "" : "s"} ago`;
    }
    value /= size;
  }
  return "long ago";
}

/** A date-time string from the API as a short local date and time. */
export function when(text) {
  if (!text) return "";
  const date = new Date(text);
  return Number.isNaN(date.getTime()) ? String(text).slice(0, 16) : date.toLocaleString();
}

/** Show an error in a status element (or the page's alert line). */
export function showError(target, error) {
  const node = target || document.getElementById("page-error");
  node.hidden = false;
  node.classList.add("error");
  node.textContent = error instanceof Error ? error.message : String(error);
}

/** Clear a status element. */
export function clearStatus(node, text = "") {
  node.classList.remove("error");
  node.textContent = text;
}

/** Whether a source location is a web address (shown as a link) rather than a path. */
export const isWebAddress = (text) => /^https?:\/\//i.test(text || "");

/** Where a source lives, short: a web address's host, or the path as it is. */
export function place(url) {
  if (!isWebAddress(url)) return url || "";
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}
