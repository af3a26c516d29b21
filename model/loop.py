"""The one load → step → store of every runner (the worker, offline replay, the A/B
test, the benchmarks): the engine steps a user's decoded state; what is stored is our
versioned codec's bytes, written only when the step changed the state. A stored value
that does not decode is refused as ``corrupt_state`` and left as it is, never replaced
by a fresh state (which would silently forget the user's history)."""

from __future__ import annotations

from typing import NamedTuple

from model.engine import Engine, Outcome, Source, StepResult
from model.events import Decision, DecisionRequest, Event
from state import StateCodecError, UserState, UserStore, decode_state, encode_state

__all__ = [
    "CORRUPT_STATE",
    "Stepped",
    "adopt_decoded",
    "adopt_encoded",
    "step_decoded",
    "step_encoded",
    "step_in_store",
]

CORRUPT_STATE = "corrupt_state"


class Stepped(NamedTuple):
    """``before``: the decoded state stepped; ``stored``: the bytes to store, None when
    nothing changed (or the stored state is corrupt)."""

    result: StepResult
    before: UserState
    stored: bytes | None


def step_encoded(
    engine: Engine, stored: bytes | None, event: Event, source: Source | None = None
) -> Stepped:
    """Step ``event`` on the state encoded in ``stored`` (None: a new user)."""
    try:
        state = decode_state(stored)
    except StateCodecError:
        fresh = UserState()
        return Stepped(StepResult(fresh, Outcome.REJECTED, reason=CORRUPT_STATE), fresh, None)
    return step_decoded(engine, state, event, source)


def step_decoded(
    engine: Engine, state: UserState, event: Event, source: Source | None = None
) -> Stepped:
    """:func:`step_encoded` for a state already decoded (a runner that keeps the decoded
    state of the bytes it stored last can skip decoding them again)."""
    result = engine.step(state, event, source)
    return Stepped(result, state, encode_state(result.state) if result.state is not state else None)


def step_in_store(
    engine: Engine, store: UserStore, event: Event, source: Source | None = None
) -> StepResult:
    """Load the event's user from ``store``, step, store what changed: :func:`step_encoded`
    written out (no :class:`Stepped` to build), as every offline event goes through it."""
    user_id = event.user_id
    try:
        state = decode_state(store.get_bytes(user_id))
    except StateCodecError:
        return StepResult(UserState(), Outcome.REJECTED, reason=CORRUPT_STATE)
    result = engine.step(state, event, source)
    if result.state is not state:
        store.put_bytes(user_id, encode_state(result.state))
    return result


def adopt_decoded(
    engine: Engine,
    state: UserState,
    request: DecisionRequest,
    published: Decision,
    source: Source | None = None,
) -> Stepped:
    """:func:`step_decoded` for a request whose decision was already sent out
    (:meth:`model.engine.Engine.adopt`)."""
    result = engine.adopt(state, request, published, source)
    return Stepped(result, state, encode_state(result.state) if result.state is not state else None)


def adopt_encoded(
    engine: Engine,
    stored: bytes | None,
    request: DecisionRequest,
    published: Decision,
    source: Source | None = None,
) -> Stepped:
    """:func:`adopt_decoded` on the state encoded in ``stored`` (None: a new user)."""
    try:
        state = decode_state(stored)
    except StateCodecError:
        fresh = UserState()
        return Stepped(StepResult(fresh, Outcome.REJECTED, reason=CORRUPT_STATE), fresh, None)
    return adopt_decoded(engine, state, request, published, source)
