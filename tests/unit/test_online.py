"""The online model (``model.online``): encoding, the fit against a direct ridge solve,
learning from seeded fake outcomes, and its place in the engine and the worker's tally."""

from __future__ import annotations

from types import SimpleNamespace

import msgspec
import numpy as np
import pytest

from model.bandit import HashDraws, PolicyContext, build_policy
from model.engine import Engine
from model.online import ArmMoments, ContextEncoder, OnlineConfig, OnlineLinear, arm_design
from model.scoring import ConstantScorer
from state import ArmStats, UserState
from streams.runtime.online import OnlineTally, refit
from tests.fakes import Events, TableScorer, new_arm, small_catalog

ENCODER = ContextEncoder()


def _context(rng: np.random.Generator) -> dict:
    return {
        "age": float(rng.normal(42, 13)),
        "income": float(np.exp(rng.normal(np.log(38_000), 0.5))),
        "risk_tolerance": int(rng.integers(1, 6)),
        "phone_active_time": float(np.exp(rng.normal(np.log(150), 0.5))),
        "risky_investment": int(rng.integers(0, 2)),
        "region": ("seoul", "busan")[int(rng.integers(0, 2))],
    }


def test_encoding_is_fixed_and_never_fails_on_odd_input() -> None:
    x = ENCODER.encode({"age": 42, "region": "busan", "unknown": 3})
    assert x.shape == (ENCODER.dim,) and x[0] == 1.0
    assert x[1] == 0.0  # age at its centre
    assert x.sum() == 2.0  # the constant and busan's one-hot
    odd = ENCODER.encode({"age": "old", "income": -5, "region": "mars", "phone_active_time": None})
    assert odd.tolist() == [1.0] + [0.0] * (ENCODER.dim - 1)
    assert ENCODER.encode({"age": 1e9})[1] == 4.0  # clipped


def test_the_fit_from_per_arm_sums_equals_a_direct_ridge_solve() -> None:
    catalog, rng, config = small_catalog(), np.random.default_rng(3), OnlineConfig()
    m, k = len(catalog), ENCODER.dim
    moments = ArmMoments(k)
    xs, arms, rewards = [], [], []
    for _ in range(400):
        x, a, r = ENCODER.encode(_context(rng)), int(rng.integers(m)), float(rng.random() < 0.2)
        moments.add(catalog.arm_ids[a], x, 1.0, r)
        xs.append(x), arms.append(a), rewards.append(r)
    model = OnlineLinear.fit(moments, catalog)
    z, x_all, r_all = arm_design(catalog), np.array(xs), np.array(rewards)
    q = z.shape[1]
    phi = np.concatenate(
        [np.einsum("ni,nk->nik", z[arms], x_all).reshape(-1, q * k), np.eye(m)[arms]], 1
    )
    base = (r_all.sum() + config.prior_count * config.prior_rate) / (
        len(r_all) + config.prior_count
    )
    h = phi.T @ phi + np.diag(np.r_[np.full(q * k, config.ridge), np.full(m, config.arm_ridge)])
    cov = np.linalg.inv(h)
    theta = cov @ phi.T @ (r_all - base)
    x = x_all[0]
    each = np.concatenate([np.einsum("ai,k->aik", z, x).reshape(m, q * k), np.eye(m)], 1)
    mean = np.clip(base + each @ theta, config.low, config.high)
    sigma2 = config.exploration * base * (1 - base)
    variance = np.einsum("ad,de,ae->a", each, cov, each) * sigma2
    prior = model.predict(x, np.arange(m))
    np.testing.assert_allclose(prior.mean, mean, atol=1e-12)
    expected = np.clip(mean * (1 - mean) / variance - 1, config.min_strength, config.max_strength)
    np.testing.assert_allclose(prior.strength, expected, rtol=1e-9)


def test_it_learns_who_converts_on_which_arm_and_grows_surer() -> None:
    """Seeded fake truth: arm 0 converts 30 % for risk-seeking users and 2 % for the
    averse, arm 1 the reverse. With 4,000 outcomes the prior ranks the right arm first
    for each kind of user, by more than 5 standard errors of a rate (sd < 0.02 at
    n >= 500 per cell), and its strength grows with the data."""
    catalog, rng = small_catalog(), np.random.default_rng(7)
    ids = catalog.arm_ids
    moments = ArmMoments(ENCODER.dim)
    empty = OnlineLinear.fit(moments, catalog)
    for _ in range(4_000):
        seeking = bool(rng.integers(0, 2))
        context = {"risk_tolerance": 5 if seeking else 1}
        arm = int(rng.integers(0, 2))
        p = 0.3 if (arm == 0) == seeking else 0.02
        moments.add(ids[arm], ENCODER.encode(context), 1.0, float(rng.random() < p))
    model = OnlineLinear.fit(moments, catalog)
    seeking, averse = (
        model.prior({"risk_tolerance": 5}, [0, 1]),
        model.prior({"risk_tolerance": 1}, [0, 1]),
    )
    assert seeking.mean[0] - seeking.mean[1] > 0.1 and averse.mean[1] - averse.mean[0] > 0.1
    assert abs(seeking.mean[0] - 0.3) < 0.05 and abs(averse.mean[0] - 0.02) < 0.05
    assert (seeking.strength > 50).all()
    before = empty.prior({}, [0, 1])
    assert (before.mean == OnlineConfig().prior_rate).all() and (before.strength < 5).all()
    assert model.version == "online-4000"


def test_the_engine_serves_the_online_prior_until_a_trained_model_is_loaded() -> None:
    catalog, events = small_catalog(), Events()
    moments = ArmMoments(ENCODER.dim)
    for _ in range(50):
        moments.add(catalog.arm_ids[2], ENCODER.encode({"risk_tolerance": 5}), 1.0, 1.0)
    online = OnlineLinear.fit(moments, catalog)
    policy = build_policy("thompson", {})
    engine = Engine(catalog, policy, ConstantScorer()).with_online(online)
    request = events.request()
    decision = engine.step(UserState(), request).decision
    assert decision is not None and decision.model_version == "online-50"
    again = engine.step(UserState(), request).decision
    assert again == decision  # the draw is seeded by the request
    prior = online.prior(request.context, list(range(len(catalog))))
    context = PolicyContext(request.context, None, True, prior.strength)
    unseen = [ArmStats()] * len(catalog)
    exact = policy.probabilities(
        unseen, prior.mean, catalog.arm_ids, HashDraws(b""), context=context
    )
    assert decision.propensity == pytest.approx(exact[catalog.index(decision.arm_id)], abs=1e-12)
    assert decision.score == pytest.approx(prior.mean[catalog.index(decision.arm_id)])
    trained = engine.with_scorer(TableScorer())
    assert trained.step(UserState(), request).decision.model_version == "table-v1"  # type: ignore[union-attr]
    grown = engine.with_catalog(catalog.with_arms([new_arm()]))  # fitted on the old arms
    assert grown.step(UserState(), request).decision.model_version == "constant"  # type: ignore[union-attr]


def test_the_worker_tally_feeds_each_outcome_with_the_users_latest_context() -> None:
    catalog, events = small_catalog(), Events()
    engine = Engine(catalog, build_policy("thompson", {}), ConstantScorer())
    tally, key = OnlineTally(), b"u1"
    state = UserState()
    request = events.request()
    decided = engine.step(state, request, events.source("req"))
    tally.note_request(key, request.context)
    arm = decided.decision.arm_id  # type: ignore[union-attr]
    impression = events.impression(decided.decision.decision_id, arm)  # type: ignore[union-attr]
    shown = engine.step(decided.state, impression, events.source("imp"))
    tally.add_change(key, arm, decided.state, shown.state)
    converted = engine.step(shown.state, events.conversion(), events.source("conv"))
    tally.add_change(key, arm, shown.state, converted.state)
    tally.add_change(b"stranger", arm, shown.state, converted.state)  # unknown user: left out
    gram, reward = tally.moments.copy().arrays([arm])
    x = ENCODER.encode(request.context)
    np.testing.assert_allclose(gram[0], np.outer(x, x))
    np.testing.assert_allclose(reward[0], x)
    served = refit(engine, tally.moments.copy(), tally.encoder)
    assert served.online is not None and served.online.version == "online-1"


def test_the_tally_forgets_the_oldest_users_beyond_its_bound() -> None:
    tally = OnlineTally(max_users=2)
    for key in (b"a", b"b", b"a", b"c"):
        tally.note_request(key, {})
    assert list(tally._contexts) == [b"a", b"c"]


def test_the_worker_learns_from_its_events_and_the_maintenance_refit_serves_it() -> None:
    """Through ``EventProcessor`` (no broker): a request, its impression and a purchase
    reach the online sums; the refit the maintenance thread makes then serves."""
    from prometheus_client import CollectorRegistry

    from streams.runtime.holder import EngineHolder
    from streams.runtime.maintenance import Maintenance
    from streams.runtime.metrics import Metrics
    from streams.runtime.partitioning import partition_for
    from streams.runtime.processor import EventProcessor
    from streams.runtime.settings import Settings

    settings, catalog, events = Settings(partitions=1, online_model=True), small_catalog(), Events()
    holder = EngineHolder(Engine(catalog, build_policy("thompson", {}), ConstantScorer()))
    processor = EventProcessor(settings, holder, Metrics(CollectorRegistry()))
    key, stored = b"u1", [None]
    assert partition_for(key, 1) == 0

    def send(kind: str, event: object, offset: int) -> list:
        value = msgspec.json.encode(event)
        new, outputs = processor.process(
            settings.topic(kind), 0, offset, key, value, lambda: stored[0]
        )
        stored[0] = new if new is not None else stored[0]
        return outputs

    decision = msgspec.json.decode(send("decision-requests", events.request(), 0)[0].value)
    send("impressions", events.impression(decision["decision_id"], decision["arm_id"]), 0)
    send("conversions", events.conversion(decision_id=decision["decision_id"]), 0)
    gram, reward = processor.online.moments.copy().arrays([decision["arm_id"]])
    assert gram[0, 0, 0] == 1.0 and reward[0, 0] == 1.0
    maintenance = SimpleNamespace(processor=processor, holder=holder)  # its one duty here
    Maintenance._publish_population(maintenance)  # type: ignore[arg-type]
    assert not processor.online.changed and holder.engine.population is not None
    again = msgspec.json.decode(send("decision-requests", events.request(), 1)[0].value)
    assert again["model_version"] == "online-1"


def test_the_worker_learns_online_by_default_and_not_when_told_not_to() -> None:
    """On by default (``NUDGE_ONLINE_MODEL``; a redelivered request keeps the decision sent
    out, ``streams.runtime.recovery``); ``NUDGE_ONLINE_MODEL=false`` keeps it out."""
    from prometheus_client import CollectorRegistry

    from streams.runtime.holder import EngineHolder
    from streams.runtime.metrics import Metrics
    from streams.runtime.processor import EventProcessor
    from streams.runtime.settings import Settings

    assert Settings().online_model
    settings = Settings.from_env({"NUDGE_ONLINE_MODEL": "false", "NUDGE_PARTITIONS": "1"})
    catalog, events = small_catalog(), Events()
    assert not settings.online_model and settings.partitions == 1
    holder = EngineHolder(Engine(catalog, build_policy("thompson", {}), ConstantScorer()))
    processor = EventProcessor(settings, holder, Metrics(CollectorRegistry()))
    stored: list[bytes | None] = [None]

    def send(kind: str, event: object, offset: int) -> list:
        value = msgspec.json.encode(event)
        new, outputs = processor.process(
            settings.topic(kind), 0, offset, b"u1", value, lambda: stored[0]
        )
        stored[0] = new if new is not None else stored[0]
        return outputs

    decision = msgspec.json.decode(send("decision-requests", events.request(), 0)[0].value)
    send("impressions", events.impression(decision["decision_id"], decision["arm_id"]), 0)
    send("conversions", events.conversion(decision_id=decision["decision_id"]), 0)
    assert not processor.online.changed
