"""The Python client against the real broker and a real worker: decisions matched to their
requests (also concurrently, also from asyncio), impressions and purchases applied to the
worker's state, clean timeouts and refusals."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from model.events import Decision
from state.stats import UserState
from streams.apps.client import AsyncNudgeClient, NudgeClient
from streams.runtime.broker import free_port
from streams.runtime.inspect import read_changelog
from streams.runtime.kafka import BrokerUnreachable
from streams.runtime.settings import Settings
from tests.support import WorkerProcess

pytestmark = pytest.mark.integration

ARM = "savings_plan:default_option"  # the safest product: no guardrail blocks it


def _check(decision: Decision, user_id: str) -> None:
    assert decision.user_id == user_id
    assert decision.request_id.startswith("req-")
    assert decision.arm_id is not None, decision.reason
    assert 0 < decision.propensity <= 1
    assert decision.policy == "thompson"


def _state_when(settings: Settings, user_id: str, done: object, timeout: float = 60) -> UserState:
    deadline = time.monotonic() + timeout
    while True:
        state = read_changelog(settings, timeout_seconds=10).get(user_id)
        if state is not None and done(state):  # type: ignore[operator]
            return state
        if time.monotonic() > deadline:
            raise AssertionError(f"{user_id}: state never got there: {state}")
        time.sleep(1)


def test_client_requests_reports_and_async(kafka_settings: Settings, tmp_path: Path) -> None:
    settings = kafka_settings
    worker = WorkerProcess(settings, tmp_path / "worker.log").start()
    try:
        with NudgeClient(settings) as nudges:
            first = nudges.request("client-u0", {"age": 31, "risk_tolerance": 3}, timeout=60)
            _check(first, "client-u0")
            with ThreadPoolExecutor(8) as pool:  # concurrent requests, each gets its own
                users = [f"client-u{i}" for i in range(1, 17)]
                answers = list(
                    pool.map(lambda u: nudges.request(u, {"age": 40}, timeout=30), users)
                )
            for user, decision in zip(users, answers, strict=True):
                _check(decision, user)
            assert len({d.request_id for d in answers}) == len(users)
            pinned = nudges.request("client-buyer", {"risk_tolerance": 1}, [ARM], timeout=30)
            assert pinned.arm_id == ARM
            shown = nudges.impression(pinned)
            bought = nudges.conversion(pinned, "purchase")
            assert (shown.decision_id, bought.decision_id) == (pinned.decision_id,) * 2
            nudges.flush()
            with pytest.raises(ValueError, match="invalid_value"):
                nudges.request("client-u0", {"x" * 65: 1})  # the edge's own check, here
        state = _state_when(
            settings, "client-buyer", lambda s: ARM in s.arms and s.arms[ARM].conversions
        )
        assert state.arms[ARM].impressions == 1
        assert state.arms[ARM].conversions == 1
        assert state.arms[ARM].reward_sum == 1.0
        assert state.last_purchase_ms == bought.ts

        async def run_async() -> list[Decision]:
            async with AsyncNudgeClient(settings) as client:
                got = await asyncio.gather(
                    *(client.request(f"async-u{i}", {"age": 50}, timeout=30) for i in range(6))
                )
                await client.impression(got[0])
                await client.flush()  # the impression is in before the click that follows it
                await asyncio.sleep(0.01)
                await client.conversion(got[0].user_id, "click")  # by user: latest impression
                await client.flush()
                return list(got)

        answers_async = asyncio.run(run_async())
        for i, decision in enumerate(answers_async):
            _check(decision, f"async-u{i}")
        state = _state_when(
            settings, "async-u0", lambda s: any(a.reward_sum for a in s.arms.values())
        )
        clicked = answers_async[0].arm_id
        assert clicked is not None
        assert state.arms[clicked].reward_sum == pytest.approx(0.1)  # a click, weight 0.1
    finally:
        assert worker.stop() == 0


def test_client_times_out_cleanly_without_a_worker(kafka_settings: Settings) -> None:
    with NudgeClient(kafka_settings) as nudges:
        started = time.monotonic()
        with pytest.raises(TimeoutError, match=r"no decision for request req-\w+ \(user lonely\)"):
            nudges.request("lonely", {"age": 20}, timeout=1.5)
        assert 1.5 <= time.monotonic() - started < 5
        assert not nudges._core.pending  # forgotten: a late decision is dropped

    async def run_async() -> None:
        async with AsyncNudgeClient(kafka_settings) as client:
            with pytest.raises(TimeoutError, match="user lonely-async"):
                await client.request("lonely-async", {}, timeout=1)

    asyncio.run(run_async())


def test_client_fails_fast_without_a_broker_or_topics(kafka_settings: Settings) -> None:
    nowhere = kafka_settings.with_(bootstrap_servers=f"127.0.0.1:{free_port()}")
    with pytest.raises(BrokerUnreachable):
        NudgeClient(nowhere, connect_timeout=5)
    with pytest.raises(ValueError, match="no topic other.decisions"):
        NudgeClient(kafka_settings.with_(topic_prefix="other."), connect_timeout=5)
