"""A small client for services that want nudges: request a decision, report what was shown
and what the user did. Blocking (:class:`NudgeClient`) and asyncio
(:class:`AsyncNudgeClient`) over the same machinery.

    with NudgeClient() as nudges:                   # NUDGE_* settings from the environment
        decision = nudges.request("u1", {"age": 31, "risk_tolerance": 3}, timeout=5)
        if decision.arm_id is not None:
            nudges.impression(decision)             # it was shown
            nudges.conversion(decision, "purchase") # and it worked

Events are produced with the contract's partitioner (murmur2, key = ``user_id``) by the
project's producer factory (bootstrap servers, topic prefix and the security settings of
:class:`Settings`), and checked by the worker's own edge decoder before they leave, so a
bad event raises ``ValueError`` here instead of landing in the dead-letter topic. A
background thread reads every partition of the decisions topic from the client's start
(no consumer group) and hands each decision to the request whose ``event_id`` it
answers (``request_id``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from typing import Any

from model.events import Conversion, Decision, Impression
from streams.apps.client._machinery import (
    ClientClosed,
    Machinery,
    conversion_event,
    impression_event,
    request_event,
    timeout_error,
)
from streams.runtime.settings import Settings

__all__ = ["AsyncNudgeClient", "ClientClosed", "NudgeClient"]


class NudgeClient:
    """Blocking client; thread-safe. ``settings``: :meth:`Settings.from_env` by default.
    Raises :class:`~streams.runtime.kafka.BrokerUnreachable` when no broker answers within
    ``connect_timeout`` and ``ValueError`` when the decisions topic does not exist."""

    def __init__(self, settings: Settings | None = None, *, connect_timeout: float = 10.0) -> None:
        self.settings = settings if settings is not None else Settings.from_env()
        self._core = Machinery(self.settings, connect_timeout)

    def request(
        self,
        user_id: str,
        context: Mapping[str, Any],
        candidates: Sequence[str] | None = None,
        *,
        touchpoint: str | None = None,
        timeout: float = 10.0,
    ) -> Decision:
        """Ask for a nudge for ``user_id`` and wait for the worker's decision; raises
        ``TimeoutError`` naming the request when none comes within ``timeout`` seconds."""
        request = request_event(user_id, context, candidates, touchpoint)
        future: Future[Decision] = Future()

        def resolve(result: Decision | BaseException) -> None:
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)

        self._core.ask(request, resolve)
        try:
            return future.result(timeout)
        except TimeoutError:
            self._core.forget(request.event_id)
            raise timeout_error(request, timeout) from None

    def impression(self, decision: Decision) -> Impression:
        """Report that the nudge of ``decision`` was shown; returns the event sent."""
        event = impression_event(decision)
        self._core.produce(event)
        return event

    def conversion(
        self, decision_or_user: Decision | str, kind: str, value: float = 1
    ) -> Conversion:
        """Report a conversion (``click``, ``dwell``, ``purchase``, ...) credited to a
        decision, or by user id to the user's latest impression; returns the event sent."""
        event = conversion_event(decision_or_user, kind, value)
        self._core.produce(event)
        return event

    def flush(self, timeout: float = 30.0) -> None:
        """Wait until every event sent so far is delivered (``TimeoutError`` otherwise)."""
        self._core.flush(timeout)

    def close(self, timeout: float = 30.0) -> None:
        """Deliver what was sent, stop the reader; waiting requests get :class:`ClientClosed`."""
        self._core.close(timeout)

    def __enter__(self) -> NudgeClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncNudgeClient:
    """The asyncio client: ``async with AsyncNudgeClient() as nudges: await
    nudges.request(...)``. Connecting and closing run in a thread; a decision resolves its
    request's future on the loop that awaits it."""

    def __init__(self, settings: Settings | None = None, *, connect_timeout: float = 10.0) -> None:
        self.settings = settings if settings is not None else Settings.from_env()
        self._connect_timeout = connect_timeout
        self._core: Machinery | None = None

    async def start(self) -> AsyncNudgeClient:
        if self._core is None:
            self._core = await asyncio.to_thread(Machinery, self.settings, self._connect_timeout)
        return self

    @property
    def core(self) -> Machinery:
        if self._core is None:
            raise RuntimeError("AsyncNudgeClient not started: use `async with` or await start()")
        return self._core

    async def request(
        self,
        user_id: str,
        context: Mapping[str, Any],
        candidates: Sequence[str] | None = None,
        *,
        touchpoint: str | None = None,
        timeout: float = 10.0,
    ) -> Decision:
        """As :meth:`NudgeClient.request`, awaiting the decision."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Decision] = loop.create_future()

        def settle(result: Decision | BaseException) -> None:
            if future.done():
                return
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)

        def from_thread(result: Decision | BaseException) -> None:
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
                loop.call_soon_threadsafe(settle, result)

        request = request_event(user_id, context, candidates, touchpoint)
        self.core.ask(request, from_thread)
        try:
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            self.core.forget(request.event_id)
            raise timeout_error(request, timeout) from None

    async def impression(self, decision: Decision) -> Impression:
        event = impression_event(decision)
        self.core.produce(event)
        return event

    async def conversion(
        self, decision_or_user: Decision | str, kind: str, value: float = 1
    ) -> Conversion:
        event = conversion_event(decision_or_user, kind, value)
        self.core.produce(event)
        return event

    async def flush(self, timeout: float = 30.0) -> None:
        await asyncio.to_thread(self.core.flush, timeout)

    async def close(self, timeout: float = 30.0) -> None:
        if self._core is not None:
            await asyncio.to_thread(self._core.close, timeout)

    async def __aenter__(self) -> AsyncNudgeClient:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
