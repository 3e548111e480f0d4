"""Feeding text to llama.cpp's own grammar sampler, token by token, as sampling would.

Only a small model's vocabulary is loaded (`vocab_only`): no inference runs.
"""

from __future__ import annotations

import ctypes

import llama_cpp

from server.models.catalog import CATALOG
from server.runtime.engine_types import Grammar
from server.runtime.llama_model import ServerLlama


def vocab_only(model: str = "smollm2:135m") -> ServerLlama:
    """A model's tokenizer and vocabulary, without its weights in use."""
    path = CATALOG[model].files[0].locate()
    return ServerLlama(model_path=str(path), vocab_only=True, verbose=False)


def allowed(sampler: object, token: int) -> bool:
    """Whether the grammar sampler lets `token` through now."""
    data = (llama_cpp.llama_token_data * 1)()
    data[0].id, data[0].logit, data[0].p = token, 0.0, 0.0
    arr = llama_cpp.llama_token_data_array(data=data, size=1, selected=-1, sorted=False)
    llama_cpp.llama_sampler_apply(sampler, ctypes.byref(arr))
    return bool(data[0].logit != float("-inf"))


def feed(vocab: ServerLlama, grammar: Grammar, text: str) -> tuple[bool, str | None]:
    """(may the output end here, the first refused piece) after feeding `text` to the grammar."""
    sampler = vocab.grammar_sampler(grammar)
    assert sampler, "llama.cpp rejected the grammar"
    try:
        for token in vocab.tokenize(text.encode(), add_bos=False, special=True):
            if not allowed(sampler, token):
                return False, vocab.detokenize([token]).decode()
            llama_cpp.llama_sampler_accept(sampler, token)
        return allowed(sampler, vocab.token_eos()), None
    finally:
        llama_cpp.llama_sampler_free(sampler)
