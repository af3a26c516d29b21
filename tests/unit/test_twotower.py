"""Two-tower model: shapes with tiny tensors, losses, numpy serving, artifacts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from model.catalog import Arm, Product, Strategy, load_catalog
from model.scoring import Scorer
from model.twotower import ArtifactError, load_artifact, load_scorer, newest_valid
from model.twotower.dataset import build_examples, split_by_time, split_by_user
from model.twotower.losses import itemwise_pairwise, pointwise_bce, sample_itemwise_pairs
from model.twotower.network import NetworkConfig, TwoTower, export_weights
from model.twotower.pipeline import FitResult, fit, write
from model.twotower.scorer import NumpyTower
from model.twotower.train import TrainConfig, fit_platt
from state import UserState
from tests.unit.test_twotower_synthetic import preference_log

TINY = TrainConfig(epochs=1, hidden=(8,), embedding_dim=4, batch_size=64)


@pytest.fixture(scope="module")
def fitted() -> FitResult:
    examples = build_examples(preference_log(60, 5, seed=5))
    train, holdout = split_by_user(examples, 0.3)
    return fit(train, holdout, load_catalog(), TINY, version="v1")


@pytest.fixture
def artifact_dir(fitted: FitResult, tmp_path: Path) -> Path:
    return write(fitted, tmp_path)


# -- towers and losses ----------------------------------------------------------------------


def test_tower_shapes() -> None:
    model = TwoTower(NetworkConfig(user_dim=5, arm_dim=3, hidden=(7, 6), embedding_dim=4))
    users, arms = torch.randn(2, 5), torch.randn(2, 3)
    assert model(users, arms).shape == (2,)
    assert model.score_matrix(users, torch.randn(9, 3)).shape == (2, 9)
    assert model.user_tower(users).shape == (2, 4)


def test_numpy_towers_match_torch() -> None:
    torch.manual_seed(0)
    model = TwoTower(NetworkConfig(user_dim=5, arm_dim=3, hidden=(7,), embedding_dim=4))
    users, arms = torch.randn(6, 5), torch.randn(6, 3)
    weights = export_weights(model)
    u, a = NumpyTower.from_weights(weights, "user"), NumpyTower.from_weights(weights, "arm")
    expected = model(users, arms).detach().numpy()
    got = (u(users.numpy()) * a(arms.numpy())).sum(-1) + weights["bias"]
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_pointwise_bce_weights() -> None:
    logits, labels = torch.tensor([2.0, -1.0]), torch.tensor([1.0, 0.0])

    def nll(x: float) -> float:  # -log sigmoid(x)
        return float(np.log1p(np.exp(-x)))

    assert float(pointwise_bce(logits, labels)) == pytest.approx((nll(2.0) + nll(1.0)) / 2)
    only_first = pointwise_bce(logits, labels, torch.tensor([1.0, 0.0]))
    assert float(only_first) == pytest.approx(nll(2.0))


def test_pairwise_loss_prefers_the_truly_better_strategy() -> None:
    """Hand-made randomized exposures of one product: strategy 1 converted 3 of 4
    times, strategy 0 once in 4. Gradient descent on the pairwise loss over free
    per-strategy scores must rank strategy 1 first; so must the loss itself."""
    product = np.zeros(8, dtype=np.int64)
    strategy = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    labels = np.array([1, 0, 0, 0, 1, 1, 1, 0], dtype=np.float32)
    i, j = sample_itemwise_pairs(product, strategy, labels, 200, np.random.default_rng(0))
    assert len(i) > 0 and (labels[i] == 1).all() and (labels[j] == 0).all()
    assert (strategy[i] != strategy[j]).all()
    scores = torch.zeros(2, requires_grad=True)
    optimizer = torch.optim.SGD([scores], lr=0.5)
    for _ in range(50):
        optimizer.zero_grad()
        loss = itemwise_pairwise(scores[strategy[i]], scores[strategy[j]])
        loss.backward()
        optimizer.step()
    assert scores[1] > scores[0]
    right = itemwise_pairwise(torch.tensor([1.0]), torch.tensor([0.0]))
    wrong = itemwise_pairwise(torch.tensor([0.0]), torch.tensor([1.0]))
    assert right < wrong


def test_pairs_never_cross_products() -> None:
    rng = np.random.default_rng(1)
    product, strategy = rng.integers(0, 3, 300), rng.integers(0, 4, 300)
    labels = (rng.random(300) < 0.3).astype(np.float32)
    i, j = sample_itemwise_pairs(product, strategy, labels, 500, rng)
    assert len(i) > 100
    assert (product[i] == product[j]).all() and (strategy[i] != strategy[j]).all()


def test_platt_recovers_a_known_calibration() -> None:
    """Labels drawn from sigmoid(0.5 x - 1) for 20,000 points: the fit's standard errors
    are about 0.02, so 0.1 is a safe tolerance."""
    rng = np.random.default_rng(2)
    x = rng.normal(0, 2, 20_000)
    y = (rng.random(20_000) < 1 / (1 + np.exp(-(0.5 * x - 1)))).astype(float)
    a, b = fit_platt(x, y)
    assert a == pytest.approx(0.5, abs=0.1) and b == pytest.approx(-1.0, abs=0.1)


# -- data ---------------------------------------------------------------------------------


def test_examples_join_outcomes_without_leaking_the_future() -> None:
    events = preference_log(3, 4, seed=9)
    examples = build_examples(events)
    assert len(examples) == 12
    for user in {e.user_id for e in examples}:
        mine = [e for e in examples if e.user_id == user]
        for k, example in enumerate(mine):  # state before decision k holds k impressions
            assert sum(s.impressions for s in example.state.arms.values()) == k
            assert sum(s.conversions for s in example.state.arms.values()) == sum(
                m.label for m in mine[:k]
            )


def test_splits_do_not_leak() -> None:
    examples = build_examples(preference_log(40, 3, seed=4))
    train, held = split_by_user(examples, 0.25)
    assert {e.user_id for e in train}.isdisjoint({e.user_id for e in held})
    assert len(train) + len(held) == len(examples) and held
    early, late = split_by_time(examples, 0.25)
    assert max(e.ts_ms for e in early) <= min(e.ts_ms for e in late)


# -- serving and artifacts ----------------------------------------------------------------


def test_scorer_is_a_scorer_with_probabilities(artifact_dir: Path) -> None:
    catalog = load_catalog()
    scorer: Scorer = load_scorer(artifact_dir, catalog)
    probs = scorer.score({"age": 40, "region": "mars"}, UserState(), catalog.arm_ids[:5])
    assert probs.shape == (5,) and ((probs > 0) & (probs < 1)).all()
    assert scorer.version == "v1"


def test_arms_never_seen_get_scores_from_features(artifact_dir: Path) -> None:
    catalog = load_catalog()
    new = Arm(
        Product("robo_advisor", "investment", expected_return=0.09, risk_level=4),
        Strategy("streak_badge", "decision_assistance", gamified=True),
    )
    scorer = load_scorer(artifact_dir, catalog.with_arms([new]))
    probs = scorer.score({"age": 33}, UserState(), [new.arm_id, catalog.arm_ids[0]])
    assert np.isfinite(probs).all() and 0 < probs[0] < 1
    # an id the catalog lacks but whose parts it knows: scored from features too
    mixed = "equity_fund:default_option"
    assert 0 < scorer.score({}, UserState(), ["savings_plan:gain_framing", mixed])[1] < 1


def test_artifact_round_trip(fitted: FitResult, artifact_dir: Path) -> None:
    artifact = load_artifact(artifact_dir)
    assert artifact.version == "v1" and artifact.spec == fitted.artifact.spec
    for name, array in fitted.artifact.weights.items():
        np.testing.assert_array_equal(artifact.weights[name], array)
    assert artifact.metrics["auc"] == pytest.approx(fitted.metrics["auc"], nan_ok=True)
    assert artifact.data["examples"] > 0 and artifact.data["first_ts_ms"] > 0
    names = {p.name for p in artifact_dir.iterdir()}
    assert {"report.md", "calibration.png", "importance.png", "MANIFEST.json"} <= names
    assert (artifact_dir / "calibration.png").read_bytes()[:4] == b"\x89PNG"


def _rewrite(path: Path, name: str, payload: bytes) -> None:
    """Replace a file and fix the manifest, as someone would who wants it accepted."""
    import hashlib

    (path / name).write_bytes(payload)
    manifest = json.loads((path / "MANIFEST.json").read_text())
    manifest["files"][name] = hashlib.sha256(payload).hexdigest()
    (path / "MANIFEST.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda p: (p / "weights.safetensors").write_bytes(
            (p / "weights.safetensors").read_bytes()[:-7]), "checksum"),
        (lambda p: (p / "metrics.json").write_text("{}"), "checksum"),
        (lambda p: (p / "model.json").unlink(), "missing"),
        (lambda p: (p / "MANIFEST.json").unlink(), "MANIFEST"),
        (lambda p: (p / "MANIFEST.json").write_text("not json"), "artifact"),
        (lambda p: _rewrite(p, "weights.safetensors", b"\x00" * 16), "weights"),
        (lambda p: _rewrite(p, "model.json", json.dumps({"format": 99}).encode()), "format"),
        (lambda p: _rewrite(p, "features.json", (p / "features.json").read_text().replace(
            '"region"', '"county"').replace('"numeric": [', '"numeric": [["z", 0, 1], ').encode()),
         "disagree"),
    ],
)  # fmt: skip
def test_damaged_artifacts_are_rejected(artifact_dir: Path, damage, message: str) -> None:  # type: ignore[no-untyped-def]
    damage(artifact_dir)
    with pytest.raises(ArtifactError, match=message):
        load_scorer(artifact_dir, load_catalog())


def test_newest_valid_skips_broken_versions(fitted: FitResult, tmp_path: Path) -> None:
    from dataclasses import replace

    old = write(fitted, tmp_path)
    later = fitted.artifact.trained_at + 60
    newer = replace(fitted, artifact=replace(fitted.artifact, version="v2", trained_at=later))
    broken = write(newer, tmp_path)
    (broken / "weights.safetensors").write_bytes(b"garbage")
    artifact, errors = newest_valid(tmp_path)
    assert artifact is not None and artifact.path == old
    assert len(errors) == 1 and "checksum" in errors[0]


def test_versions_are_immutable(fitted: FitResult, artifact_dir: Path) -> None:
    with pytest.raises(ArtifactError, match="exists"):
        write(fitted, artifact_dir.parent)


def test_a_report_without_held_out_examples_says_so() -> None:
    from model.twotower.report import render_report

    files = render_report("v1", {"examples": 0, "note": "no held-out examples"}, {"examples": 3})
    assert set(files) == {"report.md"}
    assert b"Not evaluated: no held-out examples" in files["report.md"]
