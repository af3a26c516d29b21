"""``nudge catalog``: print the arm catalog, or derive one from a log's arms."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

from model.catalog import load_catalog
from streams.apps.commands._common import add_columns_flag, settings_from


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "catalog",
        help="print the arm catalog (products x behavioural strategies)",
        description="Print the catalog the worker loads: the built-in one, or --catalog FILE. "
        "With --from-log LOG, write a catalog of the log's arms instead: another system's "
        "item ids become plain arms with neutral features (added to --catalog's arms when "
        "given), so `nudge worker --catalog` accepts the log's events.",
    )
    parser.add_argument("--catalog", type=Path, help="catalog JSON (env NUDGE_CATALOG_PATH)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--from-log", type=Path, metavar="LOG", help="derive from this log")
    add_columns_flag(parser)
    parser.add_argument("--out", type=Path, help="with --from-log: write the catalog here")
    parser.set_defaults(func=_show)


def _from_log(args: argparse.Namespace) -> int:
    from model.catalog import Catalog, catalog_doc, with_plain_arms
    from model.evaluation.arms import natural_order
    from model.events import Decision, Impression
    from streams.apps.commands._common import read_log_checked

    arms = {
        e.arm_id
        for e in read_log_checked(args.from_log, args.columns)
        if isinstance(e, Decision | Impression) and e.arm_id
    }
    base = load_catalog(args.catalog) if args.catalog else Catalog(())
    catalog = with_plain_arms(base, natural_order(arms))
    text = json.dumps(catalog_doc(catalog), indent=1)
    if args.out is None:
        print(text)
        return 0
    args.out.write_text(text + "\n")
    added = len(catalog) - len(base)
    print(f"{args.out}: {len(catalog)} arms ({added} from {args.from_log}, {len(arms)} in it)")
    return 0


def _show(args: argparse.Namespace) -> int:
    from streams.apps.commands._common import CommandError

    if args.from_log is not None:
        return _from_log(args)
    if args.columns is not None or args.out is not None:
        raise CommandError("--columns and --out go with --from-log LOG")
    path = args.catalog or settings_from(args).catalog_path
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
