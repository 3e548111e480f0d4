// A tiny Python highlighter: comments, strings, keywords, numbers, decorators and the names
// that `def` and `class` introduce. It builds spans with text content, so code stays text.

const KEYWORDS = new Set(
  ("False None True and as assert async await break class continue def del elif else except " +
    "finally for from global if import in is lambda match case nonlocal not or pass raise " +
    "return try while with yield").split(" "),
);
const BUILTINS = new Set(
  ("print len range int str float bool list dict set tuple open isinstance super type " +
    "enumerate zip map filter sorted sum min max abs any all repr ValueError TypeError " +
    "KeyError Exception self").split(" "),
);

const TOKEN = new RegExp(
  [
    String.raw`(?<comment>#[^\n]*)`,
    String.raw`(?<string>[rRbBuUfF]{0,2}(?:"""[\s\S]*?(?:"""|$)|'''[\s\S]*?(?:'''|$)|"(?:\\.|[^"\\\n])*"?|'(?:\\.|[^'\\\n])*'?))`,
    String.raw`(?<decorator>@[A-Za-z_][\w.]*)`,
    String.raw`(?<number>\b(?:0[xXoObB][\da-fA-F_]+|\d[\d_]*(?:\.\d[\d_]*)?(?:[eE][+-]?\d+)?j?)\b)`,
    String.raw`(?<name>[A-Za-z_]\w*)`,
  ].join("|"),
  "g",
);

const span = (kind, text) => {
  const node = document.createElement("span");
  node.className = `tok-${kind}`;
  node.textContent = text;
  return node;
};

/** Python source as a fragment of highlighted spans (other languages: plain text). */
export function highlight(code, path = "") {
  const fragment = document.createDocumentFragment();
  if (!/\.pyi?$/.test(path)) {
    fragment.append(code);
    return fragment;
  }
  let last = 0;
  let afterDef = false;
  for (const match of code.matchAll(TOKEN)) {
    if (match.index > last) fragment.append(code.slice(last, match.index));
    const text = match[0];
    const groups = match.groups;
    let kind = null;
    if (groups.comment) kind = "comment";
    else if (groups.string) kind = "string";
    else if (groups.decorator) kind = "decorator";
    else if (groups.number) kind = "number";
    else if (afterDef) kind = "def";
    else if (KEYWORDS.has(text)) kind = "kw";
    else if (BUILTINS.has(text)) kind = "builtin";
    afterDef = groups.name !== undefined && (text === "def" || text === "class");
    fragment.append(kind ? span(kind, text) : text);
    last = match.index + text.length;
  }
  fragment.append(code.slice(last));
  return fragment;
}
