"""Benchmark of the reference core: announce throughput and memory per entry.

Prints one JSON document on stdout and a progress line on stderr (rewritten
in place on a terminal, one line per step otherwise). Standard library only;
run it with the project's interpreter::

    python bench/core.py            # 10k users x 4 torrents (5k for memory), under a minute
    python bench/core.py --full     # 100k users x 4 torrents for everything (minutes, ~1 GB)
    python bench/core.py --users 20000 --repeat 5

What is measured, for the ``seed`` and ``recommended`` presets (``batch_size``
1024, everything else at the preset's defaults); the JSON's ``definitions``
repeats this next to the figures:

* ``insert``: announces that create entries (one per user and torrent, on a
  fresh tracker);
* ``update``: announces on known entries with increasing counters, so every
  one credits bytes and emits a record;
* both with a handler that accepts everything: a batch returned on the
  announce path (seed) is acknowledged at once, and sealed batches are
  drained with ``next_batch``/``batch_succeeded`` after every 1024
  announces (recommended);
* ``core_per_s``: requests are built before the clock starts (the core
  alone); ``requests.build_per_s`` is the cost of building and validating
  :class:`AnnounceRequest` objects on their own, and ``end_to_end_per_s``
  combines both;
* each timing is the best of ``--repeat`` runs, once with CPython's cyclic
  garbage collector as it is (``gc_default``) and once with the objects of
  the set-up frozen out of its reach by ``gc.freeze()`` (``gc_frozen``);
  hundreds of thousands of live objects make full collections expensive,
  and a long-running server would freeze its steady state the same way;
* ``memory``: bytes of Python objects retained by the tracker per tracked
  entry, as ``tracemalloc`` counts them, after inserting every entry and
  updating each once with large counters (so each entry owns its counter
  objects), once the requests are gone. Every user announces on the same
  four torrents, so the interned infohash objects are shared by all users;
  ``memory.one_torrent_per_entry`` repeats the measurement with a torrent of
  its own for every entry, the least sharing possible. The passkey
  identifier's credential cache is measured separately (per user) and is
  not part of ``bytes_per_entry``;
* ``process_peak_rss_bytes``: the peak resident set size of this whole
  benchmark process (requests, trackers and tracemalloc's own bookkeeping
  included), not a figure of the core.
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import resource
import shlex
import sys
import time
import tracemalloc
from collections.abc import Callable
from functools import partial
from typing import Any, TextIO

from privtrak.reference import (
    AnnounceRequest,
    Event,
    InfoHash,
    PasskeyIdentifier,
    PeerId,
    Tracker,
    UserId,
    parse_config,
    passkey_credential,
)

TORRENTS = 4
BATCH_SIZE = 1024
DRAIN_EVERY = 1024
TARGET_UPDATE_PER_S = 250_000
TARGET_BYTES_PER_ENTRY = 160
DEFAULT_USERS = 10_000
DEFAULT_MEMORY_USERS = 5_000
FULL_USERS = 100_000

DEFINITIONS = {
    "insert.core_per_s": "announces per CPU second that create an entry on a fresh tracker, "
                         "requests built beforehand (the core alone)",
    "update.core_per_s": "announces per CPU second on known entries, each crediting bytes and "
                         "emitting a record, requests built beforehand (the core alone)",
    "update.end_to_end_per_s": "update announces per CPU second including building and "
                               "validating each AnnounceRequest",
    "requests.build_per_s": "AnnounceRequest objects built and validated per CPU second",
    "gc_default / gc_frozen": "timings with CPython's cyclic GC as it is / with the set-up "
                              "objects moved out of its reach by gc.freeze()",
    "memory.bytes_per_entry": "tracemalloc bytes of the Python objects the tracker retains "
                              "(users, their entries, interned infohashes, buffers), divided "
                              "by tracked entries; the identifier's cache is excluded",
    "memory.identifier_cache_bytes_per_user": "tracemalloc bytes of the passkey identifier's "
                                              "credential cache, per user",
    "memory.bytes_per_entry_with_identifier": "the tracker and the identifier's cache "
                                              "together, per tracked entry",
    "memory.one_torrent_per_entry.bytes_per_entry": "memory.bytes_per_entry when every entry "
                                                    "is on a torrent of its own (no infohash "
                                                    "shared between entries)",
    "process_peak_rss_bytes": "peak resident set size of this benchmark process as a whole "
                              "(getrusage ru_maxrss), not a figure of the core",
}


class Progress:
    """One progress line on ``stream``: rewritten in place on a terminal,
    a plain line per step otherwise."""

    def __init__(self, total: int, stream: TextIO = sys.stderr) -> None:
        self.total = total
        self.done = 0
        self.stream = stream
        self.tty = stream.isatty()
        self.start = time.monotonic()

    def step(self, what: str) -> None:
        """Announce the step about to run."""
        self.done += 1
        line = (f"bench/core.py [{self.done}/{self.total}] {what} "
                f"({time.monotonic() - self.start:.0f} s elapsed)")
        if self.tty:
            self.stream.write("\r\x1b[K" + line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def finish(self) -> None:
        """End the progress output."""
        line = f"bench/core.py done in {time.monotonic() - self.start:.0f} s"
        self.stream.write(("\r\x1b[K" if self.tty else "") + line + "\n")
        self.stream.flush()


def user_ids(users: int) -> list[UserId]:
    return [UserId(i.to_bytes(16, "big")) for i in range(1, users + 1)]


def build_requests(users: list[UserId], round_no: int,
                   own_torrents: bool = False) -> list[AnnounceRequest]:
    """One announce per (user, torrent); counters grow with ``round_no``.

    Every request gets its own infohash and peer id objects, as requests
    decoded from the wire would. Users share four torrents, or with
    ``own_torrents`` every (user, torrent) pair is a torrent of its own.
    """
    out: list[AnnounceRequest] = []
    for n, user in enumerate(users):
        credential = passkey_credential(user)
        peer = (n % 1000).to_bytes(20, "big")
        for t in range(TORRENTS):
            up = round_no * 1_000_003 + n
            info_hash = (bytes([0xA0 + t]) + user + b"\xff\xff\xff" if own_torrents
                         else bytes([0xA0 + t]) * 20)
            out.append(AnnounceRequest(
                credential,
                InfoHash(bytes(memoryview(info_hash))),
                PeerId(bytes(memoryview(peer))),
                up, up // 2 + t, 1000, Event.NONE))
    return out


def build_count(users: list[UserId], round_no: int) -> int:
    return len(build_requests(users, round_no))


EPOCH = 1_800_000_000
"""A realistic unix time: a stored baseline's size depends on its last_seen."""


def new_tracker(preset: str, **overrides: Any) -> Tracker:
    return Tracker(parse_config({"preset": preset, "batch_size": BATCH_SIZE, **overrides}),
                   PasskeyIdentifier(), now=EPOCH)


def run_announces(tracker: Tracker, requests: list[AnnounceRequest], now: int) -> int:
    """Announce every request at ``now`` with a handler that accepts everything."""
    announce = tracker.announce
    succeeded = tracker.batch_succeeded
    next_batch = tracker.next_batch
    since_drain = 0
    for request in requests:
        flush = announce(request, now).flush
        if flush is not None:
            succeeded(flush.batch_id, now)
        since_drain += 1
        if since_drain == DRAIN_EVERY:
            since_drain = 0
            while (batch := next_batch(now)) is not None:
                succeeded(batch.batch_id, now)
    while (batch := next_batch(now)) is not None:
        succeeded(batch.batch_id, now)
    return len(requests)


def timed(fn: Callable[[], int], frozen: bool) -> float:
    """CPU seconds of this process for one call of ``fn`` (one core, and not
    inflated by other processes on a shared machine); with ``frozen``, set-up
    objects are moved out of the cyclic collector's reach first."""
    gc.collect()
    if frozen:
        gc.freeze()
    try:
        start = time.process_time()
        fn()
        return time.process_time() - start
    finally:
        if frozen:
            gc.unfreeze()


def bench_rates(preset: str, users: list[UserId], repeat: int, frozen: bool,
                progress: Progress) -> dict[str, Any]:
    n = len(users) * TORRENTS
    insert_best = update_best = build_best = float("inf")
    for r in range(repeat):
        progress.step(f"{preset} {'gc_frozen' if frozen else 'gc_default'} "
                      f"run {r + 1}/{repeat}")
        tracker = new_tracker(preset)
        requests = build_requests(users, 0)
        insert = partial(run_announces, tracker, requests, EPOCH + 1)
        insert_best = min(insert_best, timed(insert, frozen))
        requests = build_requests(users, r + 1)
        update = partial(run_announces, tracker, requests, EPOCH + 2)
        update_best = min(update_best, timed(update, frozen))
        assert tracker.metrics().records["transfer"] == n, "every update must credit"
        del requests, tracker
        build_best = min(build_best, timed(partial(build_count, users, r + 2), frozen))
    core_update = n / update_best
    build = n / build_best
    return {
        "insert": {"core_per_s": round(n / insert_best)},
        "update": {"core_per_s": round(core_update),
                   "end_to_end_per_s": round(1 / (1 / core_update + 1 / build))},
        "requests": {"build_per_s": round(build)},
    }


def tracker_bytes(preset: str, users: list[UserId], own_torrents: bool) -> int:
    """tracemalloc bytes retained by a tracker holding every entry (see the
    module docstring), the identifier's cache included. The requests are
    built while tracing runs, so every object the tracker keeps of them is
    counted."""
    n = len(users) * TORRENTS
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        # The seed's stop forgets every entry (R8.3); this one keeps them.
        tracker = new_tracker(preset, stop_entries="keep")
        for round_no, now in ((0, EPOCH + 1), (7, EPOCH + 2)):
            requests = build_requests(users, round_no, own_torrents)
            run_announces(tracker, requests, now)
            del requests
        # Deliver every pending record (stop keeps the entries) so that only
        # the tracked entries remain.
        for batch in tracker.stop(EPOCH + 3):
            tracker.batch_succeeded(batch.batch_id, EPOCH + 3)
        assert tracker.metrics().pending_records == 0
        assert tracker.metrics().entries == n
        gc.collect()
        retained = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    del tracker
    return retained


def identifier_bytes(users: list[UserId]) -> int:
    """tracemalloc bytes of a passkey identifier that has seen every user once."""
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        identifier = PasskeyIdentifier()
        requests = build_requests(users, 0)[::TORRENTS]
        for request in requests:
            identifier.identify(request)
        del requests
        gc.collect()
        retained = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    del identifier
    return retained


def bench_memory(preset: str, users: list[UserId], progress: Progress) -> dict[str, Any]:
    """Bytes the tracker retains per entry, and the identifier's cache per user."""
    n = len(users) * TORRENTS
    progress.step(f"{preset} memory, identifier cache")
    ident = identifier_bytes(users)
    progress.step(f"{preset} memory, shared torrents")
    shared = tracker_bytes(preset, users, own_torrents=False)
    progress.step(f"{preset} memory, one torrent per entry")
    own = tracker_bytes(preset, users, own_torrents=True)
    return {
        "entries": n,
        "bytes_per_entry": round((shared - ident) / n, 1),
        "identifier_cache_bytes_per_user": round(ident / len(users), 1),
        "bytes_per_entry_with_identifier": round(shared / n, 1),
        "one_torrent_per_entry": {"torrents": n, "bytes_per_entry": round((own - ident) / n, 1)},
    }


def main(argv: list[str] | None = None) -> int:
    args_in = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true",
                        help=f"the full run: {FULL_USERS} users (default {DEFAULT_USERS})")
    parser.add_argument("--users", type=int, default=None,
                        help="users, each announcing on 4 torrents (overrides --full)")
    parser.add_argument("--memory-users", type=int, default=None,
                        help=f"users for the memory figures (default {DEFAULT_MEMORY_USERS}, "
                             "with --full or --users the same as for the rates)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per figure (best of)")
    parser.add_argument("--presets", default="seed,recommended")
    args = parser.parse_args(args_in)
    n_users = args.users if args.users is not None else (
        FULL_USERS if args.full else DEFAULT_USERS)
    for name, value in (("--users", n_users), ("--memory-users", args.memory_users),
                        ("--repeat", args.repeat)):
        if value is not None and value < 1:
            parser.error(f"{name} must be at least 1, got {value}")
    presets = args.presets.split(",")
    users = user_ids(n_users)
    mem_users = user_ids(args.memory_users or (
        n_users if args.full or args.users is not None else DEFAULT_MEMORY_USERS))
    progress = Progress(total=len(presets) * (2 * args.repeat + 3))
    report: dict[str, Any] = {
        "command": shlex.join(["python", sys.argv[0], *args_in]),
        "mode": "custom" if args.users is not None else ("full" if args.full else "default"),
        "clock": "time.process_time: CPU seconds of this process (one core)",
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "machine": platform.machine(),
        "users": n_users,
        "memory_users": len(mem_users),
        "torrents_per_user": TORRENTS,
        "announces_per_run": n_users * TORRENTS,
        "batch_size": BATCH_SIZE,
        "repeat": args.repeat,
        "targets": {"update_per_s": TARGET_UPDATE_PER_S,
                    "bytes_per_entry_recommended": TARGET_BYTES_PER_ENTRY},
        "definitions": DEFINITIONS,
        "presets": {},
    }
    for preset in presets:
        report["presets"][preset] = {
            "gc_default": bench_rates(preset, users, args.repeat, False, progress),
            "gc_frozen": bench_rates(preset, users, args.repeat, True, progress),
            "memory": bench_memory(preset, mem_users, progress),
        }
    progress.finish()
    # ru_maxrss is in KiB on Linux.
    report["process_peak_rss_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps(report, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
