"""The one path per concern: typed simulated traffic, the OPE meta-evaluator, one report."""

from __future__ import annotations

import numpy as np

from model.evaluation import (
    bootstrap_ratio,
    estimate_dr,
    estimate_ips,
    estimate_replay,
    estimate_snips,
    greedy_action_dist,
)
from model.evaluation.pipeline import BY_POSITION, ESTIMATORS, EvalRounds, OffPolicyEvaluation
from model.events import Conversion, DecisionRequest, Impression
from model.report import Report, figure, png
from model.simulator import Environment, Traffic, UniformLogging, simulate_rounds


def test_traffic_is_typed_and_seeded() -> None:
    env = Environment.build(50, seed=3)
    first, second = Traffic(env, seed=9), Traffic(env, seed=9)
    users = first.draw_users(20)
    assert (users == second.draw_users(20)).all()
    request = first.request(int(users[0]), "r-1", 1_767_225_600_000)
    assert isinstance(request, DecisionRequest)
    assert request.user_id == env.user_id(int(users[0]))
    assert request.context == env.context(int(users[0]))
    arm = env.arm_ids[0]
    p = first.purchase_probability(request.user_id, arm)
    assert first.buys(request.user_id, arm, uniform=p / 2)
    assert not first.buys(request.user_id, arm, uniform=min(p * 1.01 + 1e-9, 1.0))
    assert [first.buys(request.user_id, arm) for _ in range(30)] == [
        second.buys(request.user_id, arm) for _ in range(30)
    ]


def test_an_outcome_is_an_impression_then_a_purchase_when_bought() -> None:
    traffic = Traffic(Environment.build(5, seed=1))
    ids, ts = ("i", "c"), (10, 11)
    shown = traffic.outcome("u0000001", "d", "a", bought=False, event_ids=ids, ts_ms=ts)
    assert [type(e) for e in shown] == [Impression]
    both = traffic.outcome("u0000001", "d", "a", bought=True, event_ids=ids, ts_ms=ts)
    assert [type(e) for e in both] == [Impression, Conversion]
    assert both[1].kind == "purchase" and both[1].decision_id == "d" and both[1].ts == 11


def _rounds() -> EvalRounds:
    env = Environment.build(500, seed=2)
    log = simulate_rounds(env, UniformLogging(), 2_000, seed=4)
    q = np.random.default_rng(0).random((len(log), env.n_arms)) * 0.2
    return EvalRounds(log.reward, log.arms, log.pscore, greedy_action_dist(q, 0.1), q)


def test_the_meta_evaluator_runs_each_estimator_in_order_on_one_generator() -> None:
    x = _rounds()
    got = OffPolicyEvaluation(ESTIMATORS, 30).estimate(x, np.random.default_rng(5))
    rng = np.random.default_rng(5)
    low, high = bootstrap_ratio(x.reward, None, rng, 30)
    by_hand = [
        (float(x.reward.mean()), low, high),
        estimate_replay(x.reward, x.action, x.action_dist, rng, n_bootstrap=30),
        estimate_ips(x.reward, x.action, x.pscore, x.action_dist, rng, n_bootstrap=30),
        estimate_snips(x.reward, x.action, x.pscore, x.action_dist, rng, n_bootstrap=30),
        estimate_dr(
            x.reward, x.action, x.pscore, x.action_dist, x.estimated_rewards, rng, n_bootstrap=30
        ),
    ]
    assert (got[0].value, got[0].low, got[0].high) == by_hand[0]
    assert got[1:] == by_hand[1:]
    assert [e.name for e in got] == ["logging (on-policy mean)", "replay", "ips", "snips", "dr"]
    slot = OffPolicyEvaluation(BY_POSITION, 30).estimate(x.take(np.arange(100)), rng)
    assert [e.name for e in slot] == ["ips", "snips", "dr"] and slot[0].n_rounds == 100


def test_one_report_writes_markdown_figures_files_and_html(tmp_path) -> None:
    fig = figure((3, 2))
    fig.add_subplot().bar(["A", "B"], [1.0, 2.0])
    image = png(fig, dpi=50)
    assert image.startswith(b"\x89PNG")
    report = Report(
        "# T\n\n| a | b |\n|---|---:|\n| x | 1 |\n", "T", {"p.png": image}, {"d.json": "{}"}
    )
    paths = report.write(tmp_path / "out")
    assert sorted(paths) == ["d.json", "p.png", "report.html", "report.md"]
    html = paths["report.html"].read_text()
    assert "<h1>T</h1>" in html and html.count("data:image/png;base64,") == 1
    assert "report.html" not in Report("# T", "T", html=False).render()
