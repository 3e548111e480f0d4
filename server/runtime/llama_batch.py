"""Continuous batching: the sequences of one runner decode together in one llama.cpp context.

One decoder thread owns the context. Requests hand it a `SeqJob` and read its events
(`Started`, `Token`, `Finished`, `Failed`) from the job's queue; the text (stop strings, utf-8)
is made on the request's own thread.

- Each step is one `llama_decode` batch: the last sampled token of every decoding sequence
  (with its prompt-lookup draft, if it asked for one), then prompt chunks of the sequences
  still being prefilled, up to `n_batch` tokens. A prompt longer than that takes several steps,
  while the others go on decoding.
- A new sequence joins at the next step; a finished one leaves at once, its KV state saved
  in the prefix cache and its cells removed (kept when there is no prefix cache); a
  cancelled or failed one has its cells removed.
- Who gets a sequence is the scheduler's business (interactive requests before batch-job
  lines); here jobs join in the order they came, and prompts are prefilled interactive ones
  first, then batch-job lines', each kind in the order it joined.
- Prefix reuse, best first: the cells of another sequence in the context (copied with
  `seq_cp`, which in a unified KV cache shares the cells, no bytes copied), this sequence
  id's own leftovers (no prefix cache), or a saved state from the prefix cache. A joiner
  whose prompt shares a long prefix with a sequence still prefilling it waits for that
  prefill and then copies it: three identical prompts sent at once evaluate the prompt once.
- When the KV cache is full (`llama_decode` returns 1), finished sequences' leftover cells
  go first; then prompts being prefilled wait for room (or, alone, fail with a clear error);
  then the youngest decoding sequence ends with that error. No other sequence is lost.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import llama_cpp
import numpy as np
from llama_cpp import _internals as internals
from llama_cpp.llama_speculative import LlamaPromptLookupDecoding

from server.errors import ServiceUnavailable
from server.runtime.llama_model import ServerLlama
from server.runtime.prefix_cache import (
    MIN_PREFIX_TOKENS,
    MIN_RESTORE_TOKENS,
    PrefixCache,
    SavedState,
    common_prefix,
)

log = logging.getLogger("terraqore.server")

_MAX_DRAFT = 16
"""Longest prompt-lookup draft per sequence and step (bounds the batch)."""


@dataclass
class Started:
    """The sequence was admitted: how much of its prompt it reuses, and from where."""

    cached_tokens: int
    prefix: str


@dataclass
class Token:
    """A sampled token (never an end-of-generation token)."""

    token: int


@dataclass
class Finished:
    """The sequence left the batch: `stop` (end of generation), `length` or `cancel`."""

    reason: str


@dataclass
class Failed:
    """The sequence was ended by an error (the KV cache full, a failed decode)."""

    error: Exception


Event = Started | Token | Finished | Failed


@dataclass(eq=False)
class SeqJob:
    """One generation in the batch: what it asks, and the decoder's state of it."""

    prompt: list[int]
    sampler: internals.LlamaSampler
    limit: int
    """Tokens to generate at most (the request's num_predict within its context)."""
    lookup: int = 0
    """Prompt-lookup draft length (0: no drafts)."""
    cancel: threading.Event = field(default_factory=threading.Event)
    """Set when the request is cancelled (its client gone): the job leaves, its cells go."""
    stopped: bool = False
    """Set by the request when it needs no more tokens (a stop string): the job leaves and
    its cells stay, as a finished one's do."""
    events: queue.SimpleQueue[Event] = field(default_factory=queue.SimpleQueue)
    low_priority: bool = False
    """A batch-job line: its prompt chunks go after every interactive prompt's."""
    drafted: int = 0
    """Generated tokens that came from accepted drafts."""
    # -- the decoder's own state ------------------------------------------------
    seq: int = -1
    pos: int = 0
    """Tokens of this sequence in the KV cache (the next token's position)."""
    pending: list[int] = field(default_factory=list)
    """Prompt tokens still to evaluate."""
    last: int = -1
    """The sampled token to feed next (-1 while prefilling)."""
    produced: int = 0
    history: list[int] = field(default_factory=list)
    """Prompt and generated tokens (what drafts are looked up in)."""
    joined: float = 0.0
    parked_at: int = -1
    """`BatchDecoder.ends` when it was parked for room (-1: never): it joins again only after
    a sequence has ended, which frees cells."""


class BatchDecoder:
    """The decoder thread of one batched llama.cpp context with `sequences` sequence ids."""

    def __init__(self, llm: ServerLlama, sequences: int, prefix_cache: PrefixCache | None) -> None:
        self.llm = llm
        self.sequences = sequences
        self.prefix_cache = prefix_cache
        self.n_batch = llm.n_batch
        self._ctx = llm._ctx.ctx
        self._mem = llama_cpp.llama_get_memory(self._ctx)
        self._vocab = llm._model.vocab
        self._batch = llama_cpp.llama_batch_init(self.n_batch, 0, 1)
        self._held: list[list[int]] = [[] for _ in range(sequences)]
        """Tokens whose KV cells each sequence id holds (a finished one's, without a prefix
        cache, stay until the id is used again)."""
        self._active: dict[int, SeqJob] = {}
        self._waiting: list[SeqJob] = []
        self._cond = threading.Condition()
        self._closed = False
        self.steps = 0
        """Decode calls so far (tests and metrics)."""
        self.ends = 0
        """Sequences that have left the batch so far."""
        self._thread = threading.Thread(target=self._loop, name="llama-batch", daemon=True)
        self._thread.start()

    # -- the request side ---------------------------------------------------------

    def submit(self, job: SeqJob) -> None:
        """Queue a job; it joins the batch at the next step."""
        job.history = list(job.prompt)
        job.joined = time.monotonic()
        with self._cond:
            if self._closed:
                raise ServiceUnavailable("the model is unloading; retry")
            self._waiting.append(job)
            self._cond.notify()

    def close(self) -> None:
        """Stop the thread (jobs still in the batch end with an error) and free the batch."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._cond.notify()
        self._thread.join()
        llama_cpp.llama_batch_free(self._batch)

    def running(self) -> bool:
        """Whether the decoder thread is alive (a request waiting on it checks)."""
        return self._thread.is_alive()

    def held(self, seq: int) -> int:
        """Cells sequence `seq` holds in the KV cache now (tests: a cancelled one holds none)."""
        return int(llama_cpp.llama_memory_seq_pos_max(self._mem, seq)) + 1

    # -- the decoder thread -------------------------------------------------------

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._closed and not self._waiting and not self._active:
                    self._cond.wait()
                if self._closed:
                    break
            try:
                self._step()
            except Exception as exc:  # a bug must not leave requests waiting forever
                for job in [*self._active.values(), *self._take_waiting()]:
                    self._end(job, Failed(exc))
        for job in [*self._active.values(), *self._take_waiting()]:
            self._end(job, Failed(ServiceUnavailable("the model was unloaded; retry")))

    def _take_waiting(self) -> list[SeqJob]:
        with self._cond:
            jobs, self._waiting = self._waiting, []
        return jobs

    def _step(self) -> None:
        for job in list(self._active.values()):
            if job.cancel.is_set():
                self._end(job, Finished("cancel"))
            elif job.stopped:
                self._end(job, Finished("stop"))
        self._admit()
        if not self._active:
            # Everything waiting waits on something that will not come now: wait for work.
            with self._cond:
                if self._waiting and not self._closed:
                    self._cond.wait(0.05)
            return
        entries = self._fill()
        if not entries:
            return
        ret = llama_cpp.llama_decode(self._ctx, self._batch)
        self.steps += 1
        while ret == 1:  # no room in the KV cache: nothing was evaluated
            entries = self._make_room(entries)
            if not entries:
                return
            ret = llama_cpp.llama_decode(self._ctx, self._batch)
        if ret != 0:
            error = RuntimeError(f"llama_decode failed ({ret})")
            for job, _, _ in entries:
                self._end(job, Failed(error))
            return
        self._sample(entries)

    # -- joining ----------------------------------------------------------------

    def _admit(self) -> None:
        """Give free sequence ids to waiting jobs, in the order they came."""
        with self._cond:
            waiting = list(self._waiting)
        for job in waiting:
            if job.cancel.is_set() or job.stopped:
                self._remove_waiting(job)
                job.events.put(Finished("cancel"))
                continue
            free = [s for s in range(self.sequences) if s not in self._active]
            if not free:
                return
            if job.parked_at == self.ends or self._wait_for_shared_prefill(job):
                continue  # parked for room, and none freed since; or sharing a prefill
            self._remove_waiting(job)
            self._join(job, free)

    def _remove_waiting(self, job: SeqJob) -> None:
        with self._cond:
            self._waiting.remove(job)

    def _wait_for_shared_prefill(self, job: SeqJob) -> bool:
        """Whether another sequence is still prefilling a long prefix this prompt shares."""
        prompt = np.asarray(job.prompt, dtype=np.intc)
        for other in self._active.values():
            shared = common_prefix(np.asarray(other.prompt, dtype=np.intc), prompt)
            if shared >= MIN_PREFIX_TOKENS and other.pos < shared and other.pending:
                return True
        return False

    def _join(self, job: SeqJob, free: list[int]) -> None:
        """Admit a job on one of the free sequence ids, reusing the longest prefix it can."""
        prompt = np.asarray(job.prompt, dtype=np.intc)
        shares = [common_prefix(np.asarray(h, dtype=np.intc), prompt) for h in self._held]
        # The free id whose leftovers share the most; among equals, the one holding least.
        seq = max(free, key=lambda s: (shares[s], -len(self._held[s])))
        reuse, prefix = shares[seq], "live"
        if (shared := self._share(seq, shares, reuse)) > reuse:
            reuse, prefix = shared, "shared"
        if self.prefix_cache is not None:
            saved, shared = self.prefix_cache.lookup(job.prompt, have=reuse)
            if saved is not None and shared > reuse:
                llama_cpp.llama_memory_seq_rm(self._mem, seq, -1, -1)
                if self.llm.load_sequence(seq, saved.state):
                    self._held[seq] = saved.tokens.tolist()
                    reuse, prefix = shared, "restored"
                else:  # no room for it: share another sequence's cells again, else cold
                    llama_cpp.llama_memory_seq_rm(self._mem, seq, -1, -1)
                    self._held[seq] = []
                    reuse = self._share(seq, shares, 0)
                    prefix = "shared" if reuse else "cold"
        # At least the last prompt token is evaluated again: its logits give the first token.
        reuse = max(0, min(reuse, len(job.prompt) - 1))
        llama_cpp.llama_memory_seq_rm(self._mem, seq, reuse, -1)
        del self._held[seq][reuse:]
        job.seq, job.pos, job.pending = seq, reuse, job.prompt[reuse:]
        self._active[seq] = job
        job.events.put(Started(reuse, prefix if reuse >= MIN_RESTORE_TOKENS else "cold"))

    def _share(self, seq: int, shares: list[int], reuse: int) -> int:
        """Give `seq` the cells of the other sequence that shares the longest prefix.

        Only when that one shares more than `reuse` and at least `MIN_RESTORE_TOKENS`; returns
        the tokens now shared. A copy adds no cells (a unified cache tags the same cells with
        one more sequence), so it needs no room.
        """
        others = [s for s in range(self.sequences) if s != seq]
        source = max(others, key=lambda s: shares[s], default=seq)
        if source == seq or shares[source] <= reuse or shares[source] < MIN_RESTORE_TOKENS:
            return reuse
        llama_cpp.llama_memory_seq_rm(self._mem, seq, -1, -1)
        llama_cpp.llama_memory_seq_cp(self._mem, source, seq, -1, shares[source])
        self._held[seq] = self._held[source][: shares[source]]
        return shares[source]

    # -- one step -----------------------------------------------------------------

    def _fill(self) -> list[tuple[SeqJob, int, list[int]]]:
        """Write the step's batch: (job, index of its first token, its tokens) per entry."""
        batch = self._batch
        entries: list[tuple[SeqJob, int, list[int]]] = []
        n = 0
        decoding = [j for j in self._active.values() if not j.pending]
        prefilling = [j for j in self._active.values() if j.pending]
        draft_room = max(0, (self.n_batch // 2) // max(1, len(decoding)) - 1)
        for job in decoding:
            tokens = [job.last, *self._draft(job, min(draft_room, _MAX_DRAFT))]
            n = self._put(entries, job, tokens, n, every=True)
        # Interactive prompts first (a chat's first token must not wait on a batch line's
        # prompt), each kind in the order it joined.
        for job in sorted(prefilling, key=lambda j: (j.low_priority, j.joined)):
            if n >= self.n_batch:
                break
            chunk = job.pending[: self.n_batch - n]
            n = self._put(entries, job, chunk, n, every=False, last=len(chunk) == len(job.pending))
        batch.n_tokens = n
        return entries

    def _put(
        self,
        entries: list[tuple[SeqJob, int, list[int]]],
        job: SeqJob,
        tokens: list[int],
        n: int,
        every: bool,
        last: bool = True,
    ) -> int:
        batch = self._batch
        for i, token in enumerate(tokens):
            batch.token[n + i] = token
            batch.pos[n + i] = job.pos + i
            batch.n_seq_id[n + i] = 1
            batch.seq_id[n + i][0] = job.seq
            batch.logits[n + i] = every
        if last:
            batch.logits[n + len(tokens) - 1] = True
        entries.append((job, n, tokens))
        return n + len(tokens)

    def _draft(self, job: SeqJob, room: int) -> list[int]:
        """Prompt-lookup draft: what followed the last generated tokens earlier on."""
        count = min(job.lookup, room, job.limit - job.produced - 1)
        if count <= 0:
            return []
        found = LlamaPromptLookupDecoding.find_candidate_pred_tokens(
            np.asarray(job.history, dtype=np.intc), max_ngram_size=2, num_pred_tokens=count
        )
        return [int(t) for t in found]

    def _sample(self, entries: list[tuple[SeqJob, int, list[int]]]) -> None:
        """After a decode: move every entry on, and sample those whose logits came out."""
        for job, first, tokens in entries:
            base = job.pos
            self._held[job.seq].extend(tokens)
            job.pos = base + len(tokens)
            if job.pending:  # a chunk of its prompt
                del job.pending[: len(tokens)]
                if not job.pending:
                    self._after(job, self._take(job, self._sample_at(job, first + len(tokens) - 1)))
                continue
            # Its last token and a draft: the draft holds as far as the samples agree with it.
            kept, end = len(tokens), None
            for i in range(len(tokens)):
                end = self._take(job, self._sample_at(job, first + i))
                if end is None and i + 1 < len(tokens) and job.last == tokens[i + 1]:
                    job.drafted += 1
                    continue
                kept = i + 1
                break
            if kept < len(tokens):  # the rest of the draft was wrong: its cells go
                job.pos = base + kept
                llama_cpp.llama_memory_seq_rm(self._mem, job.seq, job.pos, -1)
                del self._held[job.seq][job.pos :]
            self._after(job, end)

    def _sample_at(self, job: SeqJob, index: int) -> int:
        return int(llama_cpp.llama_sampler_sample(job.sampler.sampler, self._ctx, index))

    def _take(self, job: SeqJob, token: int) -> Finished | None:
        """A sampled token: pass it on; the way the job ends if it ends with it."""
        if llama_cpp.llama_vocab_is_eog(self._vocab, token):
            return Finished("stop")
        job.produced += 1
        job.history.append(token)
        job.last = token
        job.events.put(Token(token))
        return Finished("length") if job.produced >= job.limit else None

    def _after(self, job: SeqJob, end: Finished | None) -> None:
        if end is not None:
            self._end(job, end)

    def _end(self, job: SeqJob, event: Finished | Failed) -> None:
        """A job leaves the batch; a finished one's state goes to the prefix cache.

        Its cells go too when there is a prefix cache: in a unified KV cache every sequence
        attends over the span of all used cells (masked), so cells left behind would slow
        everyone's decoding; the cache brings them back for a prompt that wants them. Without
        a prefix cache they stay, for the next prompt with the same prefix.
        """
        try:
            if self._active.get(job.seq) is job:
                del self._active[job.seq]
                self.ends += 1
                finished = isinstance(event, Finished) and event.reason != "cancel"
                if finished:
                    try:
                        self._save(job.seq, len(job.prompt))
                    except Exception:  # the prefix is lost, not the answer
                        log.exception("saving sequence %d's prefix failed", job.seq)
                if not finished or self.prefix_cache is not None:
                    llama_cpp.llama_memory_seq_rm(self._mem, job.seq, -1, -1)
                    self._held[job.seq] = []
        finally:  # whatever failed above, the request hears how its job ended
            job.events.put(event)

    def _save(self, seq: int, prompt_len: int) -> None:
        held = self._held[seq]
        if self.prefix_cache is not None and len(held) >= MIN_PREFIX_TOKENS:
            tokens = np.asarray(held, dtype=np.intc)
            state = self.llm.save_sequence(seq)
            self.prefix_cache.store(SavedState(tokens, state, prompt_len))

    # -- a full KV cache ------------------------------------------------------------

    def _make_room(
        self, entries: list[tuple[SeqJob, int, list[int]]]
    ) -> list[tuple[SeqJob, int, list[int]]]:
        """Free cells for the step, or shrink it; return the entries of the batch to retry."""
        idle = [s for s in range(self.sequences) if s not in self._active and self._held[s]]
        if idle:
            for seq in idle:
                llama_cpp.llama_memory_seq_rm(self._mem, seq, -1, -1)
                self._held[seq] = []
            return self._refill()
        prefill = [job for job, _, _ in entries if job.pending]
        decoding = [job for job, _, _ in entries if not job.pending]
        if prefill and decoding:
            # Prompts wait for room: the decoding sequences will end and free theirs.
            for job in prefill:
                self._park(job)
            return self._refill()
        if len(prefill) > 1:
            self._park(max(prefill, key=lambda j: j.joined))
            return self._refill()
        victim = max((job for job, _, _ in entries), key=lambda j: j.joined)
        self._end(victim, Failed(_full(self.llm.n_ctx(), victim)))
        return self._refill()

    def _park(self, job: SeqJob) -> None:
        """Take a prefilling job out of the batch and back to the queue.

        The part of its prompt evaluated so far goes to the prefix cache first, so when it
        joins again it restores that part instead of evaluating it again (without a prefix
        cache it starts over).
        """
        del self._active[job.seq]
        try:
            self._save(job.seq, len(self._held[job.seq]))
        except Exception:  # it starts over, as it would without a cache
            log.exception("saving parked sequence %d's prefix failed", job.seq)
        llama_cpp.llama_memory_seq_rm(self._mem, job.seq, -1, -1)
        self._held[job.seq] = []
        job.seq, job.pos, job.pending, job.parked_at = -1, 0, [], self.ends
        with self._cond:
            self._waiting.insert(0, job)

    def _refill(self) -> list[tuple[SeqJob, int, list[int]]]:
        return self._fill() if self._active else []


def _full(n_ctx: int, job: SeqJob) -> ServiceUnavailable:
    return ServiceUnavailable(
        f"the model's KV cache ({n_ctx} cells, shared by its concurrent requests) is full; "
        f"this request ended after {job.produced} tokens. Retry, or lower num_ctx or "
        "TERRAQORE_NUM_PARALLEL"
    )


def sampler_options(opts: Any) -> dict[str, Any]:
    """The sampler chain's arguments from a request's `SamplingOptions`."""
    return {
        "top_k": opts.top_k,
        "top_p": opts.top_p,
        "min_p": opts.min_p,
        "typical_p": opts.typical_p,
        "temp": opts.temperature,
        "repeat_penalty": opts.repeat_penalty,
        "frequency_penalty": opts.frequency_penalty,
        "presence_penalty": opts.presence_penalty,
    }
