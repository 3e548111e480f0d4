"""Choosing among the Coder's candidates by the designed tests, and which failures to trust.

The Validator's tests are written by a small model from the task alone, and some of them are
wrong. A wrong test that goes back to the Coder sends correct code back; a wrong test that
ranks the candidates rewards code that shares its mistake. So the tests and the candidates
check each other, as in CodeT (Chen et al., 2022, "CodeT: Code Generation with Generated
Tests"): a candidate is worth the tests it passes, times how many candidates agree with it
(pass exactly the same tests); and a failure goes back to the Coder only when the test is
*credible*, i.e. some candidate passes it. A test every candidate fails is either wrong or
beyond all of them, and in both cases feeding it back has cost more than it gained. Two
kinds of evidence are stronger than that vote:

- a *stated* test restates one of the task's own examples (same call, same arguments, same
  result; see `agents.validator.stated`): it is believed even when every candidate fails
  it, and passing stated tests ranks first;
- *behaviour*: each candidate's answers on the designed tests' inputs (`codecheck.behaviour`).
  Candidates that answer alike form a cluster, and when the tests cannot tell candidates
  apart, the larger cluster wins (MBR-exec): it needs no expected value from the model.

Everything here is a pure function of plain data (the state's candidate dicts).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Collection, Sequence
from typing import Any

from terraqore.codecheck.behaviour import as_signature, informative
from terraqore.codecheck.test_file import TEST_FILE

Candidate = dict[str, Any]
"""`id`, `route`, `origin`, `files` and, once tested, `validation` (see `graphs.studio_state`)."""

DESIGNED = f"{TEST_FILE}::"
"""The id prefix of a designed test (a candidate's own tests have others)."""


def tested(pool: Sequence[Candidate]) -> list[Candidate]:
    """The candidates whose tests have run."""
    return [c for c in pool if c.get("validation")]


def outcomes(candidate: Candidate) -> dict[str, str]:
    """The candidate's designed tests and their outcomes (`passed`, `failed`, `error`)."""
    found = (candidate.get("validation") or {}).get("outcomes", {})
    return {t: o for t, o in found.items() if t.startswith(DESIGNED)}


def passed(candidate: Candidate) -> frozenset[str]:
    """The designed tests the candidate passed."""
    return frozenset(t for t, o in outcomes(candidate).items() if o == "passed")


def credible(pool: Sequence[Candidate]) -> set[str]:
    """Designed tests that at least one candidate passes: their expectation can be met."""
    return set().union(*(passed(c) for c in tested(pool))) if tested(pool) else set()


def agreement(pool: Sequence[Candidate]) -> Counter[frozenset[str]]:
    """How many candidates pass each exact set of designed tests (CodeT's consensus sets)."""
    return Counter(passed(c) for c in tested(pool))


def behaviour_votes(candidate: Candidate, pool: Sequence[Candidate]) -> int:
    """How many tested versions (distinct code) answer the probes exactly as this one does.

    0 if it said nothing: code that raises everywhere, or returns nothing, agrees with no one.
    """
    mine = as_signature((candidate.get("validation") or {}).get("behaviour"))
    if not informative(mine):
        return 0
    # The same code twice (a fix that changed nothing) is one vote, not two.
    voters = {
        json.dumps(c["files"], sort_keys=True): as_signature(c["validation"].get("behaviour"))
        for c in tested(pool)
    }
    return sum(signature == mine for signature in voters.values())


def score(
    candidate: Candidate, pool: Sequence[Candidate], stated: Collection[str] = ()
) -> tuple[int, ...]:
    """Rank key: the task's names kept, stated and designed tests passed, votes, agreement.

    Then fewest own tests failed, and earlier first. A version that breaks the task's
    contract (`terraqore.codecheck.contract_check`) ranks below every one that keeps it, whatever it
    passes, and below one that breaks it in fewer places (a fix that wrote two of the
    task's three files beats the version with one, task 60).
    Only the designed tests rank: a candidate's own tests (if it wrote any) were
    written with it, so they would reward writing many easy tests. They only break ties.
    """
    own_failed = sum(
        not f["test"].startswith(DESIGNED)
        for f in (candidate.get("validation") or {}).get("failures", [])
    )
    mine = passed(candidate)
    contract = (candidate.get("validation") or {}).get("contract") or {"kept": True}
    return (
        -len(contract.get("broken", [])),
        len(mine & set(stated)),
        len(mine),
        behaviour_votes(candidate, pool),
        agreement(pool)[mine],
        -own_failed,
        -int(candidate["id"]),
    )


def choose(
    pool: Sequence[Candidate], blocked: Sequence[int] = (), stated: Collection[str] = ()
) -> Candidate | None:
    """The candidate to keep: the best score among those not blocked by the security gate.

    Blocked candidates are chosen only when nothing else was tested. `stated` holds the ids
    of the designed tests that are the task's own examples.
    """
    ran = tested(pool)
    allowed = [c for c in ran if c["id"] not in blocked] or ran
    if not allowed:
        return None
    return max(allowed, key=lambda c: score(c, pool, stated))


def credible_failures(
    candidate: Candidate, pool: Sequence[Candidate], stated: Collection[str] = ()
) -> list[dict[str, str]]:
    """The candidate's failures worth sending back: credible designed tests, and its own tests.

    A designed test no candidate passes stays out of the feedback unless it is stated (see
    the module's doc). With one candidate there is nothing to compare, so every failure is
    credible.
    """
    trusted = credible(pool) | set(stated)
    many = len(tested(pool)) > 1
    failures = (candidate.get("validation") or {}).get("failures", [])
    return [
        f
        for f in failures
        if not many or not f["test"].startswith(DESIGNED) or f["test"] in trusted
    ]
