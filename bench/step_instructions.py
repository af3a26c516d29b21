"""The ``step`` and ``outcomes`` sections' workloads, run a given number of times under
an instruction counter: one event's instructions are the difference of two runs divided
by the events in between, so imports and set-up cancel out. Instruction counts do not
depend on the other jobs of a shared machine, where rates do.

    valgrind --tool=callgrind --callgrind-out-file=/dev/null \\
        python -m bench.step_instructions impressions 1     # then with 3: per impression
    # (Ir of 3 runs - Ir of 1 run) / (2 x 5,000)

``decisions`` is the ``step`` section's epsilon-greedy case (users without evidence), after one
unmeasured run that fills the per-engine and per-policy memos; ``impressions`` the
``outcomes`` section.
"""

from __future__ import annotations

import argparse
import sys

from bench.step import decisions_workload, outcomes_workload

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.step_instructions")
    parser.add_argument("workload", choices=("decisions", "impressions"))
    parser.add_argument("runs", type=int, help="how many times to run it (0: set-up only)")
    parser.add_argument("--events", type=int, default=5_000)
    parser.add_argument("--policy", default="epsilon-greedy")
    parser.add_argument("--arms", type=int, default=None)
    args = parser.parse_args(argv)
    if args.workload == "decisions":
        run = decisions_workload(args.policy, args.events, args.arms)
        run()  # fills the memos: the counted runs are the steady state
    else:
        run = outcomes_workload(args.events, args.arms)
    events = sum(run() for _ in range(args.runs))
    print(f"{args.workload}: {events} events in {args.runs} runs", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
