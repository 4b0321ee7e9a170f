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


def unit_pair(salt: int, serial: int, k: int, restarted: bool | int) -> tuple[float, float]:
    """Two uniforms in [0, 1) that depend only on their arguments.

    Python's hash of a tuple of ints (an xxHash-style mix since 3.8) is
    deterministic, unlike the hash of str or bytes, and much cheaper than a
    hash written in Python; the jitter of an announce needs no more.
    ``restarted`` may be a bool or 0/1: they hash alike.
    """
    x = hash((salt, serial, k, restarted)) & _M64
    return (x >> 32) * _HALF, (x & 0xFFFFFFFF) * _HALF


def peer_id_of(serial: int) -> PeerId:
    """The peer id of the client numbered ``serial`` (a restart keeps it)."""
    return PeerId(b"-PT0100-" + serial.to_bytes(12, "big"))


RESTARTED, ACCEPTED, DONE_SENT, ENDED, VANISH = 1, 2, 4, 8, 16
"""Bits of ``Session.flags``. RESTARTED is 1 so that ``flags & RESTARTED``
hashes like the bool it stands for (the announce jitter hashes it)."""


def _flag(bit: int, doc: str) -> property:
    def get(s: Session) -> bool:
        return bool(s.flags & bit)

    def put(s: Session, value: bool) -> None:
        s.flags = s.flags | bit if value else s.flags & ~bit

    return property(get, put, doc=doc)


class Session:
    """One client session. Kept small: there is one per simulated client."""

    __slots__ = (
        "acc_down",
        "acc_up",
        "base_down",
        "base_up",
        "cred",
        "dn0",
        "down_rate",
        "end_cause",
        "failures",
        "flags",
        "info_hash",
        "k",
        "lneed",
        "origin",
        "outstanding",
        "retry_event",
        "serial",
        "shard",
        "t_end",
        "t_restart",
        "up0",
        "up_rate",
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
    t_end: float
    t_restart: float
    k: int
    acc_up: int
    acc_down: int
    flags: int
    """Bits RESTARTED, ACCEPTED, DONE_SENT, ENDED, VANISH (one slot, not five:
    8 bytes a slot, per client)."""
    outstanding: int
    end_cause: str
    failures: int
    retry_event: object
    wk: int
    wake_at: float
    """When the planned wake-up ``wk`` happens (while queued in the clients' WakeQueue)."""

    @property
    def t_done(self) -> float:
        """When the download is in (``origin`` for a seeder); computed, not
        stored, to keep sessions small."""
        return self.origin + self.lneed / self.down_rate if self.lneed else self.origin

    restarted = _flag(RESTARTED, "a crashed client's new session (counters from zero)")
    accepted = _flag(ACCEPTED, "the core accepted one of its announces")
    done_sent = _flag(DONE_SENT, "``completed`` was sent (or never needed: a seeder)")
    ended = _flag(ENDED, "the session is over (stopped, vanished, reset or rejected)")
    vanish = _flag(VANISH, "the session ends without ``stopped``")

    def counters(self, t: float) -> tuple[int, int, int]:
        """(uploaded, downloaded, left) the client reports at ``t``.

        Transfers are measured from the lineage's ``origin`` (a restarted
        client continues its parent's transfer), so splitting a session by a
        restart never changes the total by a rounding byte.
        """
        tt = t if t < self.t_end else self.t_end
        origin, lneed = self.origin, self.lneed
        dt = tt - origin
        up = self.base_up + int(self.up_rate * dt) - self.up0
        t_done = origin + lneed / self.down_rate if lneed else origin
        dn = lneed if tt >= t_done else min(int(self.down_rate * dt), lneed)
        return up, self.base_down + dn - self.dn0, lneed - dn

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
        t_done = t + s.lneed / s.down_rate if s.lneed else t
        s.t_end = t_done + seeding
        s.flags = ((VANISH if life.random() < w.vanish_fraction else 0)
                   | (0 if leecher else DONE_SENT))
        restart_u = life.random()
        where = life.random()
        s.t_restart = (t + where * (s.t_end - t)
                       if restart_u < w.restart_fraction and s.t_end > t else _INF)
        s.k = 0
        s.acc_up = s.base_up
        s.acc_down = s.base_down
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
        s.origin, s.lneed = parent.origin, parent.lneed
        up, down, _ = parent.counters(t)
        s.up0 = up - parent.base_up + parent.up0
        s.dn0 = down - parent.base_down + parent.dn0
        s.base_up = s.base_down = 0
        s.t_end = parent.t_end
        s.t_restart = _INF
        s.k = 0
        s.acc_up = s.acc_down = 0
        s.flags = RESTARTED | (parent.flags & (VANISH | DONE_SENT))
        s.outstanding = 0
        s.end_cause = ""
        s.failures = 0
        s.retry_event = None
        s.wk = 0
        s.wake_at = 0.0
        return s
