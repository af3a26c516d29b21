"""``nudge broker start|stop|status``: a local Kafka broker for development and tests."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from streams.runtime.broker import LocalBroker

DEFAULT_DATA_DIR = Path(".nudge/broker")


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "broker",
        help="run a local single-node Apache Kafka broker (KRaft, no Docker)",
        description="Start or stop a local Apache Kafka 4.x broker on 127.0.0.1. The first "
        "start fetches the jars from Maven Central (the pom shipped with the package) into "
        "deploy/kafka/libs of a checkout, ~/.cache/nudgeflow/kafka/libs of an install or "
        "$NUDGE_KAFKA_HOME/libs; later starts reuse them.",
    )
    actions = parser.add_subparsers(metavar="ACTION", required=True)
    start = actions.add_parser("start", help="format (first time) and start in the background")
    start.add_argument("--port", type=int, default=9092, help="client port (default 9092)")
    start.add_argument("--controller-port", type=int, help="KRaft controller port (default: free)")
    start.add_argument("--timeout", type=float, default=90, help="seconds to wait for readiness")
    start.add_argument(
        "--secure",
        action="store_true",
        help="TLS + SASL/SCRAM-SHA-512 clients only: makes a CA, a broker certificate and a "
        "user 'nudge' (first start of a data dir) and prints the NUDGE_* settings a client "
        "needs, as export lines",
    )
    start.set_defaults(func=_start)
    stop = actions.add_parser("stop", help="stop the broker started from --data-dir")
    stop.set_defaults(func=_stop)
    status = actions.add_parser("status", help="say whether it runs")
    status.set_defaults(func=_status)
    for action in (start, stop, status):
        action.add_argument(
            "--data-dir",
            type=Path,
            default=DEFAULT_DATA_DIR,
            help=f"broker storage, config, pid and log (default {DEFAULT_DATA_DIR})",
        )


def _start(args: argparse.Namespace) -> int:
    broker = LocalBroker(args.data_dir, args.port, args.controller_port, secure=args.secure)
    address = broker.start(timeout_seconds=args.timeout)
    if not args.secure:
        print(address)
        return 0
    # What a client needs, ready for `eval "$(nudge broker start --secure)"`: the password
    # as its file's path, never its value.
    for name, value in broker.client_settings().to_env().items():
        if name in _CLIENT_VARIABLES:
            print(f"export {name}={shlex.quote(value)}")
    return 0


_CLIENT_VARIABLES = (
    "NUDGE_BOOTSTRAP_SERVERS",
    "NUDGE_SECURITY_PROTOCOL",
    "NUDGE_SASL_MECHANISM",
    "NUDGE_SASL_USERNAME",
    "NUDGE_SASL_PASSWORD_FILE",
    "NUDGE_SSL_CA_FILE",
)


def _stop(args: argparse.Namespace) -> int:
    stopped = LocalBroker(args.data_dir).stop()
    print("stopped" if stopped else f"no broker running from {args.data_dir}")
    return 0


def _status(args: argparse.Namespace) -> int:
    pid = LocalBroker(args.data_dir).running_pid()
    print(f"running (pid {pid})" if pid else "not running")
    return 0 if pid else 1
