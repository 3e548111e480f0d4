"""llama-cpp-python's `Llama`, with what the server needs and the library does not offer.

- **Lazy grammars** in the sampler chain (`llama_sampler_init_grammar_lazy_patterns`):
  the library's chain only takes a grammar enforced from the first token.
- **Drafts per request**: with a `draft_model` the library asks llama.cpp for the logits of
  every prompt position (hundreds of MB for a long prompt and ~25% more prompt compute).
  Only the batches that verify a draft need them, so only those ask; the draft model can
  then be set per request on a runner that agents share.
- **Per-sequence state** save and restore for the prefix cache: `save_state` also copies the
  Python-side logits array, hundreds of MB per call; the sequence's KV state alone is what
  a later prompt with the same prefix needs. Any sequence id: a batched context holds several.
- **Several sequences** in one context (`sequences` > 1): llama.cpp's `n_seq_max`, with one
  unified KV buffer the sequences share cells of (the library does not expose either).

The sampler chain is the library's (penalties, grammar, then greedy or top-k, typical,
top-p, min-p, temperature, dist), without the mirostat and logits-processor options the
server never uses.
"""

from __future__ import annotations

import ctypes
from collections.abc import Sequence
from typing import Any

import llama_cpp
import numpy as np
import numpy.typing as npt
from llama_cpp import Llama
from llama_cpp import _internals as internals

from server.runtime.engine_types import Grammar

_SEQ = 0  # the one sequence a context holds


class ServerLlama(Llama):
    """A `Llama` with lazy grammars, per-request drafts and sequence state copies."""

    def __init__(self, *args: Any, sequences: int = 1, **kwargs: Any) -> None:
        self._sequences = max(1, sequences)
        super().__init__(*args, **kwargs)
        self.draft_limit = 0
        """Longest draft the current request may propose (0 when drafting is off)."""
        self.decode_steps = 0
        """Calls to `eval` so far: fewer than tokens generated when drafts are accepted."""

    @property
    def context_params(self) -> Any:
        """llama.cpp's context parameters (`Llama.__init__` fills them, then makes the context)."""
        return self._context_params

    @context_params.setter
    def context_params(self, params: Any) -> None:
        # `Llama.__init__` assigns the defaults once and sets fields on them before it creates
        # the context: the sequence count goes in here, the only moment it can.
        if self._sequences > 1:
            params.n_seq_max = self._sequences
            params.kv_unified = True
        self._context_params = params

    # -- sampling ---------------------------------------------------------------

    def grammar_sampler(self, grammar: Grammar) -> Any:
        """A new llama.cpp grammar sampler, or NULL when llama.cpp rejects the grammar."""
        gbnf, root = grammar.gbnf.encode("utf-8"), grammar.root.encode("utf-8")
        if not grammar.lazy:
            return llama_cpp.llama_sampler_init_grammar(self._model.vocab, gbnf, root)
        patterns = [p.encode("utf-8") for p in grammar.trigger_patterns]
        tokens = [
            ids[0]
            for ids in (
                self.tokenize(t.encode("utf-8"), add_bos=False, special=True)
                for t in grammar.trigger_texts
            )
            if len(ids) == 1
        ]
        pattern_array = (ctypes.c_char_p * len(patterns))(*patterns)
        token_array = (llama_cpp.llama_token * len(tokens))(*tokens)
        return llama_cpp.llama_sampler_init_grammar_lazy_patterns(
            self._model.vocab, gbnf, root, pattern_array, len(patterns), token_array, len(tokens)
        )

    def _init_sampler(  # type: ignore[override]
        self,
        top_k: int = 40,
        top_p: float = 0.95,
        min_p: float = 0.05,
        typical_p: float = 1.0,
        temp: float = 0.80,
        repeat_penalty: float = 1.0,
        frequency_penalty: float = 0.0,
        presence_penalty: float = 0.0,
        grammar: Grammar | None = None,
        seed: int | None = None,
        **_unused: Any,
    ) -> internals.LlamaSampler:
        sampler = internals.LlamaSampler()
        sampler.add_penalties(
            n_vocab=self._n_vocab,
            penalty_last_n=self.last_n_tokens_size,
            penalty_repeat=repeat_penalty,
            penalty_freq=frequency_penalty,
            penalty_present=presence_penalty,
        )
        if grammar is not None:
            # The runner parsed this grammar already (`check_grammar`): never NULL here.
            llama_cpp.llama_sampler_chain_add(sampler.sampler, self.grammar_sampler(grammar))
        seed = self._seed if seed is None else seed
        if temp < 0.0:
            sampler.add_dist(seed)
        elif temp == 0.0:
            sampler.add_greedy()
        else:
            sampler.add_top_k(top_k)
            sampler.add_typical(typical_p, 1)
            sampler.add_top_p(top_p, 1)
            sampler.add_min_p(min_p, 1)
            sampler.add_temp(temp)
            sampler.add_dist(seed)
        return sampler

    # -- evaluation --------------------------------------------------------------

    def eval(self, tokens: Sequence[int]) -> None:
        """Evaluate tokens; ask for every position's logits only when verifying a draft."""
        self.decode_steps += 1
        self._ctx.kv_cache_seq_rm(-1, self.n_tokens, -1)
        every = self.draft_model is not None and len(tokens) <= self.draft_limit + 1
        for i in range(0, len(tokens), self.n_batch):
            batch = tokens[i : min(len(tokens), i + self.n_batch)]
            n_past = self.n_tokens
            self._batch.set_batch(batch=batch, n_past=n_past, logits_all=every)
            self._ctx.decode(self._batch)
            self.input_ids[n_past : n_past + len(batch)] = batch
            self.n_tokens += len(batch)
            self._requires_eval = False

    # -- sequence state ----------------------------------------------------------

    def held_tokens(self) -> npt.NDArray[np.intc]:
        """The tokens whose KV state the context holds now (a copy)."""
        return np.array(self.input_ids[: self.n_tokens], dtype=np.intc)

    def save_sequence(self, seq: int = _SEQ) -> bytearray:
        """llama.cpp's state of one sequence: the KV cache of its tokens (`held_tokens()`).

        Copied once, straight into the returned buffer (it is megabytes per thousand tokens).
        """
        size = llama_cpp.llama_state_seq_get_size(self._ctx.ctx, seq)
        state = bytearray(size)
        view = (ctypes.c_uint8 * size).from_buffer(state)
        written = llama_cpp.llama_state_seq_get_data(self._ctx.ctx, view, size, seq)
        del view  # release the export, so the buffer may shrink
        del state[written:]
        return state

    def load_sequence(self, seq: int, state: bytearray) -> bool:
        """Put a saved state into sequence `seq` of a batched context; False if refused."""
        view = (ctypes.c_uint8 * len(state)).from_buffer(state)  # read only, not copied
        return bool(llama_cpp.llama_state_seq_set_data(self._ctx.ctx, view, len(state), seq))

    def restore_sequence(self, tokens: npt.NDArray[np.intc], state: bytearray) -> bool:
        """Load a saved sequence state; False (and an empty context) if llama.cpp refuses it."""
        view = (ctypes.c_uint8 * len(state)).from_buffer(state)  # read only, not copied
        if not llama_cpp.llama_state_seq_set_data(self._ctx.ctx, view, len(state), _SEQ):
            self._ctx.kv_cache_seq_rm(-1, 0, -1)
            self.n_tokens = 0
            return False
        self.input_ids[: len(tokens)] = tokens
        self.n_tokens = len(tokens)
        # The restored state has no logits: `generate` decodes at least one token again.
        self._requires_eval = True
        return True
