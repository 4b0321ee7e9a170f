"""How the tracker stores its baselines: the memory layout of the core.

A tracker holds ``users: dict[UserId, UserEntries]``. A :class:`UserEntries`
is the user's own dict, keyed by infohash, that also carries the user's
shard and a lower bound of its entries' ``last_seen`` in two slots. A
stored baseline is one int, packed by :class:`EntryLayout`::

    user_torrent keying        up | down << 64 | completed << 128 | last_seen << 129
    user_torrent_peer keying   up | down << 64 | completed << 128 | peer << 129
                               | last_seen << 289

where ``peer`` is the peer id read as a big-endian 160-bit number. Under
``user_torrent_peer`` keying a user's slot for one infohash is that int
while the user has one peer on the torrent (the common case), and a
``dict[PeerId, int]`` of such ints, in insertion order, while it has
several; the dict collapses back to the int when one peer is left.

Every key is the tracker's interned infohash object (:class:`InfoHashTable`),
one ``bytes`` per torrent shared by all its entries, so an entry costs its
int and its dict slot only: folding the peer id into the int costs 20 bytes
where a 40-byte infohash+peer id key cost 73.

Iteration order (the order snapshots list entries in) is the user's dict
order, and within a multi-peer slot the peer dict's order.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from ._types import PEER_ID_LEN, InfoHash, PeerId

U64_MASK = (1 << 64) - 1
DOWN_SHIFT = 64
COMPLETED_BIT = 1 << 128
PEER_SHIFT = 129
PEER_FIELD = ((1 << 8 * PEER_ID_LEN) - 1) << PEER_SHIFT
"""The bits of a packed baseline that hold the peer id (peer keying only)."""
SEEN_SHIFT_TORRENT = 129
SEEN_SHIFT_PEER = PEER_SHIFT + 8 * PEER_ID_LEN

Slot = int | dict[PeerId, int]
"""What a user's dict holds for one infohash (see the module docstring)."""


class UserEntries(dict[InfoHash, Slot]):
    """One user's baselines keyed by interned infohash, plus its shard and
    ``oldest``: a lower bound of ``min(last_seen)`` over its entries. While
    ``oldest`` is not below the purge cutoff, no entry can be stale and the
    scan is skipped. (Two slots on the dict itself cost 16 bytes; a separate
    holder object cost 56.)"""

    __slots__ = ("oldest", "shard")

    def __init__(self, shard: int, oldest: int) -> None:
        # dict.__new__ made the empty dict; dict.__init__ has nothing to add.
        self.shard = shard
        self.oldest = oldest


class EntryLayout:
    """Packing and access for one keying; see the module docstring.

    The tracker's announce path inlines :meth:`get` and :meth:`put` with the
    same constants; everything else goes through these methods.
    """

    __slots__ = ("by_peer", "keep_mask", "seen_shift")

    def __init__(self, by_peer: bool) -> None:
        self.by_peer = by_peer
        self.seen_shift = SEEN_SHIFT_PEER if by_peer else SEEN_SHIFT_TORRENT
        # What an update carries over from the stored int besides the new
        # counters and time: the completed bit, and the peer id if folded in.
        self.keep_mask = COMPLETED_BIT | (PEER_FIELD if by_peer else 0)

    def peer_bits(self, peer: bytes | None) -> int:
        """The peer id as it sits in a packed baseline (0 without peer keying)."""
        return int.from_bytes(peer, "big") << PEER_SHIFT if self.by_peer and peer else 0

    def pack(self, up: int, down: int, last_seen: int, completed: bool,
             peer: bytes | None = None) -> int:
        """One baseline (counters within 0..2**64-1, ``last_seen >= 0``)."""
        return ((last_seen << self.seen_shift) | self.peer_bits(peer)
                | (COMPLETED_BIT if completed else 0) | (down << DOWN_SHIFT) | up)

    def unpack(self, packed: int) -> tuple[int, int, int, bool]:
        """``(up, down, last_seen, completed)`` of a packed baseline."""
        return (packed & U64_MASK, (packed >> DOWN_SHIFT) & U64_MASK,
                packed >> self.seen_shift, bool(packed & COMPLETED_BIT))

    def last_seen(self, packed: int) -> int:
        """The ``last_seen`` of a packed baseline."""
        return packed >> self.seen_shift

    @staticmethod
    def peer_of(packed: int) -> PeerId:
        """The peer id folded into a packed baseline (peer keying only)."""
        return PeerId(((packed & PEER_FIELD) >> PEER_SHIFT).to_bytes(PEER_ID_LEN, "big"))

    def get(self, user: UserEntries, info_hash: bytes, peer: bytes | None) -> int | None:
        """The stored baseline for ``(info_hash, peer)``, or ``None``."""
        slot = user.get(InfoHash(info_hash))
        if slot is None or not self.by_peer:
            return slot  # type: ignore[return-value]  # an int without peer keying
        if peer is None or len(peer) != PEER_ID_LEN:
            return None
        if type(slot) is int:
            return slot if slot & PEER_FIELD == self.peer_bits(peer) else None
        return slot.get(PeerId(peer or b""))  # type: ignore[union-attr]

    def put(self, user: UserEntries, info_hash: InfoHash, peer: bytes | None,
            packed: int) -> bool:
        """Store ``packed`` (which carries ``peer`` under peer keying); returns
        whether the entry is new. ``info_hash`` must be the interned object
        when the user has no slot for it yet."""
        slot = user.get(info_hash)
        if slot is None:
            user[info_hash] = packed
            return True
        if not self.by_peer:
            user[info_hash] = packed
            return False
        if type(slot) is int:
            if slot & PEER_FIELD == packed & PEER_FIELD:
                user[info_hash] = packed
                return False
            user[info_hash] = {self.peer_of(slot): slot, self.peer_of(packed): packed}
            return True
        assert isinstance(slot, dict)
        new = self.peer_of(packed) not in slot
        slot[self.peer_of(packed)] = packed
        return new

    def remove(self, user: UserEntries, info_hash: bytes, peer: bytes | None) -> None:
        """Delete the stored baseline for ``(info_hash, peer)``, which must exist."""
        key = InfoHash(info_hash)
        slot = user[key]
        if type(slot) is int:
            del user[key]
            return
        assert isinstance(slot, dict)
        del slot[PeerId(peer or b"")]
        if len(slot) == 1:
            user[key] = next(iter(slot.values()))

    def items(self, user: UserEntries) -> Iterator[tuple[InfoHash, PeerId | None, int]]:
        """Every ``(info_hash, peer_id, packed)`` of the user, in storage order;
        ``peer_id`` is ``None`` without peer keying."""
        by_peer = self.by_peer
        for info_hash, slot in user.items():
            if type(slot) is int:
                yield info_hash, (self.peer_of(slot) if by_peer else None), slot
            else:
                assert isinstance(slot, dict)
                for peer, packed in slot.items():
                    yield info_hash, peer, packed

    def count(self, user: UserEntries) -> int:
        """How many baselines the user holds."""
        return sum(1 if isinstance(slot, int) else len(slot) for slot in user.values())


TORRENT_KEYED = EntryLayout(by_peer=False)
PEER_KEYED = EntryLayout(by_peer=True)


class InfoHashTable:
    """The canonical object of every infohash the tracker stores.

    Requests decoded from the wire each bring their own infohash object;
    storing the canonical one instead keeps one ``bytes`` per torrent.
    Objects whose entries are all gone are dropped by :meth:`compact`, which
    the tracker runs on a GC pass once the table has doubled since the last
    one, so the table stays within twice the live torrents (plus ``SLACK``)
    at an amortized cost of a scan of the entries.
    """

    SLACK = 1024

    __slots__ = ("_bound", "_objects")

    def __init__(self) -> None:
        self._objects: dict[bytes, InfoHash] = {}
        self._bound = self.SLACK

    def __len__(self) -> int:
        return len(self._objects)

    def intern(self, info_hash: InfoHash) -> InfoHash:
        """The canonical object equal to ``info_hash`` (registering it if new)."""
        return self._objects.setdefault(info_hash, info_hash)

    def compact(self, users: Iterable[UserEntries], force: bool = False) -> bool:
        """Keep only the infohashes ``users`` still hold, if the table has
        doubled since the last compaction (or ``force``); returns whether it ran."""
        if len(self._objects) <= self._bound and not force:
            return False
        live: dict[bytes, InfoHash] = {ih: ih for entries in users for ih in entries}
        # The same dict object stays, so a bound ``intern`` remains valid.
        self._objects.clear()
        self._objects.update(live)
        self._bound = 2 * len(self._objects) + self.SLACK
        return True
