"""Identification: from an announce to the 16-byte user id (SPEC.md R1).

A :class:`UserIdentifier` is any object with ``identify(request) -> UserId``
that raises :class:`IdentificationError` to refuse. The tracker turns that
error into a rejected announce with the error's code; it changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Container
from typing import Protocol
from urllib.parse import parse_qs

from ._errors import PrivtrakError
from ._types import AnnounceRequest, RejectCode, UserId

PASSKEY_HEX_LEN = 32
# Strict: bytes.fromhex alone would skip embedded whitespace and decode fewer bytes.
_PASSKEY_RE = re.compile(r"[0-9A-Fa-f]{32}")


class IdentificationError(PrivtrakError):
    """The announce does not identify a user; ``code`` says why."""

    def __init__(self, code: RejectCode, message: str) -> None:
        self.code = code
        super().__init__(message)


class UserIdentifier(Protocol):
    """Derives the user id of an announce (the seed's ``DeriveID``)."""

    def identify(self, request: AnnounceRequest) -> UserId:
        """Return the 16-byte user id, or raise :class:`IdentificationError`."""
        ...


def parse_passkey(credential: str) -> UserId:
    """Extract and decode the passkey of a request target (SPEC.md R1.1).

    The grammar: ``target = path [ "?" query ]``, no fragment. The passkey is
    32 hexadecimal characters (either case). It comes from the path when the
    path is exactly ``/<passkey>/announce`` (two segments, no trailing
    slash, taken literally), and from the query's ``passkey`` parameter
    (percent-decoded like any query value; other parameters are allowed, a
    repeated ``passkey`` is not). Both may be present if they decode to the
    same 16 bytes. Raises :class:`IdentificationError` with
    ``BAD_CREDENTIAL`` otherwise, naming the credential and what is wrong.
    """
    if "#" in credential:
        raise IdentificationError(
            RejectCode.BAD_CREDENTIAL,
            f"{credential!r} has a fragment ('#'); a request target never carries one")
    path, _, query = credential.partition("?")
    segments = path.split("/")
    path_key = segments[1] if (len(segments) == 3 and segments[0] == ""
                               and segments[2] == "announce") else None
    query_keys = parse_qs(query, keep_blank_values=True).get("passkey", [])
    if len(query_keys) > 1:
        raise IdentificationError(RejectCode.BAD_CREDENTIAL,
                                  f"the passkey parameter is repeated in {credential!r}")
    candidates = [k for k in (path_key, *query_keys) if k is not None]
    if not candidates:
        raise IdentificationError(
            RejectCode.BAD_CREDENTIAL,
            f"no passkey in {credential!r}: expected /<passkey>/announce (exactly two path "
            "segments, no trailing slash) or a passkey=<passkey> query parameter")
    users = {_decode_passkey(k) for k in candidates}
    if len(users) > 1:
        raise IdentificationError(
            RejectCode.BAD_CREDENTIAL,
            f"conflicting passkeys in {credential!r}: the path and the query differ")
    return users.pop()


def _decode_passkey(passkey: str) -> UserId:
    if len(passkey) != PASSKEY_HEX_LEN:
        raise IdentificationError(
            RejectCode.BAD_CREDENTIAL,
            f"passkey {passkey!r} must be {PASSKEY_HEX_LEN} hex characters, not {len(passkey)}",
        )
    if _PASSKEY_RE.fullmatch(passkey) is None:
        raise IdentificationError(RejectCode.BAD_CREDENTIAL,
                                  f"passkey {passkey!r} is not hexadecimal")
    return UserId(bytes.fromhex(passkey))


class PasskeyIdentifier:
    """The identifier trackers use: a 32-hex passkey decoded to the user id.

    With ``allowed``, a well-formed passkey outside it is refused with
    ``UNKNOWN_USER``; membership is checked on every announce, so a user
    removed from a mutable ``allowed`` is refused from then on. Decoded ids
    are cached per credential string (bounded by ``cache_limit``).
    """

    def __init__(self, allowed: Container[UserId] | None = None,
                 cache_limit: int = 1 << 20) -> None:
        self._allowed = allowed
        self._cache: dict[str, UserId] = {}
        self._cache_limit = cache_limit

    def identify(self, request: AnnounceRequest) -> UserId:
        """See :class:`UserIdentifier`."""
        credential = request.credential
        user = self._cache.get(credential)
        if user is None:
            user = parse_passkey(credential)
            if len(self._cache) >= self._cache_limit:
                self._cache.clear()
            self._cache[credential] = user
        if self._allowed is not None and user not in self._allowed:
            raise IdentificationError(RejectCode.UNKNOWN_USER,
                                      f"passkey {user.hex()} is not registered")
        return user


def passkey_credential(user: UserId) -> str:
    """The canonical request target for ``user``: ``/<hex>/announce``."""
    return f"/{user.hex()}/announce"
