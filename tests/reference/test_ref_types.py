"""Domain values: validation of outside input (R9.3), sharding (R2.3), wrap (R9.1)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from ref_helpers import counts, cred, ih, make, pid, req, state_doc, uid

from privtrak.reference import (
    INT64_MAX,
    UINT64_MAX,
    AnnounceRequest,
    Event,
    InvalidInput,
    Outcome,
    UserId,
    check_counter,
    fnv1a_32,
    make_info_hash,
    make_peer_id,
    make_user_id,
    shard_of,
    wrap_int64,
)

GOOD = {"credential": cred(1), "info_hash": ih(1), "peer_id": pid(1), "uploaded": 0,
        "downloaded": 0, "left": 0}


@pytest.mark.parametrize(("maker", "field", "length"), [
    (make_user_id, "user_id", 16), (make_info_hash, "info_hash", 20),
    (make_peer_id, "peer_id", 20)])
@pytest.mark.parametrize("delta", [-1, 1])
def test_ids_of_wrong_length_are_refused(maker: Callable[[object], bytes], field: str,
                                         length: int, delta: int) -> None:
    """R9.3: an id one byte short or long raises InvalidInput naming field and value."""
    raw = b"\x01" * (length + delta)
    with pytest.raises(InvalidInput) as exc:
        maker(raw)
    assert exc.value.field == field
    assert exc.value.value == raw
    assert field in str(exc.value) and str(length + delta) in str(exc.value)


@pytest.mark.parametrize("raw", ["a" * 16, bytearray(16), None, 16])
def test_ids_must_be_bytes(raw: object) -> None:
    """R9.3: an id that is not ``bytes`` (even of the right size) is refused."""
    with pytest.raises(InvalidInput) as exc:
        make_user_id(raw)
    assert exc.value.field == "user_id"
    assert exc.value.value is raw


def test_ids_of_exact_length_are_accepted() -> None:
    """R9.3: exact lengths pass through unchanged."""
    assert make_user_id(b"u" * 16) == b"u" * 16
    assert make_info_hash(b"i" * 20) == b"i" * 20
    assert make_peer_id(b"p" * 20) == b"p" * 20


@pytest.mark.parametrize(("value", "why"), [
    (-1, "negative"), (2**64, "unsigned 64-bit"), (1.5, "integer"), (10.0, "integer"),
    (True, "integer"), ("5", "integer"), (None, "integer")])
@pytest.mark.parametrize("field", ["uploaded", "downloaded", "left"])
def test_bad_counters_are_refused(field: str, value: object, why: str) -> None:
    """R9.3: negative, non-integer, boolean and > 2**64-1 counters raise InvalidInput."""
    with pytest.raises(InvalidInput) as exc:
        AnnounceRequest(**{**GOOD, field: value})  # type: ignore[arg-type]
    assert exc.value.field == field
    assert exc.value.value is value or exc.value.value == value
    assert str(exc.value).startswith(field + ":")
    assert repr(value) in str(exc.value)
    assert why in str(exc.value)


def test_counter_bounds_are_inclusive() -> None:
    """R9.3: 0 and 2**64-1 are valid counters; check_counter returns the value."""
    assert check_counter("uploaded", 0) == 0
    assert check_counter("uploaded", UINT64_MAX) == 18446744073709551615
    r = AnnounceRequest(**{**GOOD, "uploaded": UINT64_MAX, "left": UINT64_MAX})
    assert r.uploaded == 2**64 - 1


@pytest.mark.parametrize("text", ["bogus", "STARTED", "complete", None, 3, "Stopped "])
def test_unknown_events_are_refused(text: object) -> None:
    """R9.3: Event.parse accepts only the four wire names (and "")."""
    with pytest.raises(InvalidInput) as exc:
        Event.parse(text)
    assert exc.value.field == "event"
    assert exc.value.value == text


def test_event_parse_accepts_the_wire_names() -> None:
    """R9.3: "" is the regular announce; the four names map to their members."""
    assert Event.parse("") is Event.NONE
    assert [Event.parse(n) for n in ("none", "started", "completed", "stopped")] == [
        Event.NONE, Event.STARTED, Event.COMPLETED, Event.STOPPED]


def test_request_event_must_be_an_event_member() -> None:
    """R9.3: a plain string is not an Event for the constructor."""
    with pytest.raises(InvalidInput) as exc:
        AnnounceRequest(**GOOD, event="started")  # type: ignore[arg-type]
    assert exc.value.field == "event"


@pytest.mark.parametrize("port", [-1, 65536, "6881", True, 80.0])
def test_bad_ports_are_refused(port: object) -> None:
    """R9.3: the port is an int in 0..65535."""
    with pytest.raises(InvalidInput) as exc:
        AnnounceRequest(**GOOD, port=port)  # type: ignore[arg-type]
    assert exc.value.field == "port"
    assert exc.value.value == port
    assert "65535" in str(exc.value)


def test_port_bounds_are_inclusive() -> None:
    """R9.3: ports 0 and 65535 are accepted."""
    assert AnnounceRequest(**GOOD, port=0).port == 0
    assert AnnounceRequest(**GOOD, port=65535).port == 65535


@pytest.mark.parametrize(("field", "value"), [
    ("credential", b"/x/announce"), ("ip", 3232235777), ("info_hash", b"short"),
    ("peer_id", "p" * 20)])
def test_other_fields_are_type_checked(field: str, value: object) -> None:
    """R9.3: credential and ip are strings; ids are validated as by make_*."""
    with pytest.raises(InvalidInput) as exc:
        AnnounceRequest(**{**GOOD, "ip": "", field: value})  # type: ignore[arg-type]
    assert exc.value.field == field
    assert exc.value.value == value


@pytest.mark.parametrize("missing", ["credential", "info_hash", "peer_id", "uploaded",
                                     "downloaded", "left"])
def test_from_mapping_names_a_missing_field(missing: str) -> None:
    """R9.3: a missing required field raises InvalidInput naming it."""
    raw = {k: v for k, v in GOOD.items() if k != missing}
    with pytest.raises(InvalidInput) as exc:
        AnnounceRequest.from_mapping(raw)
    assert exc.value.field == missing
    assert str(exc.value) == f"{missing}: required field is missing (got <missing>)"


def test_from_mapping_refuses_unknown_fields_and_reads_wire_events() -> None:
    """R9.3: unknown keys are named; event may be wire text; defaults apply."""
    with pytest.raises(InvalidInput) as exc:
        AnnounceRequest.from_mapping({**GOOD, "numwant": 50})
    assert (exc.value.field, exc.value.value) == ("numwant", 50)
    with pytest.raises(InvalidInput) as exc2:
        AnnounceRequest.from_mapping({**GOOD, "event": "paused"})
    assert (exc2.value.field, exc2.value.value) == ("event", "paused")
    with pytest.raises(InvalidInput) as exc3:
        AnnounceRequest.from_mapping({**GOOD, "uploaded": "12"})
    assert exc3.value.field == "uploaded"
    built = AnnounceRequest.from_mapping({**GOOD, "event": "completed", "port": 1})
    assert built == AnnounceRequest(cred(1), ih(1), pid(1), 0, 0, 0, Event.COMPLETED, "", 1)
    assert AnnounceRequest.from_mapping({**GOOD, "event": ""}).event is Event.NONE
    with pytest.raises(InvalidInput) as exc4:
        AnnounceRequest.from_mapping([("credential", "x")])  # type: ignore[arg-type]
    assert exc4.value.field == "request"


def test_bad_input_never_changes_the_tracker() -> None:
    """R9.3: a request that fails validation never reaches the tracker; a well-formed
    one with a bad credential is refused and leaves the accounting state as it was."""
    t = make("recommended")
    t.announce(req(up=10), now=5)
    t.announce(req(up=30), now=6)
    before, before_counts = state_doc(t), counts(t)
    for field, value in [("uploaded", -1), ("downloaded", 2**64), ("left", 1.5),
                         ("uploaded", True), ("port", 70000)]:
        with pytest.raises(InvalidInput):
            t.announce(AnnounceRequest(**{**GOOD, field: value}), now=6)  # type: ignore[arg-type]
    assert state_doc(t) == before and counts(t) == before_counts
    result = t.announce(AnnounceRequest(**{**GOOD, "credential": "/nothex/announce",
                                           "uploaded": 99}), now=6)
    assert result.outcome is Outcome.REJECTED
    assert state_doc(t) == before
    after = counts(t)
    assert after["reject.bad_credential"] == 1
    assert after["outcome.rejected"] == before_counts.get("outcome.rejected", 0) + 1


def test_fnv1a_matches_published_vectors() -> None:
    """R2.3: 32-bit FNV-1a: offset basis for b"", and the published values of a, foobar."""
    assert fnv1a_32(b"") == 0x811C9DC5
    assert fnv1a_32(b"a") == 0xE40C292C
    assert fnv1a_32(b"foobar") == 0xBF9CF968


def test_shard_is_fnv_modulo_shard_count() -> None:
    """R2.3: shard = fnv1a_32(16 id bytes) % shard_count, for the tracker too."""
    def fnv(data: bytes) -> int:  # written independently of the reference's loop
        h = 2166136261
        for b in data:
            h = (h ^ b) * 16777619 % 2**32
        return h

    for n in (0, 1, 2, 255, 65536, 2**127):
        user = UserId(n.to_bytes(16, "big"))
        assert fnv1a_32(user) == fnv(user)
        for count in (1, 7, 1024):
            assert shard_of(user, count) == fnv(user) % count
    t = make("seed", shard_count=7)
    assert t.shard_of(uid(2)) == fnv(uid(2)) % 7
    t.announce(req(user=2), now=0)
    t.announce(req(user=2, up=5), now=1)
    assert t.buffered_records(fnv(uid(2)) % 7)[0].up == 5


def test_wrap_int64_is_the_go_cast() -> None:
    """R9.1: int64(uint64(a) - uint64(b)) on Python ints."""
    assert wrap_int64(0) == 0
    assert wrap_int64(INT64_MAX) == 9223372036854775807
    assert wrap_int64(2**63) == -9223372036854775808
    assert wrap_int64(2**64 - 1) == -1
    assert wrap_int64(-1) == -1
    assert wrap_int64(-(2**64 - 1)) == 1
    assert wrap_int64(2**64) == 0
