"""Composition root: settings -> catalog, policy, scorer, engine."""

from __future__ import annotations

from model.bandit import build_policy
from model.catalog import Catalog, load_catalog
from model.engine import Engine, EngineConfig
from model.guardrails import Guardrails
from model.scoring import ConstantScorer, Scorer
from streams.runtime.settings import Settings

__all__ = ["build_engine", "engine_config"]


def build_engine(
    settings: Settings, *, catalog: Catalog | None = None, scorer: Scorer | None = None
) -> Engine:
    """The engine the worker and offline replay run. Until a model is loaded the scorer is
    constant, so decisions rest on the policy and the user's own evidence."""
    return Engine(
        catalog or load_catalog(settings.catalog_path),
        build_policy(settings.policy, settings.policy_params),
        scorer or ConstantScorer(),
        engine_config(settings),
    )


def engine_config(settings: Settings) -> EngineConfig:
    """Reward, attribution, decay and guardrails from settings (validated when built)."""
    return EngineConfig(
        reward_weights=dict(settings.reward_weights),
        attribution_window_seconds=settings.attribution_window_seconds,
        half_life_seconds=settings.half_life_seconds,
        guardrails=Guardrails.from_mapping(dict(settings.guardrails)),
    )
