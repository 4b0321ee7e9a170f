"""Requests the simulator builds without validation equal the validated ones."""

from __future__ import annotations

import pytest

from privtrak.reference import AnnounceRequest, Event
from privtrak.sim import builtin_scenario
from privtrak.sim._requests import trusted_request
from privtrak.sim._workload import Catalogue, SessionFactory, peer_id_of


@pytest.mark.parametrize("event", list(Event))
def test_trusted_requests_equal_validated_ones_for_the_simulators_sessions(
        event: Event) -> None:
    sc = builtin_scenario("default")
    factory = SessionFactory(sc.workload, Catalogue(sc.workload, sc.tracker.shard_count), 5)
    for i in range(300):
        s = factory.new(float(i), initial=i % 2 == 0, slot=True)
        for t in (float(i), i + 1800.0, 1e6):
            fields = (s.cred, s.info_hash, peer_id_of(s.serial), *s.counters(t), event)
            trusted = trusted_request(*fields)
            checked = AnnounceRequest(*fields)
            assert trusted == checked
            assert hash(trusted) == hash(checked)
            assert (trusted.ip, trusted.port) == (checked.ip, checked.port)


def test_a_trusted_request_is_frozen_like_a_validated_one() -> None:
    r = trusted_request("/" + "a" * 32 + "/announce", b"i" * 20, b"p" * 20,  # type: ignore[arg-type]
                        1, 2, 3, Event.NONE)
    with pytest.raises(AttributeError):
        r.uploaded = 5  # type: ignore[misc]
