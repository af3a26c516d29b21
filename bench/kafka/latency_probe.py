"""Latency of ``nudge worker`` under client-property variants, paired on one broker.

    python -m bench.kafka.latency_probe --rates 500,2000 --rounds 2 \\
        --variant "before:p:linger.ms=2,c:fetch.min.bytes=1" --variant "now"

A variant is ``NAME`` plus ``p:KEY=VALUE`` (producer) and ``c:KEY=VALUE`` (consumer)
librdkafka properties, given to the worker as ``NUDGE_PRODUCER_CONFIG`` /
``NUDGE_CONSUMER_CONFIG`` on top of its defaults, and ``e:NUDGE_NAME=VALUE``, a setting
of the worker's environment (e.g. ``e:NUDGE_COMMIT_INTERVAL_SECONDS=0.25``). The variants
run in turn, ``--rounds`` times (so slow drifts of a shared machine hit all of them
alike), each on its own topics with a fresh Quix worker; per rate the broker's echo
round trip first, then the worker's (``bench.kafka.latency``), with the cores the
machine, the worker and the broker used.
Prints one line per run and writes the JSON to ``bench/results/latency-probe-*.json``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.kafka.context import Bench
from bench.kafka.cpu import cores_used
from bench.kafka.latency import paced_round_trip
from bench.kafka.procs import broker, workers
from bench.kafka.section import _broker_pid, _event_id, _request_id

RESULTS = Path(__file__).resolve().parents[1] / "results"
PICK = ("p50_ms", "p95_ms", "p99_ms", "max_ms", "lost")


def parse_variant(text: str) -> tuple[str, dict[str, str]]:
    """``NAME[:p:KEY=VALUE,c:KEY=VALUE,e:NUDGE_NAME=VALUE,...]`` -> (name, NUDGE_* environment)."""
    name, _, spec = text.partition(":")
    configs: dict[str, dict[str, Any]] = {"p": {}, "c": {}, "e": {}}
    for item in filter(None, spec.split(",")):
        side, _, pair = item.partition(":")
        key, _, value = pair.partition("=")
        if side not in configs or not key or not value:
            raise argparse.ArgumentTypeError(f"bad variant item {item!r}: use p:KEY=VALUE")
        if side == "e" and not key.startswith("NUDGE_"):
            raise argparse.ArgumentTypeError(f"bad variant item {item!r}: e: takes NUDGE_*")
        configs[side][key] = int(value) if value.lstrip("-").isdigit() else value
    env = {key: str(value) for key, value in configs["e"].items()}
    if configs["p"]:
        env["NUDGE_PRODUCER_CONFIG"] = json.dumps(configs["p"])
    if configs["c"]:
        env["NUDGE_CONSUMER_CONFIG"] = json.dumps(configs["c"])
    return name, env


def _one(bench: Bench, label: str, extra: dict[str, str], rates: list[int], seconds: float,
         users: int) -> dict[str, Any]:  # fmt: skip
    names = bench.names(label)
    env = bench.env(names, engine="quix") | extra
    bench.topics(names, "quix")
    echo = bench.extra_topic(names.topic("echo"))
    paced_round_trip(bench.bootstrap, echo, echo, _event_id, 20, 1.0, users, "p", 0)
    requests, decisions = names.topic("decision-requests"), names.topic("decisions")
    out: dict[str, Any] = {}
    with workers(lambda _: bench.worker(names, env, "probe"), 1) as started:
        pids = {"worker": started[0].pid, **_broker_pid(bench)}
        # until decisions flow (the first rebalance, numba's compile)
        paced_round_trip(bench.bootstrap, requests, decisions, _request_id, 50, 2.0, users,
                         f"w{label}", 0)  # fmt: skip
        for rate in rates:
            with cores_used(pids) as echo_cores:
                e = paced_round_trip(bench.bootstrap, echo, echo, _event_id, rate, seconds,
                                     users, f"e{label}{rate}")  # fmt: skip
            with cores_used(pids) as cores:
                w = paced_round_trip(bench.bootstrap, requests, decisions, _request_id, rate,
                                     seconds, users, f"l{label}{rate}")  # fmt: skip
            out[str(rate)] = {
                "worker": {k: w.get(k) for k in PICK} | {"cores_used": cores},
                "echo": {k: e.get(k) for k in PICK} | {"cores_used": echo_cores},
            }
            print(f"{label:>12} {rate:>5}/s worker {_line(out[str(rate)]['worker'])} | echo "
                  f"{_line(out[str(rate)]['echo'])}", flush=True)  # fmt: skip
    return out


def _line(figures: dict[str, Any]) -> str:
    ms = "/".join(f"{figures[k]:.1f}" for k in ("p50_ms", "p95_ms", "p99_ms", "max_ms"))
    cores = figures.get("cores_used", {})
    split = "/".join(f"{cores.get(k, float('nan')):.2f}" for k in ("machine", "worker", "broker"))
    return f"p50/p95/p99/max {ms} ms, lost {figures['lost']}, cores machine/worker/broker {split}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variant", action="append", type=parse_variant, required=True,
                        help="NAME[:p:K=V,c:K=V,e:NUDGE_NAME=V,...] (repeat)")  # fmt: skip
    parser.add_argument("--rates", default="500,2000", help="requests/s, comma-separated")
    parser.add_argument("--seconds", type=float, default=8.0, help="seconds per figure (8)")
    parser.add_argument("--rounds", type=int, default=2, help="times each variant runs (2)")
    parser.add_argument("--users", type=int, default=3000, help="users the requests cover")
    args = parser.parse_args(argv)
    rates = [int(r) for r in args.rates.split(",")]
    root = Path(tempfile.mkdtemp(prefix="nudge-latency-probe-"))
    report: dict[str, Any] = {"rates": rates, "seconds": args.seconds, "runs": []}
    with broker(root / "broker") as bootstrap:
        bench = Bench(bootstrap, root, 4)
        _one(bench, "warm-up", {}, rates[:1], 2.0, args.users)  # JIT the broker, not timed
        for round_ in range(args.rounds):
            for name, env in args.variant:
                figures = _one(bench, name, env, rates, args.seconds, args.users)
                report["runs"].append({"variant": name, "env": env, "round": round_} | figures)
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"latency-probe-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(report, indent=1))
    print(f"written {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
