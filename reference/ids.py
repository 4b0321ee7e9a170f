"""Readable identities built from small numbers, for vectors, tests and fuzzing.

Every part of privtrak that needs a few users, torrents and peers takes
them from here, so a byte string seen in a vector file, a test failure or a
fuzzer report reads the same everywhere:

* ``user(n)``: 15 bytes of ``n * 0x11``, then ``0x00`` (user 1 is ``1111...1100``);
* ``torrent(n)``: 20 bytes of ``0xA0 + n`` (torrent 1 is ``a1a1...a1``);
* ``peer(n)``: 20 bytes of ``0xC0 + n`` (peer 1 is ``c1c1...c1``).

``n`` is one hex digit, 0 to 15, for users; torrents go on to 31 and
peers to 63 (bytes 0xA0..0xBF and 0xC0..0xFF, so a torrent never has a
peer's bytes), for tests that need many. The user id's final zero byte
spreads users over shards (16 equal bytes would all hash to odd values, one
shard of two). Distinct numbers give distinct ids, and ids sort as their
numbers do (``user(1) < user(2)``), so entries listed in key order list in
number order. The conformance vectors are written with these ids: changing
them changes every published vector file.

Credentials (SPEC.md R1.1): :func:`passkey_path` is the canonical request
target of a user; :data:`CREDENTIAL_FORMS` the other forms of the grammar,
accepted or refused, as builders from a passkey; :data:`BAD_CREDENTIALS`
targets that name no user at all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ._identify import passkey_credential
from ._types import InfoHash, PeerId, UserId

__all__ = [
    "BAD_CREDENTIALS",
    "CREDENTIAL_FORMS",
    "CredentialForm",
    "passkey",
    "passkey_path",
    "peer",
    "torrent",
    "user",
]

def _number(kind: str, n: int, largest: int) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= largest:
        raise ValueError(f"{kind} number must be an integer from 0 to {largest}, got {n!r}")
    return n


def user(n: int) -> UserId:
    """User number ``n`` (0..15): 15 bytes of ``n * 0x11``, then ``0x00``.

    Raises ``ValueError`` naming ``n`` outside 0..15.
    """
    return UserId(bytes([_number("user", n, 15) * 0x11]) * 15 + b"\x00")


def torrent(n: int) -> InfoHash:
    """Torrent number ``n`` (0..31): 20 bytes of ``0xA0 + n``.

    Raises ``ValueError`` naming ``n`` outside 0..31 (beyond, the bytes would be
    those of a peer).
    """
    return InfoHash(bytes([0xA0 + _number("torrent", n, 31)]) * 20)


def peer(n: int) -> PeerId:
    """Peer number ``n`` (0..63): 20 bytes of ``0xC0 + n``.

    Raises ``ValueError`` naming ``n`` outside 0..63 (``0xC0 + n`` is one byte).
    """
    return PeerId(bytes([0xC0 + _number("peer", n, 0xFF - 0xC0)]) * 20)


def passkey(n: int) -> str:
    """The passkey of user ``n``: its id as 32 lowercase hex characters."""
    return user(n).hex()


def passkey_path(n: int) -> str:
    """The canonical request target of user ``n``: ``/<passkey>/announce``."""
    return passkey_credential(user(n))


@dataclass(frozen=True, slots=True)
class CredentialForm:
    """One form of request target (SPEC.md R1.1), built from a passkey."""

    name: str
    build: Callable[[str], str]
    """Passkey (32 lowercase hex characters) -> request target."""
    accepted: bool
    """Whether the identifier reads the passkey from it (else ``bad_credential``)."""


BAD_CREDENTIALS: tuple[str, ...] = (
    "/not-a-passkey/announce",
    "/" + "zz" * 16 + "/announce",
)
"""Request targets whose passkey is not 32 hex characters: refused ``bad_credential``."""

def _other_passkey(key: str) -> str:
    """A passkey that is not ``key``: user 2's, or user 3's when ``key`` is user 2's."""
    return passkey(2) if key != passkey(2) else passkey(3)


def _percent_first(key: str) -> str:
    """``key`` with its first character percent-encoded (``a`` -> ``%61``)."""
    return f"%{ord(key[0]):02x}{key[1:]}"


CREDENTIAL_FORMS: tuple[CredentialForm, ...] = (
    CredentialForm("path", lambda k: f"/{k}/announce", accepted=True),
    CredentialForm("upper-case-path", lambda k: f"/{k.upper()}/announce", accepted=True),
    CredentialForm("query-with-other-parameters",
                   lambda k: f"/announce?info_hash=x&passkey={k}&port=1", accepted=True),
    CredentialForm("both-forms-differing-case",
                   lambda k: f"/{k}/announce?passkey={k.upper()}", accepted=True),
    CredentialForm("percent-encoded-in-query",
                   lambda k: f"/announce?passkey={_percent_first(k)}", accepted=True),
    CredentialForm("trailing-slash", lambda k: f"/{k}/announce/", accepted=False),
    CredentialForm("three-segments", lambda k: f"/x/{k}/announce", accepted=False),
    CredentialForm("fragment", lambda k: f"/announce?passkey={k}#f", accepted=False),
    CredentialForm("repeated-parameter",
                   lambda k: f"/announce?passkey={k}&passkey={k}", accepted=False),
    CredentialForm("percent-encoded-in-path",
                   lambda k: f"/{_percent_first(k)}/announce", accepted=False),
    CredentialForm("conflicting-forms",
                   lambda k: f"/{k}/announce?passkey={_other_passkey(k)}", accepted=False),
)
"""Every form of request target of SPEC.md R1.1 for one passkey, the canonical
path form first, then the other accepted ones, then the refused ones (each
refused ``bad_credential``). The vector ``seed/R1.1/credential-forms`` shows
them all; the fuzzer draws them."""
