"""The issue's targets, checked against a kafka section report, and the markdown table
of the figures next to their same-run baselines and targets."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from bench.kafka.stats import Target, pick, ratio

__all__ = ["TARGETS", "check_targets", "markdown_table"]

TARGETS = {
    "state_updates": Target("state updates/s (thompson, 81 arms)", 15_000, True, "/s"),
    "decisions": Target("decisions/s (thompson, 81 arms)", 8_000, True, "/s"),
    "vs_engine": Target("state updates / engine's bare stateful job", 0.6, True, ""),
    "p99_500": Target("p99 at 500 requests/s", 10, False, "ms"),
    "p99_2000": Target("p99 at 2000 requests/s", 25, False, "ms"),
    "scale": Target("2 workers / 1 worker", 1.5, True, ""),
    "rss": Target("RSS at 10^6 users", 1024, False, "MiB"),
}
HEADLINE = "thompson-81-arms"


def _value(report: Mapping[str, Any], engine: str, key: str) -> float | None:
    base = ("engines", engine)
    found: Any
    if key in ("state_updates", "decisions"):
        found = pick(report, *base, "cases", HEADLINE, key, "events_per_second")
    elif key == "vs_engine":
        ours = pick(report, *base, "cases", HEADLINE, "state_updates", "events_per_second")
        bare = pick(report, "baselines", "quix_stateful", "events_per_second")
        found = None if ours is None or bare is None else ratio(ours, bare)
    elif key.startswith("p99_"):
        found = pick(report, *base, "latency", key[4:], "worker", "p99_ms")
    elif key == "scale":
        found = pick(report, *base, "scale", "speedup")
    else:
        full = pick(report, *base, "memory", "full") or {}
        recovered = full.get("users") == 10**6 and not full.get("stalled")
        found = full.get("rss_mib") if recovered else None  # mid-recovery RSS is no figure
    return None if found is None else float(found)


def check_targets(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per (engine, target) whose figure was measured."""
    rows = []
    for engine in sorted(pick(report, "engines") or {}):
        for key, target in TARGETS.items():
            value = _value(report, engine, key)
            if value is not None:
                rows.append({"engine": engine, "figure": target.name} | target.check(value))
    return rows


def _fmt(value: Any, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:,.{digits}f}" if isinstance(value, int | float) else str(value)


def _throughput_rows(engine: str, data: Mapping[str, Any], base: Mapping[str, Any]) -> list[str]:
    produce = pick(base, "consume_decode_produce", "events_per_second")
    stateful = pick(base, "quix_stateful", "events_per_second")
    rows = []
    for case, figures in (pick(data, "cases") or {}).items():
        d = pick(figures, "decisions", "events_per_second")
        u = pick(figures, "state_updates", "events_per_second")
        rows.append(
            f"| {engine} | decisions/s, {case} | {_fmt(d)} | bare consume+decode+produce "
            f"{_fmt(produce)} | {_fmt(ratio(d, produce) if d and produce else None, 3)} "
            "| >= 8,000 |"
        )
        e = pick(figures, "decisions_with_evidence", "events_per_second")
        if e is not None:
            rows.append(
                f"| {engine} | decisions/s, {case}, users with evidence | {_fmt(e)} | bare "
                f"consume+decode+produce {_fmt(produce)} | "
                f"{_fmt(ratio(e, produce) if e and produce else None, 3)} | >= 8,000 |"
            )
        rows.append(
            f"| {engine} | state updates/s, {case} | {_fmt(u)} | quix bare stateful "
            f"{_fmt(stateful)} | {_fmt(ratio(u, stateful) if u and stateful else None, 3)}"
            " | >= 15,000; >= 0.6 of bare |"
        )
    return rows


def _other_rows(engine: str, data: Mapping[str, Any]) -> list[str]:
    rows = []
    for rate, figures in (pick(data, "latency") or {}).items():
        w, e = figures.get("worker", {}), figures.get("echo", {})
        limit = {"500": 10, "2000": 25}.get(rate)
        cells = " / ".join(_fmt(w.get(k), 1) for k in ("p50_ms", "p95_ms", "p99_ms", "max_ms"))
        echo = " / ".join(_fmt(e.get(k), 1) for k in ("p50_ms", "p95_ms", "p99_ms", "max_ms"))
        cores = w.get("cores_used") or {}
        split = " / ".join(_fmt(cores.get(k), 2) for k in ("machine", "worker", "broker"))
        rows.append(
            f"| {engine} | latency p50/p95/p99/max ms at {rate}/s (lost "
            f"{_fmt(w.get('lost'))}; cores busy machine / worker / broker {split}) | {cells} "
            f"| broker echo {echo} | – | "
            f"{'p99 <= ' + str(limit) + ' ms' if limit else '–'} |"
        )
    one = pick(data, "scale", "one_worker", "decisions_per_second")
    two = pick(data, "scale", "two_workers", "decisions_per_second")
    if one is not None:
        busy = " / ".join(
            _fmt(pick(data, "scale", run, "machine_cores_busy"), 2)
            for run in ("one_worker", "two_workers")
        )
        rows.append(
            f"| {engine} | decisions/s, 2 workers (machine cores busy, 1 / 2 workers: {busy}) "
            f"| {_fmt(two)} | 1 worker {_fmt(one)} "
            f"| {_fmt(pick(data, 'scale', 'speedup'), 2)} | >= 1.5x |"
        )
    full, empty = pick(data, "memory", "full"), pick(data, "memory", "empty")
    if full is not None and empty is not None:
        growth = _fmt(ratio(full["rss_mib"], empty["rss_mib"]), 2)
        rows.append(
            f"| {engine} | RSS MiB, {full['users']:,} users | {_fmt(full['rss_mib'])} | "
            f"no users {_fmt(empty['rss_mib'])} | {growth} | <= 1,024 |"
        )
    return rows


def markdown_table(report: Mapping[str, Any]) -> str:
    """The kafka section's figures as one markdown table."""
    lines = [
        "| engine | figure | value | same-run baseline | ratio | target |",
        "|---|---|---:|---|---:|---|",
    ]
    base = pick(report, "baselines") or {}
    for engine, data in (pick(report, "engines") or {}).items():
        if "skipped" in data:
            lines.append(f"| {engine} | skipped: {data['skipped']} | | | | |")
            continue
        lines += _throughput_rows(engine, data, base) + _other_rows(engine, data)
    bare = pick(base, "consume_decode", "events_per_second")
    lines.append(f"| – | bare consume+decode events/s | {_fmt(bare)} | – | – | – |")
    return "\n".join(lines)
