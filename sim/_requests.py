"""Announce requests the simulator builds itself, without validating them again.

:class:`privtrak.reference.AnnounceRequest` validates every field when it
is constructed (types, lengths, counter ranges): right for input from
outside, wasted on requests whose fields the simulator made from values it
already holds (a credential and infohash from the catalogue, a peer id
from a serial, counters that are non-negative integers by construction).
:func:`trusted_request` makes the same frozen object without the checks;
``tests/sim/test_sim_requests.py`` builds requests both ways from the
simulator's own sessions and checks that they are equal.
"""

from __future__ import annotations

from privtrak.reference import AnnounceRequest, ByteCount, Event, InfoHash, PeerId

_new = object.__new__
_slot = {name: getattr(AnnounceRequest, name).__set__
         for name in ("credential", "info_hash", "peer_id", "uploaded", "downloaded", "left",
                      "event", "ip", "port")}
_set_cred, _set_ih, _set_pid = _slot["credential"], _slot["info_hash"], _slot["peer_id"]
_set_up, _set_down, _set_left = _slot["uploaded"], _slot["downloaded"], _slot["left"]
_set_event, _set_ip, _set_port = _slot["event"], _slot["ip"], _slot["port"]


def trusted_request(credential: str, info_hash: InfoHash, peer_id: PeerId,  # noqa: PLR0917
                    uploaded: ByteCount, downloaded: ByteCount, left: ByteCount,
                    event: Event) -> AnnounceRequest:
    """``AnnounceRequest(credential, info_hash, peer_id, uploaded, downloaded,
    left, event)`` without the validation: only for fields the simulator
    built itself and knows to be valid."""
    r: AnnounceRequest = _new(AnnounceRequest)
    _set_cred(r, credential)
    _set_ih(r, info_hash)
    _set_pid(r, peer_id)
    _set_up(r, uploaded)
    _set_down(r, downloaded)
    _set_left(r, left)
    _set_event(r, event)
    _set_ip(r, "")
    _set_port(r, 0)
    return r
