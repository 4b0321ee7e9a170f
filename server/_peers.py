"""The in-memory swarm: who is on which torrent, so that clients find each other.

Swarm membership is separate from accounting: the reference core keeps the
baselines, this store keeps addresses. A peer is keyed by (infohash, peer
id), holds its compact address, whether it is a seeder (``left == 0``) and
when it was last heard from; peers not heard from for ``peer_lifetime``
seconds are dropped by :meth:`PeerStore.expire`. Peer lists are the first
peers in the order they joined (deterministic, no random source).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class Peer:
    """One swarm member."""

    compact: bytes
    ipv6: bool
    seeder: bool
    last_seen: int


class _Swarm:
    __slots__ = ("peers", "seeders")

    def __init__(self) -> None:
        self.peers: dict[bytes, Peer] = {}
        self.seeders = 0


class PeerStore:
    """Swarms by infohash. Counts are kept up to date on every change, so an
    announce costs O(its answer), never O(swarm); only :meth:`expire` scans."""

    def __init__(self, peer_lifetime: int) -> None:
        self.peer_lifetime = peer_lifetime
        self._swarms: dict[bytes, _Swarm] = {}
        self._snatches: dict[bytes, int] = {}
        self._seeders = 0
        self._peers = 0

    def update(self, info_hash: bytes, peer_id: bytes, compact: bytes, *, ipv6: bool,
               seeder: bool, now: int) -> None:
        """Add or refresh a peer."""
        swarm = self._swarms.get(info_hash)
        if swarm is None:
            swarm = self._swarms[info_hash] = _Swarm()
        peer = swarm.peers.get(peer_id)
        if peer is None:
            swarm.peers[peer_id] = Peer(compact, ipv6, seeder, now)
            self._peers += 1
        else:
            if peer.seeder:
                swarm.seeders -= 1
                self._seeders -= 1
            peer.compact, peer.ipv6, peer.seeder, peer.last_seen = compact, ipv6, seeder, now
        if seeder:
            swarm.seeders += 1
            self._seeders += 1

    def remove(self, info_hash: bytes, peer_id: bytes) -> None:
        """Drop a peer (it sent ``stopped``)."""
        swarm = self._swarms.get(info_hash)
        if swarm is None:
            return
        peer = swarm.peers.pop(peer_id, None)
        if peer is not None:
            self._forget(swarm, peer)
        if not swarm.peers:
            del self._swarms[info_hash]

    def _forget(self, swarm: _Swarm, peer: Peer) -> None:
        self._peers -= 1
        if peer.seeder:
            swarm.seeders -= 1
            self._seeders -= 1

    def snatched(self, info_hash: bytes) -> None:
        """Count a ``completed`` the accounting accepted."""
        self._snatches[info_hash] = self._snatches.get(info_hash, 0) + 1

    def peers_for(self, info_hash: bytes, peer_id: bytes, want: int,
                  seeder: bool) -> tuple[list[bytes], list[bytes]]:
        """Up to ``want`` other peers as (IPv4 compact, IPv6 compact) lists.

        A seeder is not sent other seeders (they have nothing to trade).
        """
        swarm = self._swarms.get(info_hash)
        v4: list[bytes] = []
        v6: list[bytes] = []
        if swarm is None or want <= 0:
            return v4, v6
        for other_id, peer in swarm.peers.items():
            if other_id == peer_id or (seeder and peer.seeder):
                continue
            (v6 if peer.ipv6 else v4).append(peer.compact)
            if len(v4) + len(v6) >= want:
                break
        return v4, v6

    def counts(self, info_hash: bytes) -> tuple[int, int, int]:
        """(seeders, leechers, snatches) of one torrent."""
        swarm = self._swarms.get(info_hash)
        snatches = self._snatches.get(info_hash, 0)
        if swarm is None:
            return 0, 0, snatches
        return swarm.seeders, len(swarm.peers) - swarm.seeders, snatches

    def expire(self, now: int) -> int:
        """Drop peers not heard from for more than ``peer_lifetime``; returns how many."""
        cutoff = now - self.peer_lifetime
        removed = 0
        for info_hash in list(self._swarms):
            swarm = self._swarms[info_hash]
            stale = [pid for pid, p in swarm.peers.items() if p.last_seen < cutoff]
            for pid in stale:
                self._forget(swarm, swarm.peers.pop(pid))
            removed += len(stale)
            if not swarm.peers:
                del self._swarms[info_hash]
        return removed

    def totals(self) -> tuple[int, int, int]:
        """(torrents, seeders, leechers) over every swarm."""
        return len(self._swarms), self._seeders, self._peers - self._seeders
