"""Small corpora for the lake tests."""

from __future__ import annotations

from pathlib import Path

LIGHTHOUSE = (
    "The lighthouse stands on a rocky island at the mouth of the harbour zebraquokka. It was built "
    "in 1850 and guided ships through the narrow channel for more than a century. Today it is a "
    "museum, and visitors climb its spiral stairs to see the lamp and the view of the coast. "
)


def make_corpus(folder: Path) -> Path:
    """Files that exercise every silver rule: unique, duplicate, near-duplicate, short, German."""
    folder.mkdir(parents=True, exist_ok=True)
    long_text = "\n\n".join(
        f"Section {i}. " + LIGHTHOUSE + f"In year {1850 + i} the keeper wrote in the log book that "
        "the weather was calm and the ships passed safely through the channel at night."
        for i in range(12)
    )
    (folder / "lighthouse.md").write_text("# The lighthouse\n\n" + long_text)
    (folder / "copy.md").write_text("# The lighthouse\n\n" + long_text.replace("\n\n", "\n\n\n"))
    (folder / "near.md").write_text("# The lighthouse\n\n" + long_text.replace("calm", "stormy", 1))
    (folder / "river.txt").write_text(
        "The river runs through the old town and past the mill, where the miller ground grain for "
        "the bakers of the market square. In spring the water rises and the meadows flood, and the "
        "children of the town watch the boats that carry timber down to the sea. " * 3
    )
    (folder / "short.txt").write_text("Too short to keep.")
    (folder / "german.txt").write_text(
        "Der Leuchtturm steht auf einer Insel und ist seit vielen Jahren ein Museum, das von den "
        "Besuchern gern besucht wird, die mit dem Boot kommen und die Treppe zu der Lampe "
        "hinaufsteigen, um die Küste zu sehen und die Schiffe auf dem Meer zu beobachten. " * 2
    )
    return folder


def minimal_pdf(text: str) -> bytes:
    """A one-page PDF holding `text` (built by hand: no PDF writer is needed)."""
    stream = f"BT /F1 10 Tf 20 700 Td ({text.replace('(', '').replace(')', '')}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for i, obj in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n".encode() + obj + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    return out
