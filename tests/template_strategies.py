"""Hypothesis strategies for Go TEMPLATEs and Modelfiles: real shapes and hostile ones.

Templates are built from the pieces Ollama's library uses (fields, `range .Messages`,
`if`/`else if`/`else`, `eq ne and or not`, trim markers, comments) plus what must be refused
(nested ranges, `.Tools`, `template`, unknown fields, unbalanced blocks) and big text.
"""

from __future__ import annotations

from hypothesis import strategies as st

FIELDS = [".System", ".Prompt", ".Response", ".Role", ".Content", "$.System", ".Messages"]
BAD = [
    "{{ .Tools }}",
    '{{ template "x" }}',
    "{{ .Nope }}",
    "{{ end }}",
    "{{ if }}",
    "{{ $x := 1 }}",
    "{{",
]
CONDITIONS = st.one_of(
    st.sampled_from(FIELDS[:6]),
    st.tuples(
        st.sampled_from(["eq", "ne"]),
        st.sampled_from(FIELDS[:5]),
        st.sampled_from(['"user"', '"system"', '"assistant"']),
    ).map(" ".join),
    st.tuples(
        st.sampled_from(["and", "or"]), st.sampled_from(FIELDS[:5]), st.sampled_from(FIELDS[:5])
    ).map(" ".join),
    st.sampled_from(FIELDS[:5]).map(lambda f: f"not {f}"),
)
TEXT = st.one_of(
    st.text(alphabet=st.characters(blacklist_characters="{}"), max_size=30),
    st.integers(1, 200_000).map(lambda n: "x" * n),  # big literal text
)


def _action(inner: str, draw: st.DrawFn) -> str:
    left = "{{- " if draw(st.booleans()) else "{{ "
    right = " -}}" if draw(st.booleans()) else " }}"
    return f"{left}{inner}{right}"


@st.composite
def template_body(draw: st.DrawFn, depth: int = 0) -> str:
    parts = []
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["text", "field", "if", "range", "comment", "bad"]))
        if kind == "text":
            parts.append(draw(TEXT))
        elif kind == "field":
            parts.append(_action(draw(st.sampled_from(FIELDS[:6])), draw))
        elif kind == "comment":
            parts.append("{{/* " + draw(st.text(alphabet="abc ", max_size=10)) + " */}}")
        elif kind == "bad":
            parts.append(draw(st.sampled_from(BAD)))
        elif depth < 3:
            head = (
                f"if {draw(CONDITIONS)}"
                if kind == "if"
                else draw(st.sampled_from(["range .Messages", "range $.Messages"]))
            )
            body = draw(template_body(depth + 1))
            orelse = ""
            if kind == "if" and draw(st.booleans()):
                orelse = (
                    _action(f"else if {draw(CONDITIONS)}", draw)
                    if draw(st.booleans())
                    else _action("else", draw)
                )
                orelse += draw(template_body(depth + 1))
            parts.append(_action(head, draw) + body + orelse + _action("end", draw))
    return "".join(parts)


MESSAGES = st.lists(
    st.fixed_dictionaries(
        {
            "role": st.sampled_from(["system", "user", "assistant", "tool"]),
            "content": st.one_of(
                st.text(max_size=50), st.integers(0, 100_000).map(lambda n: "m" * n)
            ),
        }
    ),
    max_size=40,
).flatmap(
    lambda msgs: st.integers(1, 300).map(lambda k: msgs * k if len(msgs) * k <= 3000 else msgs)
)

PARAMS = st.sampled_from(
    [
        "temperature 0.2",
        "num_ctx 1024",
        'stop "<|im_end|>"',
        "seed 7",
        "temperature hot",
        "num_ctx -5",
        "unknown_param 1",
        "top_k",
    ]
)


@st.composite
def modelfile_text(draw: st.DrawFn) -> str:
    """A Modelfile: FROM, then any of TEMPLATE, SYSTEM, PARAMETER, MESSAGE, LICENSE, junk."""
    from_lines = ["FROM smollm2:135m"] * 6 + ["from smollm2:135m", "FROM", "# no from"]
    lines = [draw(st.sampled_from(from_lines))]
    for _ in range(draw(st.integers(0, 6))):
        kinds = ["template"] * 3 + ["system", "parameter", "message", "license", "junk"]
        kind = draw(st.sampled_from(kinds))
        if kind == "template":
            lines.append('TEMPLATE """' + draw(template_body()) + '"""')
        elif kind == "system":
            lines.append('SYSTEM """' + draw(st.text(max_size=200)).replace('"""', "") + '"""')
        elif kind == "parameter":
            lines.append("PARAMETER " + draw(PARAMS))
        elif kind == "message":
            lines.append(
                f"MESSAGE {draw(st.sampled_from(['user', 'assistant', 'robot']))} {draw(st.text(max_size=30))!r}"
            )
        elif kind == "license":
            lines.append('LICENSE """MIT"""')
        else:
            lines.append(draw(st.text(max_size=40)))
    return "\n".join(lines)
