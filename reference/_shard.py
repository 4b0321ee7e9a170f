"""Shard selection exactly as the seed does it (SPEC.md R2.3)."""

from __future__ import annotations

FNV32_OFFSET = 0x811C9DC5
FNV32_PRIME = 0x01000193


def fnv1a_32(data: bytes) -> int:
    """The 32-bit FNV-1a hash of ``data``."""
    h = FNV32_OFFSET
    for byte in data:
        h = ((h ^ byte) * FNV32_PRIME) & 0xFFFFFFFF
    return h


def shard_of(user: bytes, shard_count: int) -> int:
    """Index of the shard that owns ``user``: ``fnv1a_32(user) % shard_count``."""
    return fnv1a_32(user) % shard_count
