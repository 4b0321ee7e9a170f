"""Identification: the identifier protocol, passkeys and the allow-list (R1)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from ref_helpers import counts, ih, make, pid, req, state_doc, uid

from privtrak.reference import (
    AnnounceRequest,
    IdentificationError,
    Outcome,
    PasskeyIdentifier,
    RejectCode,
    Tracker,
    UserId,
    default_config,
    parse_passkey,
    passkey_credential,
)

PK = "00112233445566778899aabbccddeeff"
PK_ID = bytes(range(0x00, 0x100, 0x11))


def test_path_form_decodes_to_sixteen_bytes() -> None:
    """R1.1: /<32 hex>/announce decodes to the 16 id bytes."""
    assert PK_ID == b"\x00\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb\xcc\xdd\xee\xff"
    assert parse_passkey(f"/{PK}/announce") == PK_ID
    assert parse_passkey(f"/{PK.upper()}/announce") == PK_ID
    assert parse_passkey(f"/{PK}/announce?info_hash=x&port=1") == PK_ID


def test_query_form_and_agreeing_forms() -> None:
    """R1.1: ?passkey=<32 hex> on any path; both forms may appear if they agree."""
    assert parse_passkey(f"/announce?passkey={PK}") == PK_ID
    assert parse_passkey(f"/announce?port=1&passkey={PK}&left=0") == PK_ID
    assert parse_passkey(f"/{PK}/announce?passkey={PK}") == PK_ID


@pytest.mark.parametrize(("credential", "says"), [
    ("/announce", "no passkey"),
    ("", "no passkey"),
    (f"/{PK}/scrape", "no passkey"),
    (f"/x/{PK}/announce", "no passkey"),
    (f"/{PK[:-1]}/announce", "not 31"),
    (f"/{PK}0/announce", "not 33"),
    (f"/announce?passkey={PK[:-2]}", "not 30"),
    (f"/{PK[:-1]}g/announce", "not hexadecimal"),
    (f"/{PK[:-2]}-1/announce", "not hexadecimal"),
    ("/announce?passkey=001122 3344556677 8899aabbccddee", "not hexadecimal"),
    ("/announce?passkey=001122+3344556677+8899aabbccddee", "not hexadecimal"),
    (f"/{PK}/announce?passkey={PK[::-1]}", "conflicting"),
])
def test_malformed_passkeys_are_bad_credentials(credential: str, says: str) -> None:
    """R1.1: missing, short, long, non-hex (also embedded spaces) or conflicting passkeys."""
    with pytest.raises(IdentificationError) as exc:
        parse_passkey(credential)
    assert exc.value.code is RejectCode.BAD_CREDENTIAL
    assert says in str(exc.value)


def test_canonical_credential_round_trips() -> None:
    """R1.1: passkey_credential gives /<lowercase hex>/announce."""
    assert passkey_credential(UserId(PK_ID)) == f"/{PK}/announce"
    for user in (uid(0), uid(15), UserId(bytes(range(16)))):
        assert parse_passkey(passkey_credential(user)) == user


def test_refused_announce_changes_nothing() -> None:
    """R1: a refusal is a rejected result with the identifier's code and no state change."""
    t = make("seed", batch_size=1)
    t.announce(req(up=5), now=1)
    before, before_counts = state_doc(t), counts(t)
    bad = AnnounceRequest("/announce", ih(1), pid(1), 500, 500, 0)
    result = t.announce(bad, now=1)
    assert result.outcome is Outcome.REJECTED
    assert result.reject is RejectCode.BAD_CREDENTIAL
    assert (result.user, result.record, result.flush) == (None, None, None)
    assert (result.credited_up, result.attributed_up) == (0, 0)
    assert "no passkey" in result.message
    assert state_doc(t) == before
    assert counts(t)["reject.bad_credential"] == 1
    assert counts(t)["outcome.rejected"] == before_counts.get("outcome.rejected", 0) + 1
    assert t.metrics().rejected["bad_credential"] == 1


def test_allow_list_refuses_unknown_users_on_every_announce() -> None:
    """R1.2: a well-formed passkey outside the allow-list is unknown_user; removing a user
    from a mutable allow-list refuses them from the next announce, cache or not."""
    allowed = {uid(1), uid(2)}
    t = Tracker(default_config(), PasskeyIdentifier(allowed), now=0)
    assert t.announce(req(user=1), now=0).outcome is Outcome.BASELINE
    stranger = t.announce(req(user=3), now=0)
    assert stranger.reject is RejectCode.UNKNOWN_USER
    assert uid(3).hex() in stranger.message
    allowed.discard(uid(1))
    revoked = t.announce(req(user=1, up=10), now=1)
    assert revoked.reject is RejectCode.UNKNOWN_USER
    assert t.entries()[0].uploaded == 0
    allowed.add(uid(3))
    assert t.announce(req(user=3), now=1).outcome is Outcome.BASELINE
    assert t.metrics().rejected["unknown_user"] == 2


def test_custom_identifiers_follow_the_protocol() -> None:
    """R1: any object with identify(request) -> UserId works; its refusal code is used."""

    class ByPeer:
        def identify(self, request: AnnounceRequest) -> UserId:
            if request.peer_id == pid(9):
                raise IdentificationError(RejectCode.UNKNOWN_USER, "peer 9 is banned")
            return uid(request.peer_id[0] - 0xC0)  # pid(n) starts with 0xC0 + n

    t = Tracker(default_config(), ByPeer(), now=0)
    ok = t.announce(AnnounceRequest("anything", ih(1), pid(1), 0, 0, 0), now=0)
    assert ok.user == uid(1)
    banned = t.announce(AnnounceRequest("anything", ih(1), pid(9), 0, 0, 0), now=0)
    assert (banned.reject, banned.message) == (RejectCode.UNKNOWN_USER, "peer 9 is banned")
    assert [e.user for e in t.entries()] == [uid(1)]


@given(st.binary(min_size=16, max_size=16), st.booleans(), st.booleans())
def test_any_user_id_round_trips_through_its_passkey(raw: bytes, upper: bool,
                                                     query: bool) -> None:
    """R1.1: every 16-byte id survives hex encoding in either case and either form."""
    hexed = raw.hex().upper() if upper else raw.hex()
    credential = f"/announce?passkey={hexed}" if query else f"/{hexed}/announce"
    assert parse_passkey(credential) == raw


@given(st.binary(min_size=16, max_size=16), st.integers(0, 31),
       st.characters(blacklist_characters="0123456789abcdefABCDEF/?&#=%+",
                     blacklist_categories=("Cs",)))
def test_any_non_hex_character_is_refused(raw: bytes, at: int, bad: str) -> None:
    """R1.1: replacing one character of a passkey with a non-hex one refuses it."""
    hexed = raw.hex()
    passkey = hexed[:at] + bad + hexed[at + 1:]
    with pytest.raises(IdentificationError) as exc:
        parse_passkey(f"/{passkey}/announce")
    assert exc.value.code is RejectCode.BAD_CREDENTIAL
