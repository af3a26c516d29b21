"""Versioned binary codec of user state (MessagePack behind a one-byte version tag)."""

from __future__ import annotations

import msgspec

from state.stats import UserState

__all__ = ["CODEC_VERSION", "StateCodecError", "decode_state", "encode_state"]

CODEC_VERSION = 1
_TAG = bytes([CODEC_VERSION])
_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(UserState)


class StateCodecError(ValueError):
    """Stored bytes are not a user state this version can read."""


def encode_state(state: UserState) -> bytes:
    return _TAG + _encoder.encode(state)


def decode_state(data: bytes | None) -> UserState:
    """Decode stored bytes; ``None`` or empty bytes give a fresh state."""
    if not data:
        return UserState()
    if data[0] != CODEC_VERSION:
        raise StateCodecError(f"unknown state codec version {data[0]} (this build reads 1)")
    try:
        return _decoder.decode(data[1:])
    except msgspec.DecodeError as exc:
        raise StateCodecError(f"corrupt user state: {exc}") from exc
