"""What a GGUF model can do: `completion`, `tools`, `embedding` (as `/api/show` reports).

Other weight formats answer for themselves (see `server.runtime.runners`).
"""

from __future__ import annotations

from server.models.gguf_info import read_gguf
from server.models.manifest import ModelRecord

# GGUF architectures that are encoders: they embed, they do not chat.
EMBEDDING_ARCHITECTURES = {"bert", "nomic-bert", "nomic-bert-moe", "jina-bert-v2", "t5encoder"}


def gguf_chat_template(record: ModelRecord) -> str:
    """The model's prompt template: its TEMPLATE layer, else the GGUF's chat template."""
    if record.template:
        return record.template
    meta, _ = read_gguf(record.weights_file)
    return str(meta.get("tokenizer.chat_template") or "")


def gguf_capabilities(record: ModelRecord) -> list[str]:
    """Capabilities of a GGUF model, in Ollama's vocabulary."""
    family = str(record.config.get("model_family", ""))
    if family in EMBEDDING_ARCHITECTURES:
        return ["embedding"]
    caps = ["completion"]
    if record.template:
        has_tools = ".Tools" in record.template
    elif "template_has_tools" in record.config:
        has_tools = bool(record.config["template_has_tools"])
    else:  # a model registered elsewhere (e.g. by Ollama): read the GGUF once
        has_tools = "tools" in gguf_chat_template(record)
    if has_tools:
        caps.append("tools")
    return caps
