"""How the tracker stores its baselines: the memory layout of the core.

A tracker holds ``users: dict[UserId, UserEntries]``. A :class:`UserEntries`
holds the user's ``entries`` dict, keyed by infohash, the user's shard, a
lower bound of its entries' ``last_seen`` and, under ``user_torrent_peer``
keying, its *home peer*: the peer id of the announce that created it (a
client uses one peer id for all its torrents, so most of a user's entries
share it). A stored baseline is one int::

    plain    up | down << 64 | completed << 128 | last_seen << 130
    folded   up | down << 64 | completed << 128 | 1 << 129 | peer << 130
             | last_seen << 290

``peer`` is a peer id read as a big-endian 160-bit number. What a user's
``entries`` dict holds for one infohash (a *slot*) is:

* without peer keying: a plain int;
* with peer keying and one peer on the torrent: a plain int if that peer is
  the home peer, else a folded int (the peer id travels in the int);
* with several peers on the torrent: a ``dict[PeerId, int]`` of plain ints
  in insertion order, which goes back to a single int when one peer is left.

Every key of an ``entries`` dict is the tracker's interned infohash object
(:class:`InfoHashTable`): one ``bytes`` per torrent shared by all its
entries. So the common entry costs a plain int (48 bytes) and its dict
slot, where a 40-byte infohash+peer id key would cost 73 bytes more.
Matching the home peer is a bytes comparison, cheaper on every announce
than reading the request's peer id as a number. The price: each user keeps
its home peer id (53 bytes), and each torrent its canonical infohash and a
table slot (about 100 bytes, shared by the torrent's entries), so an entry
alone on its torrent costs more than an unshared key would
(``memory.one_torrent_per_entry`` in bench/core.py). A restored snapshot
takes each user's first listed peer as its home peer.

:class:`EntryLayout` hides the two int forms: everything it hands out or
takes in is a plain int. Iteration order (the order snapshots list entries
in) is the user's dict order, and within a multi-peer slot the peer dict's
order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from ._types import INFO_HASH_LEN, PEER_ID_LEN, ByteCount, InfoHash, PeerId, Seconds

U64_MASK = (1 << 64) - 1
DOWN_SHIFT = 64
COMPLETED_BIT = 1 << 128
FOLDED_BIT = 1 << 129
"""Set in a folded int: one whose peer is not the user's home peer."""
SEEN_SHIFT = 130
PEER_SHIFT = 130
PEER_BITS = 8 * PEER_ID_LEN
FOLDED_SEEN_SHIFT = PEER_SHIFT + PEER_BITS
_LOW_MASK = (1 << 129) - 1  # up, down and completed
_PEER_MASK = (1 << PEER_BITS) - 1

Slot = int | dict[PeerId, int]
"""What a user's dict holds for one infohash (see the module docstring)."""


class UserEntries:
    """One user's baselines keyed by interned infohash, plus its shard,
    ``oldest`` (a lower bound of ``min(last_seen)`` over its entries: while
    it is not below the purge cutoff no entry can be stale and the scan is
    skipped) and its home peer (``None`` without peer keying).

    (A dict subclass carrying these as slots would save 40 bytes per user,
    but CPython does not specialize item access on dict subclasses, which
    costs more on every announce.)"""

    __slots__ = ("entries", "oldest", "peer", "shard")

    def __init__(self, shard: int, oldest: int, peer: PeerId | None = None) -> None:
        self.entries: dict[InfoHash, Slot] = {}
        self.shard = shard
        self.oldest = oldest
        self.peer = peer


def pack(up: int, down: int, last_seen: int, completed: bool) -> int:
    """One plain baseline (counters within 0..2**64-1, ``last_seen >= 0``)."""
    return (last_seen << SEEN_SHIFT) | (COMPLETED_BIT if completed else 0) | (
        down << DOWN_SHIFT) | up


def unpack(packed: int) -> tuple[ByteCount, ByteCount, Seconds, bool]:
    """``(up, down, last_seen, completed)`` of a plain baseline."""
    return (ByteCount(packed & U64_MASK), ByteCount((packed >> DOWN_SHIFT) & U64_MASK),
            Seconds(packed >> SEEN_SHIFT), bool(packed & COMPLETED_BIT))


def fold(packed: int, peer: bytes) -> int:
    """The folded form of a plain baseline of ``peer``."""
    return ((packed & _LOW_MASK) | FOLDED_BIT | (int.from_bytes(peer, "big") << PEER_SHIFT)
            | ((packed >> SEEN_SHIFT) << FOLDED_SEEN_SHIFT))


def unfold(folded: int) -> int:
    """The plain form of a folded baseline."""
    return (folded & _LOW_MASK) | ((folded >> FOLDED_SEEN_SHIFT) << SEEN_SHIFT)


def folded_peer(folded: int) -> PeerId:
    """The peer id carried by a folded baseline."""
    return PeerId(((folded >> PEER_SHIFT) & _PEER_MASK).to_bytes(PEER_ID_LEN, "big"))


class EntryLayout:
    """Access to a user's baselines for one keying; see the module docstring.

    Every int it returns or takes is a plain baseline. The tracker's
    announce path inlines the common cases (a plain int slot) with the same
    constants; everything else goes through these methods.
    """

    __slots__ = ("by_peer",)

    def __init__(self, by_peer: bool) -> None:
        self.by_peer = by_peer

    def _store_single(self, user: UserEntries, info_hash: InfoHash, peer: PeerId | None,
                      packed: int) -> None:
        """Make ``packed`` (of ``peer``) the only baseline of the slot."""
        home = not self.by_peer or peer == user.peer
        user.entries[info_hash] = packed if home else fold(packed, peer or b"")

    def _single_peer(self, user: UserEntries, slot: int) -> PeerId | None:
        if not self.by_peer:
            return None
        return folded_peer(slot) if slot & FOLDED_BIT else user.peer

    def get(self, user: UserEntries, info_hash: bytes, peer: bytes | None) -> int | None:
        """The stored baseline for ``(info_hash, peer)``, or ``None``."""
        slot = user.entries.get(InfoHash(info_hash))
        if slot is None or not self.by_peer:
            return slot  # type: ignore[return-value]  # an int without peer keying
        if peer is None or len(peer) != PEER_ID_LEN:
            return None
        if isinstance(slot, int):
            if self._single_peer(user, slot) != peer:
                return None
            return unfold(slot) if slot & FOLDED_BIT else slot
        return slot.get(PeerId(peer))

    def put(self, user: UserEntries, info_hash: InfoHash, peer: PeerId | None,
            packed: int) -> bool:
        """Store ``packed`` as the baseline of ``(info_hash, peer)``; returns
        whether the entry is new. ``info_hash`` must be the interned object."""
        slot = user.entries.get(info_hash)
        if slot is None:
            self._store_single(user, info_hash, peer, packed)
            return True
        if isinstance(slot, int):
            other = self._single_peer(user, slot)
            if other == peer:
                self._store_single(user, info_hash, peer, packed)
                return False
            assert other is not None and peer is not None
            user.entries[info_hash] = {other: unfold(slot) if slot & FOLDED_BIT else slot,
                               peer: packed}
            return True
        assert peer is not None
        new = peer not in slot
        slot[peer] = packed
        return new

    def remove(self, user: UserEntries, info_hash: bytes, peer: bytes | None) -> None:
        """Delete the stored baseline for ``(info_hash, peer)``, which must exist."""
        key = InfoHash(info_hash)
        slot = user.entries[key]
        if isinstance(slot, int):
            del user.entries[key]
            return
        del slot[PeerId(peer or b"")]
        if len(slot) == 1:
            [(last_peer, packed)] = slot.items()
            self._store_single(user, key, last_peer, packed)

    def items(self, user: UserEntries) -> Iterator[tuple[InfoHash, PeerId | None, int]]:
        """Every ``(info_hash, peer_id, plain baseline)`` of the user, in
        storage order; ``peer_id`` is ``None`` without peer keying."""
        for info_hash, slot in user.entries.items():
            if isinstance(slot, int):
                plain = unfold(slot) if slot & FOLDED_BIT else slot
                yield info_hash, self._single_peer(user, slot), plain
            else:
                for peer, packed in slot.items():
                    yield info_hash, peer, packed

    def flat(self, user: UserEntries) -> dict[bytes, int]:
        """The user's baselines as one dict ``infohash + peer id -> plain
        baseline`` (the infohash alone without peer keying), in storage
        order: the list the seed keeps, keyed as it is. A copy, for code
        off the announce path (the seed's expiry panics, R7.3)."""
        return {info_hash + (peer or b""): packed for info_hash, peer, packed in self.items(user)}

    def replace(self, user: UserEntries, flat: Iterable[tuple[bytes, int]],
                intern: Callable[[InfoHash], InfoHash]) -> None:
        """Make ``flat`` (``(key, plain baseline)`` pairs keyed as :meth:`flat`
        keys them; a repeated key keeps its last value) the user's only
        baselines, storing each infohash as ``intern`` returns it. The home
        peer stays as it was."""
        user.entries = {}
        for key, packed in flat:
            info_hash = intern(InfoHash(key[:INFO_HASH_LEN]))
            self.put(user, info_hash, PeerId(key[INFO_HASH_LEN:]) if self.by_peer else None,
                     packed)

    @staticmethod
    def count(user: UserEntries) -> int:
        """How many baselines the user holds."""
        return sum(1 if isinstance(slot, int) else len(slot) for slot in user.entries.values())


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
        live: dict[bytes, InfoHash] = {ih: ih for user in users for ih in user.entries}
        # The same dict object stays, so a bound ``intern`` remains valid.
        self._objects.clear()
        self._objects.update(live)
        self._bound = 2 * len(self._objects) + self.SLACK
        return True
