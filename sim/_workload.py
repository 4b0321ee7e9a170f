"""Virtual clients: sessions, their plans and their ground truth.

A :class:`Session` is one client (a peer id of a user on a torrent) from its
first announce to its end. Everything random about a session is drawn when
it is created, from streams that only the workload uses, in creation order;
creation times depend only on those streams. So the workload is identical
whatever the tracker does (common random numbers across hook modes): the
announce schedule's jitter is a hash of the session's number and the announce
number, not a draw from a shared stream.

Ground truth: a session transfers at constant rates (``up_rate``,
``down_rate`` bytes/s) from its start until ``t_end``; the download stops once
``lneed`` bytes are in (at ``t_done``). Its counters are the exact integers
``base + int(rate * elapsed)``, which is also what it reports.
"""

from __future__ import annotations

import random
from bisect import bisect_right
from hashlib import blake2b
from itertools import accumulate

from privtrak.reference import InfoHash, PeerId, UserId, passkey_credential, shard_of

from ._scenario import Workload

_M64 = (1 << 64) - 1
_INF = float("inf")  # one shared object: most sessions never restart


_HALF = 1.0 / 4294967296.0


def unit_pair(salt: int, serial: int, k: int, restarted: bool) -> tuple[float, float]:
    """Two uniforms in [0, 1) that depend only on their arguments.

    Python's hash of a tuple of ints (an xxHash-style mix since 3.8) is
    deterministic, unlike the hash of str or bytes, and much cheaper than a
    hash written in Python; the jitter of an announce needs no more.
    """
    x = hash((salt, serial, k, restarted)) & _M64
    return (x >> 32) * _HALF, (x & 0xFFFFFFFF) * _HALF


def peer_id_of(serial: int) -> PeerId:
    """The peer id of the client numbered ``serial`` (a restart keeps it)."""
    return PeerId(b"-PT0100-" + serial.to_bytes(12, "big"))


class Session:
    """One client session. Kept small: there is one per simulated client."""

    __slots__ = (
        "acc_down",
        "acc_up",
        "accepted",
        "base_down",
        "base_up",
        "cred",
        "dn0",
        "done_sent",
        "down_rate",
        "end_cause",
        "ended",
        "failures",
        "info_hash",
        "k",
        "lneed",
        "origin",
        "outstanding",
        "restarted",
        "retry_event",
        "serial",
        "shard",
        "t_done",
        "t_end",
        "t_restart",
        "up0",
        "up_rate",
        "vanish",
        "wake_at",
        "wk",
    )

    serial: int
    cred: str
    info_hash: InfoHash
    shard: int
    up_rate: float
    down_rate: float
    lneed: int
    origin: float
    up0: int
    dn0: int
    base_up: int
    base_down: int
    t_done: float
    t_end: float
    t_restart: float
    vanish: bool
    k: int
    acc_up: int
    acc_down: int
    accepted: bool
    restarted: bool
    done_sent: bool
    outstanding: int
    ended: bool
    end_cause: str
    failures: int
    retry_event: object
    wk: int
    wake_at: float
    """When the planned wake-up ``wk`` happens (while queued in the clients' WakeQueue)."""

    def counters(self, t: float) -> tuple[int, int, int]:
        """(uploaded, downloaded, left) the client reports at ``t``.

        Transfers are measured from the lineage's ``origin`` (a restarted
        client continues its parent's transfer), so splitting a session by a
        restart never changes the total by a rounding byte.
        """
        tt = t if t < self.t_end else self.t_end
        dt = tt - self.origin
        up = self.base_up + int(self.up_rate * dt) - self.up0
        dn = self.lneed if tt >= self.t_done else min(int(self.down_rate * dt), self.lneed)
        return up, self.base_down + dn - self.dn0, self.lneed - dn

    def truth(self, t: float) -> tuple[int, int]:
        """Bytes really transferred from the session's start until ``t`` (up, down)."""
        up, down, _ = self.counters(t)
        return up - self.base_up, down - self.base_down


class Catalogue:
    """Users and torrents: identities, credentials, shards, popularity."""

    def __init__(self, work: Workload, shard_count: int) -> None:
        self.users = work.users
        self.shard_count = shard_count
        self._user_cred: dict[int, tuple[str, int]] = {}
        self._hashes: dict[int, InfoHash] = {}
        weights = [1.0 / (i + 1) ** work.popularity for i in range(work.torrents)]
        self._cum = list(accumulate(weights))
        self.torrents = work.torrents
        self.flash_torrents: list[int] = []

    def user(self, index: int) -> tuple[str, int]:
        """(credential, shard) of user ``index``."""
        found = self._user_cred.get(index)
        if found is None:
            uid = UserId(blake2b(index.to_bytes(8, "big"), digest_size=16,
                                 person=b"privtrak.user").digest())
            found = (passkey_credential(uid), shard_of(uid, self.shard_count))
            self._user_cred[index] = found
        return found

    def info_hash(self, index: int) -> InfoHash:
        """The infohash of torrent ``index``."""
        found = self._hashes.get(index)
        if found is None:
            found = InfoHash(blake2b(index.to_bytes(8, "big"), digest_size=20,
                                     person=b"privtrak.torr").digest())
            self._hashes[index] = found
        return found

    def pick_torrent(self, u: float) -> int:
        """A catalogue torrent by Zipf popularity, from a uniform ``u``."""
        return min(bisect_right(self._cum, u * self._cum[-1]), self.torrents - 1)

    def release(self, count: int) -> list[int]:
        """Add ``count`` new torrents (a flash crowd's); returns their indexes."""
        start = self.torrents + len(self.flash_torrents)
        new = list(range(start, start + count))
        self.flash_torrents.extend(new)
        return new


class SessionFactory:
    """Draws session plans from the workload's own random streams."""

    def __init__(self, work: Workload, catalogue: Catalogue, seed: int) -> None:
        self.work = work
        self.cat = catalogue
        self.pop_rng = random.Random(f"privtrak.sim:{seed}:population")
        self.rate_rng = random.Random(f"privtrak.sim:{seed}:rates")
        self.life_rng = random.Random(f"privtrak.sim:{seed}:sessions")
        self.jitter_salt = random.Random(f"privtrak.sim:{seed}:jitter").getrandbits(62)
        """Keys the per-announce hashes (jitter, late announces, first phase)."""
        self._up = work.upload_rate.sampler(self.rate_rng)
        self._down = work.download_rate.sampler(self.rate_rng)
        self._size = work.size.sampler(self.life_rng)
        self._seeding = work.seeding_time.sampler(self.life_rng)
        self.serial = 0
        self.created = 0
        """Sessions made, restarted clients' included."""

    def new(self, t: float, *, initial: bool, slot: bool, user: int | None = None,
            torrent: int | None = None, leecher: bool | None = None) -> Session:
        """A new session at ``t``; ``initial`` ones were already running at time 0."""
        w, pop, life = self.work, self.pop_rng, self.life_rng
        if user is None:
            user = pop.randrange(self.cat.users)
        if torrent is None:
            torrent = self.cat.pick_torrent(pop.random())
        s = Session()
        self.serial += 1
        self.created += 1
        s.serial = self.serial
        s.cred, s.shard = self.cat.user(user)
        s.info_hash = self.cat.info_hash(torrent)
        s.up_rate = self._up()
        s.down_rate = max(self._down(), 1e-9)
        size = max(1, int(self._size()))
        if leecher is None:
            leecher = life.random() < w.leecher_fraction
        seeding = self._seeding()
        s.base_up = s.base_down = 0
        if leecher:
            done_before = int(size * life.random()) if initial else 0
            s.lneed = size - done_before
            s.base_down = done_before
            if initial:
                s.base_up = int(s.up_rate * done_before / s.down_rate)
        else:
            s.lneed = 0
            if initial:
                s.base_up = int(s.up_rate * w.announce_interval * life.random())
        s.origin = t
        s.up0 = s.dn0 = 0
        s.t_done = t + s.lneed / s.down_rate if s.lneed else t
        s.t_end = s.t_done + seeding
        s.vanish = life.random() < w.vanish_fraction
        restart_u = life.random()
        where = life.random()
        s.t_restart = (t + where * (s.t_end - t)
                       if restart_u < w.restart_fraction and s.t_end > t else _INF)
        s.k = 0
        s.acc_up = s.base_up
        s.acc_down = s.base_down
        s.accepted = s.restarted = s.done_sent = s.ended = False
        s.done_sent = not leecher
        s.outstanding = 0
        s.end_cause = ""
        s.failures = 0
        s.retry_event = None
        s.wk = 0
        s.wake_at = 0.0
        return s

    def restart(self, parent: Session, t: float) -> Session:
        """The session a crashed client starts at ``t``: same identity and plan,
        counters from zero, no further restart. Draws nothing."""
        s = Session()
        # Same client, same peer id: the serial (which names the peer id) is kept.
        s.serial = parent.serial
        self.created += 1
        s.cred, s.shard, s.info_hash = parent.cred, parent.shard, parent.info_hash
        s.up_rate, s.down_rate = parent.up_rate, parent.down_rate
        # The transfer continues: same lineage origin, counters from zero.
        s.origin, s.lneed, s.t_done = parent.origin, parent.lneed, parent.t_done
        up, down, _ = parent.counters(t)
        s.up0 = up - parent.base_up + parent.up0
        s.dn0 = down - parent.base_down + parent.dn0
        s.base_up = s.base_down = 0
        s.t_end = parent.t_end
        s.t_restart = _INF
        s.vanish = parent.vanish
        s.k = 0
        s.acc_up = s.acc_down = 0
        s.accepted = s.ended = False
        s.restarted = True
        s.done_sent = parent.done_sent
        s.outstanding = 0
        s.end_cause = ""
        s.failures = 0
        s.retry_event = None
        s.wk = 0
        s.wake_at = 0.0
        return s
