"""``nudge abtest``: rule-based vs nudgeflow on simulated users, as the source paper did."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from tqdm import tqdm

HELP = """\
Offline A/B test on the simulator. Users are split at random into a rule-based group
(the marketer's segment -> arm rules) and a nudgeflow group (the bandit policy given by
--policy, scored by a model fitted on --history uniform-random past decisions). Both
groups run through the same engine step; outcomes are drawn from the ground truth.
CR = users who purchased through a recommendation / users x 100. Reports both CRs, the
lift, a two-proportion z-test p-value and a 95 % interval, and writes report.md,
result.json and cr.png into --out-dir.
"""


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "abtest",
        help="offline A/B test: rule-based vs nudgeflow",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--users", type=int, default=20_000, help="users in the test (20000)")
    parser.add_argument("--sessions", type=int, default=1, help="sessions per user (1)")
    parser.add_argument(
        "--history",
        type=int,
        default=100_000,
        help="uniform-random past decisions to fit nudgeflow's model (100000)",
    )
    parser.add_argument(
        "--policy",
        default="epsilon-greedy",
        help="nudgeflow's policy (default epsilon-greedy; env NUDGE_POLICY is not read here)",
    )
    parser.add_argument(
        "--policy-params",
        type=json.loads,
        default={"epsilon": 0.05},
        metavar="JSON",
        help='its parameters (default {"epsilon": 0.05})',
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (0)")
    parser.add_argument(
        "--out-dir",
        type=Path,
        default=Path("abtest-report"),
        help="where to write the report (abtest-report)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from model.evaluation import two_proportion_ztest
    from model.simulator import Environment
    from state import InMemoryStore

    if args.users < 2 or args.sessions < 1:
        raise ValueError("--users must be >= 2 and --sessions >= 1")
    env = Environment.build(args.users, seed=args.seed)
    rule, nudge = _engines(env, args.history, args.policy, args.policy_params, args.seed)
    rng = np.random.default_rng([args.seed, 99])
    in_b = rng.permutation(args.users) < args.users // 2
    converted = np.zeros(args.users, bool)
    stores = {False: InMemoryStore(), True: InMemoryStore()}
    engines = {False: rule, True: nudge}
    with tqdm(total=args.users * args.sessions, unit="session", disable=args.quiet) as bar:
        for k in range(args.sessions):
            for user in range(args.users):
                b = bool(in_b[user])
                converted[user] |= _session(env, engines[b], stores[b], user, k, rng)
                bar.update(1)
    result = two_proportion_ztest(
        int(converted[~in_b].sum()), int((~in_b).sum()), int(converted[in_b].sum()), int(in_b.sum())
    )
    _report(args, result)
    return 0


def _report(args: argparse.Namespace, r) -> None:
    lines = [
        "# A/B test: rule-based (A) vs nudgeflow (B), simulated",
        "",
        f"users {args.users}, sessions per user {args.sessions}, history {args.history}, "
        f"nudgeflow policy {args.policy} {json.dumps(args.policy_params)}, seed {args.seed}",
        "",
        "| group | users | purchasers | CR % |",
        "|---|---:|---:|---:|",
        f"| A rule-based | {r.n_a} | {r.successes_a} | {100 * r.rate_a:.2f} |",
        f"| B nudgeflow | {r.n_b} | {r.successes_b} | {100 * r.rate_b:.2f} |",
        "",
        f"difference {100 * r.diff:+.2f} pp (95 % CI {100 * r.diff_low:+.2f} .. "
        f"{100 * r.diff_high:+.2f} pp), relative lift {100 * r.lift:+.1f} %, "
        f"z = {r.z:.2f}, two-sided p = {r.p_value:.3g}",
    ]
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / "report.md").write_text("\n".join(lines) + "\n")
    (args.out_dir / "result.json").write_text(json.dumps(r.__dict__, indent=2))
    _plot(args.out_dir / "cr.png", r)
    print("\n".join(lines[4:]))
    print(f"report: {args.out_dir / 'report.md'}")


def _plot(path: Path, r) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 4))
    rates = np.array([r.rate_a, r.rate_b]) * 100
    errors = [
        1.96 * 100 * np.sqrt(p * (1 - p) / n) for p, n in ((r.rate_a, r.n_a), (r.rate_b, r.n_b))
    ]
    ax.bar(["rule-based", "nudgeflow"], rates, yerr=errors, capsize=6, color=["#999", "#2a7"])
    ax.set_ylabel("CR % (purchasers / users)")
    ax.set_title(f"lift {100 * r.lift:+.1f} %, p = {r.p_value:.2g}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _engines(env, history: int, policy: str, params: dict, seed: int):
    from model.bandit import RuleBased, build_policy
    from model.engine import Engine
    from model.evaluation import SegmentRateModel
    from model.scoring import ConstantScorer
    from model.simulator import UniformLogging, default_rules, simulate_rounds

    past = simulate_rounds(env, UniformLogging(), history, seed=seed + 1)
    model = SegmentRateModel.fit(
        env.population.segment_names(past.users), past.arms, past.reward, env.arm_ids
    )
    rules = default_rules(env)
    rule = Engine(env.catalog, RuleBased(rules=rules), ConstantScorer())
    return rule, Engine(env.catalog, build_policy(policy, params), model)


def _session(env, engine, store, user: int, k: int, rng) -> bool:
    """One request -> decision -> impression -> maybe purchase; True when purchased."""
    from model.events import Conversion, DecisionRequest, Impression

    uid, ts = env.user_id(user), 1_735_689_600_000 + k * 1000
    request = DecisionRequest(
        schema_version=1, event_id=f"ab-{uid}-{k}", ts=ts, user_id=uid, context=env.context(user)
    )
    result = engine.step(store.get(uid), request)
    decision, state = result.decision, result.state
    if decision is None or decision.arm_id is None:
        store.put(uid, state)
        return False
    state = engine.step(
        state,
        Impression(
            schema_version=1,
            event_id=f"{request.event_id}-i",
            ts=ts + 1,
            user_id=uid,
            decision_id=decision.decision_id,
            arm_id=decision.arm_id,
        ),
    ).state
    bought = bool(env.draw_outcome(rng, user, decision.arm_id)[0])
    if bought:
        state = engine.step(
            state,
            Conversion(
                schema_version=1,
                event_id=f"{request.event_id}-c",
                ts=ts + 2,
                user_id=uid,
                kind="purchase",
                decision_id=decision.decision_id,
            ),
        ).state
    store.put(uid, state)
    return bought
