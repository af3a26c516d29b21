"""Per-user arm statistics: value types, pure transitions, decay/merge, codec and stores."""

from state.aggregate import decay, decay_factor, merge, merge_all, merge_arms
from state.codec import CODEC_VERSION, StateCodecError, decode_state, encode_state
from state.stats import ArmStats, DecisionRecord, UserState
from state.stores import InMemoryStore, RocksStore, UserStore
from state.transitions import (
    already_applied,
    apply_decision,
    apply_impression,
    apply_reward,
    decision_index,
    find_decision,
    impress_decision,
    latest_impressed,
    mark_applied,
    replace_decision,
)

__all__ = [
    "CODEC_VERSION",
    "ArmStats",
    "DecisionRecord",
    "InMemoryStore",
    "RocksStore",
    "StateCodecError",
    "UserState",
    "UserStore",
    "already_applied",
    "apply_decision",
    "apply_impression",
    "apply_reward",
    "decay",
    "decay_factor",
    "decision_index",
    "decode_state",
    "encode_state",
    "find_decision",
    "impress_decision",
    "latest_impressed",
    "mark_applied",
    "merge",
    "merge_all",
    "merge_arms",
    "replace_decision",
]
