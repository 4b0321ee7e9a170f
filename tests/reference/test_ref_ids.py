"""privtrak.reference.ids: the small-number identities every layer shares."""

from __future__ import annotations

import pytest

from privtrak.reference import IdentificationError, UserId, ids, parse_passkey


def test_the_bytes_are_the_documented_ones() -> None:
    assert ids.user(1) == bytes.fromhex("11" * 15 + "00")
    assert ids.user(15) == bytes.fromhex("ff" * 15 + "00")
    assert ids.user(0) == bytes(16)
    assert ids.torrent(1) == bytes.fromhex("a1" * 20)
    assert ids.torrent(31) == bytes.fromhex("bf" * 20)
    assert ids.peer(2) == bytes.fromhex("c2" * 20)
    assert ids.peer(63) == bytes.fromhex("ff" * 20)
    assert ids.passkey(3) == "33" * 15 + "00"
    assert ids.passkey_path(3) == "/" + "33" * 15 + "00/announce"


def test_distinct_numbers_give_distinct_ids_in_number_order() -> None:
    users = [ids.user(n) for n in range(16)]
    torrents = [ids.torrent(n) for n in range(32)]
    peers = [ids.peer(n) for n in range(64)]
    for made in (users, torrents, peers):
        assert sorted(made) == made and len(set(made)) == len(made)
    assert not set(torrents) & set(peers)


@pytest.mark.parametrize(("make", "bad"), [
    (ids.user, 16), (ids.user, -1), (ids.torrent, 32), (ids.peer, 64), (ids.user, True),
    (ids.peer, 1.0)])
def test_numbers_out_of_range_are_refused_by_name(make: object, bad: object) -> None:
    with pytest.raises(ValueError, match=rf"number must be an integer from 0 to \d+, got {bad!r}"):
        make(bad)  # type: ignore[operator]


def test_credential_forms_are_the_grammar_of_r1_1() -> None:
    assert ids.CREDENTIAL_FORMS[0].build(ids.passkey(1)) == ids.passkey_path(1)
    accepted = [f.accepted for f in ids.CREDENTIAL_FORMS]
    assert accepted == sorted(accepted, reverse=True), "accepted forms come first"
    assert accepted.count(True) == 5 and accepted.count(False) == 6
    for n in (2, 10):  # 10 is 0xaa...: its upper and lower case differ
        for form in ids.CREDENTIAL_FORMS:
            target = form.build(ids.passkey(n))
            if form.accepted:
                assert parse_passkey(target) == ids.user(n), (n, form.name)
            else:
                with pytest.raises(IdentificationError):
                    parse_passkey(target)
    for target in ids.BAD_CREDENTIALS:
        with pytest.raises(IdentificationError):
            parse_passkey(target)


def test_passkeys_round_trip_for_every_user() -> None:
    for n in range(16):
        assert parse_passkey(ids.passkey_path(n)) == UserId(ids.user(n))
