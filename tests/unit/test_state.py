"""State semantics: decay, merge, codec compatibility, stores."""

from __future__ import annotations

import pytest

from state import (
    ArmStats,
    DecisionRecord,
    InMemoryStore,
    RocksStore,
    StateCodecError,
    UserState,
    apply_impression,
    decay,
    decode_state,
    encode_state,
    merge,
    merge_arms,
)

# Bytes written by the first release's codec (commit 1f2490d); they must always decode.
GOLDEN_V1 = bytes.fromhex(
    "0185a461726d7381bb736176696e67735f706c616e3a64656661756c745f6f7074696f6e84ab696d7072"
    "657373696f6e73cb4008000000000000ab636f6e76657273696f6e73cb3ff0000000000000aa726577"
    "6172645f73756dcb3ff3333333333333ac6c6173745f7365656e5f6d73cf0000018bcfe56800a76f66"
    "667365747381b36e756467652e696d7072657373696f6e732f3029a96465636973696f6e73928bab64"
    "65636973696f6e5f6964a3642d31aa726571756573745f6964a3722d31a574735f6d73cf0000018bcf"
    "e56800a661726d5f6964bb736176696e67735f706c616e3a64656661756c745f6f7074696f6eaa7072"
    "6f70656e73697479cb3fd0000000000000a86578706c6f726564c3a6706f6c696379ae657073696c6f"
    "6e2d677265656479ad6d6f64656c5f76657273696f6ea8636f6e7374616e74a573636f7265cb3fb999"
    "999999999aac696d707265737365645f6d73cf0000018bcfe56be8a9636f6e766572746564c384ab64"
    "65636973696f6e5f6964a3642d32aa726571756573745f6964a3722d32a574735f6d73cf0000018bcf"
    "e56fd0a6726561736f6ead6672657175656e63795f636170a96e75646765735f6d7391cf0000018bcf"
    "e56800b06c6173745f70757263686173655f6d73cf0000018bcfe573b8"
)


def test_states_written_by_the_first_release_still_decode() -> None:
    state = decode_state(GOLDEN_V1)
    stats = state.arms["savings_plan:default_option"]
    assert (stats.impressions, stats.conversions, stats.reward_sum) == (3.0, 1.0, 1.2)
    assert state.offsets == {"nudge.impressions/0": 41}
    assert state.decisions[0].converted and state.decisions[1].reason == "frequency_cap"
    assert state.last_purchase_ms == 1_700_000_003_000
    assert encode_state(state) == GOLDEN_V1


def test_unknown_codec_version_and_corrupt_bytes_are_refused() -> None:
    with pytest.raises(StateCodecError, match="version"):
        decode_state(b"\x07abc")
    with pytest.raises(StateCodecError, match="corrupt"):
        decode_state(b"\x01\xff\xff")
    assert decode_state(None) == UserState() == decode_state(b"")


def test_decay_halves_counts_every_half_life_and_keeps_last_seen() -> None:
    stats = ArmStats(impressions=8, conversions=4, reward_sum=2, last_seen_ms=0)
    later = decay(stats, 2 * 3_600_000, half_life_seconds=3600)
    assert (later.impressions, later.conversions, later.reward_sum) == (2, 1, 0.5)
    assert later.last_seen_ms == 0
    assert decay(stats, 10**9, None) == stats
    assert decay(stats, -5, 3600) == stats  # never grows


def test_merge_pools_two_users_and_decays_to_the_later_time() -> None:
    a = ArmStats(impressions=4, conversions=1, reward_sum=1, last_seen_ms=0)
    b = ArmStats(impressions=2, conversions=0, reward_sum=0, last_seen_ms=3_600_000)
    assert merge(a, b) == ArmStats(
        impressions=6, conversions=1, reward_sum=1, last_seen_ms=3_600_000
    )
    pooled = merge(a, b, half_life_seconds=3600)
    assert pooled.impressions == 4 and pooled.conversions == 0.5
    assert merge_arms({"x:y": a}, {"x:y": b, "z:w": b}) == {"x:y": merge(a, b), "z:w": b}


def test_apply_impression_with_half_life_decays_first() -> None:
    state = apply_impression(UserState(), "x:y", 0, half_life_seconds=60)
    state = apply_impression(state, "x:y", 60_000, half_life_seconds=60)
    assert state.arms["x:y"].impressions == 1.5


@pytest.mark.parametrize("kind", ["memory", "rocks"])
def test_stores_round_trip_a_state(kind: str, tmp_path: object) -> None:
    store = InMemoryStore() if kind == "memory" else RocksStore(f"{tmp_path}/db")
    state = UserState(decisions=(DecisionRecord(decision_id="d", request_id="r", ts_ms=1),))
    store.put("u1", state)
    assert store.get("u1") == state and store.get("u2") == UserState()
    assert list(store.users()) == ["u1"]
    store.close()
