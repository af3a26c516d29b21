"""``python -m bench.kafka.latency_probe --variant``: what a variant gives the worker."""

from __future__ import annotations

import argparse
import json

import pytest

from bench.kafka.latency_probe import parse_variant


def test_client_properties_and_worker_settings() -> None:
    name, env = parse_variant(
        "low:p:linger.ms=0,c:fetch.min.bytes=1,e:NUDGE_COMMIT_INTERVAL_SECONDS=0.25"
    )
    assert name == "low"
    assert json.loads(env["NUDGE_PRODUCER_CONFIG"]) == {"linger.ms": 0}
    assert json.loads(env["NUDGE_CONSUMER_CONFIG"]) == {"fetch.min.bytes": 1}
    assert env["NUDGE_COMMIT_INTERVAL_SECONDS"] == "0.25"


def test_a_bare_name_changes_nothing() -> None:
    assert parse_variant("now") == ("now", {})


@pytest.mark.parametrize("item", ["x:linger.ms=1", "p:linger.ms", "e:PATH=/tmp"])
def test_bad_items_are_refused(item: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="bad variant item"):
        parse_variant(f"v:{item}")
