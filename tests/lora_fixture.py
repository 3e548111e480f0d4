"""GGUF files written for tests: a real LoRA adapter for the tiny model (so ADAPTER is tested in
llama.cpp), and metadata-only model files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from gguf import GGUFWriter

N_EMBD = 576  # smollm2:135m
N_LAYERS = 30


def write_lora(path: Path, rank: int = 8, scale: float = 0.5, seed: int = 0) -> Path:
    """A rank-`rank` LoRA on every attention query projection of smollm2:135m."""
    rng = np.random.default_rng(seed)
    writer = GGUFWriter(str(path), arch="llama")
    writer.add_string("general.type", "adapter")
    writer.add_string("adapter.type", "lora")
    writer.add_float32("adapter.lora.alpha", float(rank))
    for layer in range(N_LAYERS):
        # ggml shapes: lora_a [n_in, r], lora_b [r, n_out]; numpy shapes are reversed.
        a = (rng.standard_normal((rank, N_EMBD)) * scale).astype(np.float32)
        b = (rng.standard_normal((N_EMBD, rank)) * scale).astype(np.float32)
        writer.add_tensor(f"blk.{layer}.attn_q.weight.lora_a", a)
        writer.add_tensor(f"blk.{layer}.attn_q.weight.lora_b", b)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def write_tiny_gguf(path: Path, arch: str, n_params: int) -> Path:
    """A model GGUF with only metadata and one tensor: enough for `/api/show`, not to load."""
    writer = GGUFWriter(str(path), arch=arch)
    writer.add_context_length(128)
    writer.add_tensor("token_embd.weight", np.zeros(n_params, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
