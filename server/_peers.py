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


class PeerStore:
    """Swarms by infohash; every method is O(size of the answer) or O(swarm)."""

    def __init__(self, peer_lifetime: int) -> None:
        self.peer_lifetime = peer_lifetime
        self._swarms: dict[bytes, dict[bytes, Peer]] = {}
        self._snatches: dict[bytes, int] = {}

    def update(self, info_hash: bytes, peer_id: bytes, compact: bytes, *, ipv6: bool,
               seeder: bool, now: int) -> None:
        """Add or refresh a peer."""
        swarm = self._swarms.get(info_hash)
        if swarm is None:
            swarm = self._swarms[info_hash] = {}
        peer = swarm.get(peer_id)
        if peer is None:
            swarm[peer_id] = Peer(compact, ipv6, seeder, now)
        else:
            peer.compact, peer.ipv6, peer.seeder, peer.last_seen = compact, ipv6, seeder, now

    def remove(self, info_hash: bytes, peer_id: bytes) -> None:
        """Drop a peer (it sent ``stopped``)."""
        swarm = self._swarms.get(info_hash)
        if swarm is not None:
            swarm.pop(peer_id, None)
            if not swarm:
                del self._swarms[info_hash]

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
        if not swarm or want <= 0:
            return v4, v6
        for other_id, peer in swarm.items():
            if other_id == peer_id or (seeder and peer.seeder):
                continue
            (v6 if peer.ipv6 else v4).append(peer.compact)
            if len(v4) + len(v6) >= want:
                break
        return v4, v6

    def counts(self, info_hash: bytes) -> tuple[int, int, int]:
        """(seeders, leechers, snatches) of one torrent."""
        swarm = self._swarms.get(info_hash, {})
        seeders = sum(1 for p in swarm.values() if p.seeder)
        return seeders, len(swarm) - seeders, self._snatches.get(info_hash, 0)

    def expire(self, now: int) -> int:
        """Drop peers not heard from for more than ``peer_lifetime``; returns how many."""
        cutoff = now - self.peer_lifetime
        removed = 0
        for info_hash in list(self._swarms):
            swarm = self._swarms[info_hash]
            stale = [pid for pid, p in swarm.items() if p.last_seen < cutoff]
            for pid in stale:
                del swarm[pid]
            removed += len(stale)
            if not swarm:
                del self._swarms[info_hash]
        return removed

    def totals(self) -> tuple[int, int, int]:
        """(torrents, seeders, leechers) over every swarm."""
        seeders = leechers = 0
        for swarm in self._swarms.values():
            s = sum(1 for p in swarm.values() if p.seeder)
            seeders += s
            leechers += len(swarm) - s
        return len(self._swarms), seeders, leechers
