"""Passkey checks for the server: the R1.1 grammar, a constant-time allow-list,
and passkeys kept out of logs.

The reference's :func:`~privtrak.reference.parse_passkey` decodes the
credential (R1.1). With an allow-list, the decoded id is looked up by its
SHA-256 digest (so the dictionary's hashing and probing see only a digest,
never the passkey's bytes) and the stored id is then compared with
``hmac.compare_digest``, whose time does not depend on where two ids differ.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

from privtrak.reference import (
    AnnounceRequest,
    IdentificationError,
    RejectCode,
    UserId,
    parse_passkey,
)

_CACHE_LIMIT = 1 << 18


def mask_passkey(text: str) -> str:
    """``text`` with every 32-hex run cut to its first 4 characters, for logs."""
    out: list[str] = []
    run = 0
    for ch in text:
        if ch in "0123456789abcdefABCDEF":
            run += 1
            if run <= 4:
                out.append(ch)
            elif run == 5:
                out.append("…")
        else:
            run = 0
            out.append(ch)
    return "".join(out)


class AllowListIdentifier:
    """A :class:`~privtrak.reference.UserIdentifier` for the server.

    ``allowed=None`` admits every well-formed passkey (an open tracker);
    otherwise a well-formed passkey outside the list is refused with
    ``unknown_user`` and a message that does not repeat it.
    """

    def __init__(self, allowed: Iterable[UserId] | None = None) -> None:
        self._allowed: dict[bytes, UserId] | None = None
        if allowed is not None:
            self._allowed = {hashlib.sha256(u).digest(): u for u in allowed}
        self._cache: dict[str, UserId] = {}

    def identify(self, request: AnnounceRequest) -> UserId:
        """See :class:`~privtrak.reference.UserIdentifier`."""
        credential = request.credential
        user = self._cache.get(credential)
        if user is None:
            try:
                user = parse_passkey(credential)
            except IdentificationError as exc:
                raise IdentificationError(exc.code, mask_passkey(str(exc))) from None
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[credential] = user
        allowed = self._allowed
        if allowed is not None:
            stored = allowed.get(hashlib.sha256(user).digest())
            if stored is None or not hmac.compare_digest(stored, user):
                raise IdentificationError(RejectCode.UNKNOWN_USER, "unknown passkey")
        return user
