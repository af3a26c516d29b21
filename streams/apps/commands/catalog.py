"""``nudge catalog``: print the arm catalog."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

from model.catalog import load_catalog


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "catalog",
        help="print the arm catalog (products x behavioural strategies)",
        description="Print the catalog the worker loads: the built-in one, or --catalog FILE.",
    )
    parser.add_argument("--catalog", type=Path, help="catalog JSON (env NUDGE_CATALOG_PATH)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.set_defaults(func=_show)


def _show(args: argparse.Namespace) -> int:
    from streams.runtime.settings import Settings

    path = args.catalog or Settings.from_env().catalog_path
    catalog = load_catalog(path)
    if args.json:
        rows = [
            {
                "arm_id": a.arm_id,
                **asdict(a.product),
                **asdict(a.strategy),
                "retired": a.arm_id in catalog.retired,
            }
            for a in catalog.arms
        ]
        print(json.dumps(rows, indent=2))
        return 0
    header = f"{'arm_id':42} {'family':22} {'risk':>4} {'return':>7} {'framing':8} {'urgency':>7}"
    print(header)
    for arm in catalog.arms:
        p, s = arm.product, arm.strategy
        retired = "  (retired)" if arm.arm_id in catalog.retired else ""
        print(
            f"{arm.arm_id:42} {s.family:22} {p.risk_level:>4} {p.expected_return:>7.3f} "
            f"{s.framing:8} {s.urgency:>7}{retired}"
        )
    print(f"{len(catalog)} arms, {len(catalog.retired)} retired")
    return 0
