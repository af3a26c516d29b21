"""The pure step: ``(user state, event) -> (user state, decision | None, outcome)``.

The Faust agent, offline replay and unit tests all call ``Engine.step``; nothing here
knows about Kafka. Redelivered events are recognised by the source offset stored in
the user's state and change nothing; a request repeated under a new offset (a producer
retry) is recognised by its ``event_id`` and answered with the stored decision.

A request goes: candidates (request's list or every active arm; retired arms dropped)
-> guardrails (``model.guardrails``: cool-down, frequency cap, eligibility) -> scores ->
policy. A blocked request still yields a decision, with ``arm_id`` None and ``reason``.
A request with ``logged`` (another system's decision, replayed) names one candidate, and
its decision records the logged propensity, policy and model version.
The step's values (config, source, result, ids) live in ``model.step_values`` (re-exported
here), the records and wire decisions it builds in ``model.step_records``, and its
per-engine lookups in ``model.step_arrays``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import msgspec
import numpy as np

from model.bandit import Policy, PolicyContext
from model.bandit.estimates import ArmArrays
from model.catalog import Catalog
from model.events import (
    Conversion,
    Decision,
    DecisionRequest,
    Event,
    Impression,
)
from model.guardrails import screen
from model.online import OnlineLinear
from model.reward import already_credited, attribute, credit, event_reward, note_purchase
from model.scoring import ConstantScorer, Scorer
from model.step_arrays import CandidateSet, PooledStats
from model.step_records import LOGGED_MARKER, as_logged, decision_of, no_nudge_record
from model.step_values import (
    ORPHAN_IMPRESSION,
    EngineConfig,
    Outcome,
    Source,
    StepResult,
    decision_id_for,
    rng_for,
)
from state import (
    ArmStats,
    DecisionRecord,
    UserState,
    apply_decision,
    decay,
    decision_index,
    find_decision,
    impress_decision,
    mark_applied,
)

__all__ = ["ORPHAN_IMPRESSION", "Engine", "EngineConfig", "Outcome", "Source", "StepResult"]
__all__ += ["LOGGED_MARKER", "decision_id_for", "rng_for"]


_CACHED_CANDIDATE_SETS = 256  # distinct candidate lists whose lookups are kept per engine
# the outcomes of every event, read from module globals: an enum member read from its
# class goes through the enum metaclass's attribute hook (about 100 ns each on 3.11)
_APPLIED, _DECIDED, _REJECTED = Outcome.APPLIED, Outcome.DECIDED, Outcome.REJECTED


class Engine:
    """Decides and learns for one user at a time. Swap ``scorer``/``catalog``/``population``
    (pooled ``arm_id -> ArmStats`` of all users, e.g. folded with ``state.merge_arms``)/
    ``online`` atomically by building a new engine with the ``with_*`` methods.

    ``online``: the model learnt while serving (``model.online``). Until a trained model
    is loaded it gives the scores and, per candidate, the prior's strength
    (``PolicyContext.prior_strength``); a trained model takes over once loaded, and an
    online model fitted on another catalog is not used."""

    def __init__(
        self,
        catalog: Catalog,
        policy: Policy,
        scorer: Scorer,
        config: EngineConfig | None = None,
        population: Mapping[str, ArmStats] | None = None,
        online: OnlineLinear | None = None,
    ) -> None:
        self.catalog = catalog
        self.policy = policy
        self.scorer = scorer
        self.config = config or EngineConfig()
        self.population = population
        self.online = online
        # per-engine constants of the decision path, built once (the engine is immutable)
        self._pooled = None if population is None else PooledStats(catalog, population)
        self._candidate_sets: dict[tuple[str, ...], CandidateSet] = {}
        self._model_loaded = not isinstance(scorer, ConstantScorer)
        self._online: OnlineLinear | None = None  # serves only on the catalog it was fit on
        if online is not None and not self._model_loaded and online.arm_ids == catalog.arm_ids:
            self._online = online
        self._last_candidates: Sequence[str] | None = None  # with _last_set: a one-entry memo
        self._last_set = CandidateSet(catalog, ())
        self._arm_ids = frozenset(catalog.arm_ids)  # `in catalog` without its method call

    def with_scorer(self, scorer: Scorer) -> Engine:
        return Engine(self.catalog, self.policy, scorer, self.config, self.population, self.online)

    def with_catalog(self, catalog: Catalog) -> Engine:
        return Engine(catalog, self.policy, self.scorer, self.config, self.population, self.online)

    def with_population(self, population: Mapping[str, ArmStats] | None) -> Engine:
        return Engine(self.catalog, self.policy, self.scorer, self.config, population, self.online)

    def with_online(self, online: OnlineLinear | None) -> Engine:
        return Engine(self.catalog, self.policy, self.scorer, self.config, self.population, online)

    @property
    def model_loaded(self) -> bool:
        """False while the placeholder constant scorer serves (no trained model yet)."""
        return self._model_loaded

    def step(self, state: UserState, event: Event, source: Source | None = None) -> StepResult:
        if source is None:
            return self._apply(state, event)
        key, offset = source.key, source.offset
        if state.offsets.get(key, -1) >= offset:  # already_applied, written out
            return self._redelivered(state, event)
        if isinstance(event, Impression):  # the most frequent event: one new state value
            result = self._impress(state, event, (key, offset))
            if result.outcome is _APPLIED:
                return result  # offset marked already
        elif isinstance(event, DecisionRequest):  # likewise
            result = self._decide(state, event, (key, offset))
            if result.outcome is _DECIDED:
                return result  # offset marked already
        else:
            result = self._apply(state, event)
        if result.outcome is _REJECTED:
            return result
        applied = mark_applied(result.state, key, offset)
        return StepResult(applied, result.outcome, result.decision, result.reason, result.arm_id)

    def adopt(
        self,
        state: UserState,
        request: DecisionRequest,
        published: Decision,
        source: Source | None = None,
    ) -> StepResult:
        """Take ``published``, this request's decision as it was already sent out, instead
        of deciding again: the state as :meth:`step` would have left it had it chosen that
        decision (its arm, propensity, policy, model version, score or no-nudge reason).

        At least once, a request decided after the last checkpoint of a worker that then
        crashed comes again, to a state that never saw it; deciding again could choose
        otherwise (a model swapped or refitted in between), and the decision users were
        shown would not be the one the state keeps. A redelivered request, or one whose
        decision the state holds, is answered as :meth:`step` answers it; a ``published``
        decision of another request is ignored (the request is decided)."""
        decision_id = decision_id_for(request.event_id)
        if published.decision_id != decision_id or published.request_id != request.event_id:
            return self.step(state, request, source)
        applied = None if source is None else (source.key, source.offset)
        if applied is not None and state.offsets.get(applied[0], -1) >= applied[1]:
            return self._redelivered(state, request)
        if find_decision(state, decision_id) is not None:
            return self._redelivered(state, request)
        record = DecisionRecord(
            decision_id=decision_id,
            request_id=request.event_id,
            ts_ms=request.ts,
            arm_id=published.arm_id,
            propensity=published.propensity,
            explored=published.explored,
            policy=published.policy,
            model_version=published.model_version,
            score=published.score,
            reason=published.reason,
        )
        new_state = apply_decision(state, record, self.config.max_decisions_kept, applied=applied)
        decision = self._decision(request, record)
        return StepResult(new_state, Outcome.DECIDED, decision, record.reason)

    def _apply(self, state: UserState, event: Event) -> StepResult:
        if isinstance(event, DecisionRequest):
            return self._decide(state, event)
        if isinstance(event, Impression):
            return self._impress(state, event)
        return self._convert(state, event)

    def _decide(
        self, state: UserState, request: DecisionRequest, applied: tuple[str, int] | None = None
    ) -> StepResult:
        """``applied``: the source offset to mark in the same new state when it decides."""
        decision_id = decision_id_for(request.event_id)
        if find_decision(state, decision_id) is not None:
            return self._redelivered(state, request)  # a producer retry at a new offset
        candidates = self._candidates(request)
        if isinstance(candidates, str):
            return StepResult(state, Outcome.REJECTED, reason=candidates)
        screening = screen(
            self.config.guardrails, self.catalog, state, request.context, candidates, request.ts
        )
        if screening.reason is not None:
            record = self._no_nudge(request, decision_id, screening.reason)
        else:
            record = self._choose(state, request, decision_id, screening.candidates)
        new_state = apply_decision(state, record, self.config.max_decisions_kept, applied=applied)
        decision = self._decision(request, record)
        return StepResult(new_state, _DECIDED, decision, record.reason)

    def _candidates(self, request: DecisionRequest) -> Sequence[str] | str:
        if request.logged is not None and len(set(request.candidates or ())) != 1:
            return "invalid_value"  # a logged decision pins exactly one arm
        if request.candidates is None:
            return self.catalog.active_ids  # the catalog's own tuple: its lookups are cached
        if self.catalog.unknown(request.candidates):
            return "unknown_arm"
        retired = self.catalog.retired
        return list(dict.fromkeys(a for a in request.candidates if a not in retired))

    def _candidate_set(self, candidates: Sequence[str]) -> CandidateSet:
        """Lookups of ``candidates``, kept for the few distinct lists requests use (the
        active arms, filtered per risk level): building them costs more than a decision."""
        if candidates is self._last_candidates:  # consecutive requests mostly share one list
            return self._last_set
        key = tuple(candidates)
        found = self._candidate_sets.get(key)
        if found is None:
            if len(self._candidate_sets) >= _CACHED_CANDIDATE_SETS:
                self._candidate_sets.clear()  # lists sent by requests: keep memory bounded
            found = self._candidate_sets[key] = CandidateSet(self.catalog, candidates)
        self._last_candidates, self._last_set = candidates, found
        return found

    def _stats(
        self, arms: Mapping[str, ArmStats], candidates: CandidateSet, now_ms: int
    ) -> ArmArrays:
        """The user's statistics per candidate as of ``now_ms`` (decayed when a half-life is
        set). A user has seen few arms: only those are visited, the rest stay zero."""
        positions = candidates.positions
        seen = [(positions[a], s) for a, s in arms.items() if a in positions]
        if not seen:
            return candidates.unseen
        counts = np.zeros((3, len(positions)))
        half_life = self.config.half_life_seconds
        for i, stats in seen:
            if half_life is not None:
                stats = decay(stats, now_ms, half_life)
            counts[:, i] = stats.impressions, stats.conversions, stats.reward_sum
        return ArmArrays(counts[0], counts[1], counts[2])

    def _context(self, request: DecisionRequest, candidates: CandidateSet) -> PolicyContext:
        population = None
        if self._pooled is not None:
            half_life = self.config.half_life_seconds
            population = self._pooled.at(candidates.rows, request.ts, half_life)
        return PolicyContext(request.context, population, self._model_loaded)

    def _choose(
        self,
        state: UserState,
        request: DecisionRequest,
        decision_id: str,
        candidates: Sequence[str],
    ) -> DecisionRecord:
        lookups = self._candidate_set(candidates)
        stats = self._stats(state.arms, lookups, request.ts)
        scores, version, context = self._scored(state, request, candidates, lookups)
        rng = rng_for(request.event_id)
        choice = self.policy.choose(stats, scores, candidates, rng, context=context)
        record = DecisionRecord(
            decision_id=decision_id,
            request_id=request.event_id,
            ts_ms=request.ts,
            model_version=version,
            arm_id=candidates[choice.index],
            propensity=choice.propensity,
            explored=choice.explored,
            policy=choice.policy or self.policy.name,
            score=float(scores[choice.index]),
        )
        return record if request.logged is None else as_logged(record, request.logged)

    def _scored(
        self,
        state: UserState,
        request: DecisionRequest,
        candidates: Sequence[str],
        lookups: CandidateSet,
    ) -> tuple[np.ndarray, str, PolicyContext]:
        """``(scores (n,), model version, policy context)`` of one decision."""
        context = self._context(request, lookups)
        if self._online is None:
            scores = np.asarray(self.scorer.score(request.context, state, candidates), float)
            return scores, self.scorer.version, context
        # no trained model yet: the online model's prior, with its own strength per arm
        prior = self._online.prior(request.context, lookups.rows)
        context = msgspec.structs.replace(context, model_loaded=True, prior_strength=prior.strength)
        return prior.mean, self._online.version, context

    def _no_nudge(self, request: DecisionRequest, decision_id: str, reason: str) -> DecisionRecord:
        return no_nudge_record(request, decision_id, reason, self.scorer.version, self.policy.name)

    def _decision(self, request: DecisionRequest, record: DecisionRecord) -> Decision:
        return decision_of(self.catalog, request, record)

    def _redelivered(self, state: UserState, event: Event) -> StepResult:
        """Answer a repeated request with its stored decision; other repeats change nothing."""
        record = None
        if isinstance(event, DecisionRequest):
            record = find_decision(state, decision_id_for(event.event_id))
        if record is None or not isinstance(event, DecisionRequest):
            return StepResult(state, Outcome.DUPLICATE)
        return StepResult(state, Outcome.DUPLICATE, self._decision(event, record))

    def _impress(
        self, state: UserState, impression: Impression, applied: tuple[str, int] | None = None
    ) -> StepResult:
        """Count an impression once per decision; a decision impressed before is a repeat.
        ``applied``: the source offset to mark in the same new state when it applies."""
        if impression.arm_id not in self._arm_ids:
            return StepResult(state, Outcome.REJECTED, reason="unknown_arm")
        index = decision_index(state, impression.decision_id)
        if index < 0:  # no such decision (or one too old to remember): not evidence
            return StepResult(state, Outcome.ORPHAN, reason=ORPHAN_IMPRESSION)
        record = state.decisions[index]
        if record.arm_id != impression.arm_id:
            return StepResult(state, Outcome.REJECTED, reason="arm_mismatch")
        if record.impressed_ms is not None:
            return StepResult(state, Outcome.DUPLICATE, reason="already_impressed")
        half_life = self.config.half_life_seconds
        new_state = impress_decision(
            state, index, impression.ts, half_life_seconds=half_life, applied=applied
        )
        return StepResult(new_state, _APPLIED, arm_id=impression.arm_id)

    def _convert(self, state: UserState, conversion: Conversion) -> StepResult:
        weight = self.config.reward_weights.get(conversion.kind)
        if weight is None:
            return StepResult(state, Outcome.REJECTED, reason="unknown_conversion_kind")
        config = self.config
        reward = event_reward(weight, conversion.value, config.reward_cap)
        if reward is None:
            return StepResult(state, Outcome.REJECTED, reason="invalid_value")
        record = attribute(state, conversion, config.attribution_window_seconds)
        if not isinstance(record, str) and already_credited(record, conversion):
            return StepResult(state, Outcome.DUPLICATE, reason="already_credited")
        state = note_purchase(state, conversion, config.purchase_kinds)
        if isinstance(record, str):
            return StepResult(state, Outcome.ORPHAN, reason=record)
        success = conversion.kind in config.success_kinds
        new_state = credit(state, record, conversion, reward, success, config.half_life_seconds)
        return StepResult(new_state, _APPLIED, arm_id=record.arm_id)
