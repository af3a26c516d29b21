"""The README's kcat walkthrough ("Integrating from another language"), parsed: each step
is a ``kcat`` command, and a consuming step's expected output (``key partition value``
lines). Used by the schema tests and by the test that runs the walkthrough for real."""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["README", "Step", "python_blocks", "walkthrough"]

README = Path(__file__).resolve().parents[1] / "README.md"
_BLOCK = re.compile(r"```(\w+)\n(.*?)```", re.S)


@dataclass(frozen=True)
class Step:
    command: str  # as in the README (shell)
    topic: str  # the full topic name, e.g. nudge.decisions
    produces: bool
    key: str | None = None  # produced: the key and the value
    value: str | None = None
    murmur2: bool = False  # produced with the contract's partitioner
    expected: tuple[tuple[str, int, dict[str, Any]], ...] = ()  # consumed: key, partition, value

    @property
    def kind(self) -> str:
        return self.topic.split(".", 1)[1]


def walkthrough(text: str | None = None) -> list[Step]:
    text = README.read_text() if text is None else text
    start, end = text.index("<!-- kcat-walkthrough -->"), text.index("<!-- /kcat-walkthrough -->")
    steps: list[Step] = []
    for lang, body in _BLOCK.findall(text[start:end]):
        if lang == "text":
            last = steps.pop()
            steps.append(Step(**{**last.__dict__, "expected": _lines(body)}))
            continue
        command = body.replace("\\\n", " ").strip()
        words = shlex.split(command)
        topic = words[words.index("-t") + 1]
        if "-P" not in words:
            steps.append(Step(command, topic, produces=False))
            continue
        printed = words[1].encode().decode("unicode_escape").rstrip("\n")
        key, value = printed.split("\t", 1)
        murmur2 = "partitioner=murmur2_random" in words
        steps.append(Step(command, topic, True, key, value, murmur2))
    return steps


def _lines(body: str) -> tuple[tuple[str, int, dict[str, Any]], ...]:
    found = []
    for line in body.strip().splitlines():
        key, partition, value = line.split(" ", 2)
        found.append((key, int(partition), json.loads(value)))
    return tuple(found)


def python_blocks(text: str | None = None) -> list[str]:
    text = README.read_text() if text is None else text
    return [body for lang, body in _BLOCK.findall(text) if lang == "python"]


def shell_command(step: Step, bootstrap: str, prefix: str) -> str:
    """The README's command against another broker and topic prefix."""
    return step.command.replace("127.0.0.1:9092", bootstrap).replace("-t nudge.", f"-t {prefix}")


def comparable(kind: str, value: dict[str, Any], prefix: str) -> dict[str, Any]:
    """A value as the README shows it: the topic prefix ``nudge.``, no wall-clock time."""
    value = dict(value)
    if kind == "dead-letter":
        value.pop("dead_lettered_at_ms", None)
        value["source_topic"] = "nudge." + value["source_topic"].removeprefix(prefix)
    return value
