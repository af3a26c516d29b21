"""The event contract as JSON Schema (draft 2020-12), one schema per topic, generated from
the wire types (``model.events`` and :class:`streams.runtime.schemas.DeadLetter`): the one
source of truth. The generated files ship in this package (``*.schema.json``) and in the
repository (``deploy/contract/``); ``tests/unit/test_contract.py`` fails when they drift.

A schema says what one message value may hold. What it cannot say (the message key equals
``user_id``, the murmur2 partition, a JSON name given twice) is in each schema's
``description``; the edge decoder (:func:`streams.runtime.schemas.decode_event`) enforces
it all. Regenerate with ``nudge schema --write streams/runtime/contract`` (and
``--write deploy/contract``).
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import msgspec

from model.events import (
    SCHEMA_VERSION,
    TS_MIN_MS,
    Conversion,
    Decision,
    DecisionRequest,
    Impression,
)
from streams.runtime.schemas import REJECTION_REASONS, DeadLetter

__all__ = [
    "CONTRACT_TOPICS",
    "DRAFT",
    "INPUT_TOPICS",
    "packaged_schema",
    "schema_text",
    "topic_schema",
    "write_schemas",
]

DRAFT = "https://json-schema.org/draft/2020-12/schema"
ID_BASE = f"urn:nudgeflow:contract:{SCHEMA_VERSION}:"
# Topic kind -> the wire type of its values. Inputs are what producers write and the worker
# decodes at its edge; outputs are what the worker writes (every field always present).
CONTRACT_TOPICS: dict[str, type[msgspec.Struct]] = {
    "decision-requests": DecisionRequest,
    "decisions": Decision,
    "impressions": Impression,
    "conversions": Conversion,
    "dead-letter": DeadLetter,
}
INPUT_TOPICS = ("decision-requests", "impressions", "conversions")

_EDGE = (
    "Message value: one UTF-8 JSON object (at most NUDGE_MAX_EVENT_BYTES, 64 KiB by default). "
    "Message key: the user_id, as UTF-8 bytes (key_mismatch otherwise). Partition: "
    "murmur2(key) mod partitions, Kafka's default partitioner (Java's default; librdkafka "
    "and kcat: partitioner=murmur2_random), so a user's events share one partition number "
    "in every topic (wrong_partition otherwise). A JSON name given twice in one object is "
    "refused (duplicate_key). Fields not named here are ignored. The 'type' field is "
    "optional. Whatever breaks a rule goes to the dead-letter topic with its reason."
)
DESCRIPTIONS = {
    "decision-requests": "A request for a nudge for one user. The worker answers each with "
    "one message on the decisions topic whose request_id is this event_id. context: the "
    "user's features (keys 1-64 characters, numbers, short strings, booleans or null). "
    "candidates: the arm ids ('product:strategy') to choose from, every one in the "
    "catalog (unknown_arm otherwise); all arms when absent. logged: set only when replaying "
    "another system's logged decision (nudge replay --into kafka of an export): the one "
    "candidate is its arm, and the decision records logged.propensity, logged.policy and "
    "logged.model_version ('logged' when empty) instead of the worker's (invalid_value "
    f"unless candidates names exactly one arm). {_EDGE}",
    "impressions": "The nudge of a decision was shown to the user: decision_id and arm_id "
    "as the decision gave them (arm_mismatch, orphan_impression_unknown_decision "
    f"otherwise). {_EDGE}",
    "conversions": "The user did something worth a reward. kind: one of the worker's "
    "NUDGE_REWARD_WEIGHTS keys (click, dwell, purchase by default; unknown_conversion_kind "
    "otherwise). value: weighted and clipped to [0, 1] per event. decision_id: the "
    "decision it is credited to; when absent, the user's latest impression within the "
    f"attribution window (an orphan otherwise). {_EDGE}",
    "decisions": "The worker's answer to one decision request, keyed by user_id on the "
    "same partition number as the request. request_id: the request's event_id; "
    "decision_id and event_id: derived from it (a repeated request gets the same "
    "decision). arm_id, product_id, strategy_id: null when no nudge is shown, with the "
    "reason (a guardrail). propensity: the probability the policy chose this arm, in "
    "(0, 1] (for a request with logged: the logging policy's, as logged). ts: the "
    "request's event time. Every field is always present.",
    "dead-letter": "An event the worker refused, with why: reason (one of the listed "
    "values), detail (at most 500 characters), where it was read (source_topic, "
    "partition, offset), its key (null when it had none) and its value base64-encoded. "
    "Keyed like the refused event. Every field is always present.",
}


def topic_schema(kind: str) -> dict[str, Any]:
    """The JSON Schema of the values of the topic ``kind`` (e.g. ``"decisions"``)."""
    struct = CONTRACT_TOPICS[kind]
    generated = msgspec.json.schema(struct)
    body: dict[str, Any] = generated["$defs"][struct.__name__]
    properties: dict[str, Any] = body["properties"]
    properties["schema_version"] = {"const": SCHEMA_VERSION}
    if kind in INPUT_TOPICS:
        # The edge decoder takes the tag when present, does not require it, and refuses
        # event times before 2000-01-01 (the wire type itself allows any time from 0).
        body["required"] = [name for name in body["required"] if name != "type"]
        properties["ts"]["minimum"] = TS_MIN_MS
    else:
        body["required"] = list(properties)  # the worker's encoder writes every field
    if kind == "dead-letter":
        properties["reason"] = {"enum": list(REJECTION_REASONS)}
        properties["detail"]["maxLength"] = 500
    body.pop("title", None)
    body["description"] = DESCRIPTIONS[kind]
    return {
        "$schema": DRAFT,
        "$id": f"{ID_BASE}{kind}",
        "title": f"<prefix>{kind} (nudgeflow wire contract v{SCHEMA_VERSION})",
        **body,
    }


def schema_text(kind: str) -> str:
    """:func:`topic_schema` as the shipped files hold it (stable order, newline at end)."""
    return json.dumps(topic_schema(kind), indent=2, ensure_ascii=False) + "\n"


def write_schemas(directory: Path) -> list[Path]:
    """Write ``<kind>.schema.json`` for every topic into ``directory``; returns the paths."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for kind in CONTRACT_TOPICS:
        path = directory / f"{kind}.schema.json"
        path.write_text(schema_text(kind))
        paths.append(path)
    return paths


def packaged_schema(kind: str) -> str:
    """The schema file of ``kind`` as shipped inside the installed package."""
    if kind not in CONTRACT_TOPICS:
        raise KeyError(kind)
    return resources.files(__name__).joinpath(f"{kind}.schema.json").read_text()
