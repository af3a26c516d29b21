"""Versioned model artifacts: one directory per version, checked before anything is used.

Layout of ``<model_dir>/<version>/``::

    weights.safetensors   float32 tensors keyed like the torch state dict (never pickle)
    model.json            format, version, trained_at, network and training config,
                          calibration, base rate
    features.json         the FeatureSpec the model was trained with
    data.json             training data range (examples, users, first/last event time)
    metrics.json          held-out evaluation (AUC, log loss, calibration, importance...)
    report.md, *.png      the human-readable evaluation
    MANIFEST.json         {"format": 1, "files": {name: sha256 hex}} of every file above

An artifact is written into a hidden staging directory and renamed into place, so a
reader never sees half a version. :func:`load_artifact` verifies every checksum, the
formats, and that weight shapes fit the feature spec; any failure is an
:class:`ArtifactError` naming the artifact and what is wrong.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import shutil
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from model.features import FeatureSpec, FeatureSpecError

__all__ = [
    "FORMAT",
    "REQUIRED_FILES",
    "Artifact",
    "ArtifactError",
    "list_artifacts",
    "load_artifact",
    "newest_valid",
    "write_artifact",
]

FORMAT = 1
MANIFEST = "MANIFEST.json"
REQUIRED_FILES = ("weights.safetensors", "model.json", "features.json", "data.json", "metrics.json")
_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class ArtifactError(ValueError):
    """An artifact is missing, corrupt, truncated, tampered with or incompatible."""


@dataclass(frozen=True)
class Artifact:
    path: Path
    version: str
    trained_at: float  # unix seconds
    weights: Mapping[str, np.ndarray]
    spec: FeatureSpec
    model: Mapping[str, Any]
    metrics: Mapping[str, Any]
    data: Mapping[str, Any]


def check_version(version: str) -> str:
    if not _VERSION.match(version):
        raise ArtifactError(f"version {version!r} must match {_VERSION.pattern}")
    return version


def write_artifact(
    model_dir: Path,
    version: str,
    *,
    weights: Mapping[str, np.ndarray],
    model: Mapping[str, Any],
    spec: FeatureSpec,
    data: Mapping[str, Any],
    metrics: Mapping[str, Any],
    extras: Mapping[str, bytes] | None = None,
) -> Path:
    """Write and publish ``<model_dir>/<version>`` atomically; returns its path."""
    from safetensors.numpy import save

    check_version(version)
    target = Path(model_dir) / version
    if target.exists():
        raise ArtifactError(f"{target} exists already; versions are immutable")
    files: dict[str, bytes] = {
        "weights.safetensors": save({k: np.ascontiguousarray(v) for k, v in weights.items()}),
        "model.json": _json({**model, "format": FORMAT, "version": version}),
        "features.json": spec.to_json().encode(),
        "data.json": _json(data),
        "metrics.json": _json(metrics),
        **(extras or {}),
    }
    manifest = {"format": FORMAT, "files": {n: _sha256(b) for n, b in sorted(files.items())}}
    files[MANIFEST] = _json(manifest)
    staging = Path(model_dir) / f".staging-{version}-{uuid.uuid4().hex[:8]}"
    staging.mkdir(parents=True)
    try:
        for name, payload in files.items():
            (staging / name).write_bytes(payload)
        os.rename(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def load_artifact(path: str | Path) -> Artifact:
    """Read and verify an artifact directory. Raises :class:`ArtifactError`."""
    path = Path(path)
    try:
        files = _verified_files(path)
        model = json.loads(files["model.json"])
        if model.get("format") != FORMAT:
            raise ArtifactError(f"model format {model.get('format')!r}, this build reads {FORMAT}")
        spec = FeatureSpec.from_json(files["features.json"].decode())
        weights = _weights(files["weights.safetensors"])
        _check_shapes(weights, model, spec)
        return Artifact(
            path=path,
            version=check_version(str(model["version"])),
            trained_at=float(model["trained_at"]),
            weights=weights,
            spec=spec,
            model=model,
            metrics=json.loads(files["metrics.json"]),
            data=json.loads(files["data.json"]),
        )
    except ArtifactError as exc:
        raise ArtifactError(f"artifact {path}: {exc}") from None
    except (FeatureSpecError, ValueError, KeyError, TypeError, OSError) as exc:
        raise ArtifactError(f"artifact {path}: {exc!r}") from None


def list_artifacts(model_dir: str | Path) -> list[Path]:
    """Version directories in ``model_dir`` (published ones only), oldest name first."""
    root = Path(model_dir)
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and (p / MANIFEST).is_file())


def newest_valid(model_dir: str | Path) -> tuple[Artifact | None, list[str]]:
    """The most recently trained artifact that loads, and the errors of newer broken ones."""
    errors, found = [], []
    for path in list_artifacts(model_dir):
        try:
            found.append(load_artifact(path))
        except ArtifactError as exc:
            errors.append(str(exc))
    if not found:
        return None, errors
    return max(found, key=lambda a: (a.trained_at, a.version)), errors


def _verified_files(path: Path) -> dict[str, bytes]:
    if not (path / MANIFEST).is_file():
        raise ArtifactError(f"no {MANIFEST} (not an artifact, or not fully written)")
    manifest = json.loads((path / MANIFEST).read_bytes())
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ArtifactError(f"manifest format {manifest!r:.80} is not {FORMAT}")
    listed: dict[str, str] = manifest.get("files", {})
    missing = [n for n in REQUIRED_FILES if n not in listed]
    if missing:
        raise ArtifactError(f"manifest lacks required files {missing}")
    files = {}
    for name, digest in listed.items():
        if Path(name).name != name or name.startswith("."):
            raise ArtifactError(f"manifest names a file outside the artifact: {name!r}")
        try:
            payload = (path / name).read_bytes()
        except OSError:
            raise ArtifactError(f"{name} is missing") from None
        if _sha256(payload) != digest:
            raise ArtifactError(f"{name}: checksum mismatch (corrupt, truncated or modified)")
        files[name] = payload
    return files


def _weights(payload: bytes) -> dict[str, np.ndarray]:
    from safetensors import SafetensorError
    from safetensors.numpy import load

    try:
        weights = load(payload)
    except (SafetensorError, ValueError) as exc:
        raise ArtifactError(f"weights.safetensors unreadable: {exc}") from None
    for name, array in weights.items():
        if array.dtype != np.float32 or not np.isfinite(array).all():
            raise ArtifactError(f"weight {name} is not finite float32")
    return weights


def _check_shapes(
    weights: Mapping[str, np.ndarray], model: Mapping[str, Any], spec: FeatureSpec
) -> None:
    network = model["network"]
    first_user, first_arm = weights.get("user_tower.0.weight"), weights.get("arm_tower.0.weight")
    if first_user is None or first_arm is None or "bias" not in weights:
        raise ArtifactError("weights lack the towers' first layers or the bias")
    expected = {"user": (spec.user_dim, network["user_dim"], first_user.shape[1]),
                "arm": (spec.arm_dim, network["arm_dim"], first_arm.shape[1])}  # fmt: skip
    for tower, dims in expected.items():
        if len(set(dims)) != 1:
            raise ArtifactError(f"{tower} input sizes disagree (spec, config, weights): {dims}")
    a, b = model["calibration"]
    if not (math.isfinite(a) and math.isfinite(b)):
        raise ArtifactError("calibration is not finite")


def _sha256(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


def _json(doc: Any) -> bytes:
    return json.dumps(doc, indent=1, sort_keys=True, default=_plain).encode()


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
