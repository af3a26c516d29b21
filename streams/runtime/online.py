"""The online model in the worker (``model.online``): sums gathered per applied event,
refitted and swapped in by the maintenance thread, like the pooled statistics.

Impressions and conversions carry no context, so the tally keeps each user's latest
request context (bounded: the oldest users are forgotten first); an outcome of a user it
does not know (e.g. after a restart) is left out, as the pooled statistics start empty
after a restart too. Learning stops once a trained model is loaded (it then serves).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from model.engine import Engine
from model.online import ArmMoments, ContextEncoder, OnlineLinear
from state import ArmStats, UserState

__all__ = ["OnlineTally", "install_online", "refit"]

_MAX_USERS = 200_000


class OnlineTally:
    def __init__(self, encoder: ContextEncoder | None = None, max_users: int = _MAX_USERS) -> None:
        self.encoder = encoder or ContextEncoder()
        self.moments = ArmMoments(self.encoder.dim)
        self.max_users = max_users
        self._contexts: dict[bytes, Mapping[str, Any]] = {}

    @property
    def changed(self) -> bool:
        return self.moments.changed

    def note_request(self, key: bytes, context: Mapping[str, Any]) -> None:
        """Remember the context of ``key``'s latest request (one dict store)."""
        contexts = self._contexts
        contexts.pop(key, None)  # re-inserted last: the dict stays in recency order
        contexts[key] = context
        if len(contexts) > self.max_users:
            del contexts[next(iter(contexts))]

    def add_change(self, key: bytes, arm_id: str, before: UserState, after: UserState) -> None:
        """Add what one event changed in ``arm_id``'s statistics of user ``key``."""
        context = self._contexts.get(key)
        if context is None:
            return
        old, new = before.arms.get(arm_id, ArmStats()), after.arms.get(arm_id, ArmStats())
        shown, converted = new.impressions - old.impressions, new.conversions - old.conversions
        if shown or converted:
            self.moments.add(arm_id, self.encoder.encode(context), shown, converted)


def refit(engine: Engine, moments: ArmMoments, encoder: ContextEncoder) -> Engine:
    """``engine`` with an online model fitted on ``moments`` (a copy taken under the lock)."""
    return engine.with_online(OnlineLinear.fit(moments, engine.catalog, encoder))


def install_online(
    app: Any, holder: Any, tally: OnlineTally, interval_seconds: float = 5.0
) -> None:
    """The Faust engine's refit (its timer runs on the event loop, like the events)."""

    @app.timer(interval=interval_seconds)
    async def refit_online() -> None:
        if tally.changed and not holder.engine.model_loaded:
            holder.engine = refit(holder.engine, tally.moments.copy(), tally.encoder)
