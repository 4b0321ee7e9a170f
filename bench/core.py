"""Benchmark of the reference core: announce throughput and memory per entry.

Prints one JSON document. Standard library only; run it with the project's
interpreter::

    python bench/core.py            # 100k users x 4 torrents (the issue's figures)
    python bench/core.py --users 20000   # a quicker run

What is measured, for the ``seed`` and ``recommended`` presets (``batch_size``
1024, everything else at the preset's defaults):

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
* ``memory``: bytes retained by the tracker per tracked entry (tracemalloc)
  after inserting every entry and updating each once with large counters
  (so each entry owns its counter objects), once the requests are gone.
  The passkey identifier's credential cache is measured separately (per
  user) and is not part of ``bytes_per_entry``.
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import sys
import time
import tracemalloc
from collections.abc import Callable
from functools import partial
from typing import Any

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
TARGET_BYTES_PER_ENTRY = 200


def user_ids(users: int) -> list[UserId]:
    return [UserId(i.to_bytes(16, "big")) for i in range(1, users + 1)]


def build_requests(users: list[UserId], round_no: int) -> list[AnnounceRequest]:
    """One announce per (user, torrent); counters grow with ``round_no``.

    Every request gets its own infohash and peer id objects, as requests
    decoded from the wire would.
    """
    out: list[AnnounceRequest] = []
    for n, user in enumerate(users):
        credential = passkey_credential(user)
        peer = (n % 1000).to_bytes(20, "big")
        for t in range(TORRENTS):
            up = round_no * 1_000_003 + n
            out.append(AnnounceRequest(
                credential,
                InfoHash(bytes([0xA0 + t]) * 20),
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


def bench_rates(preset: str, users: list[UserId], repeat: int, frozen: bool) -> dict[str, Any]:
    n = len(users) * TORRENTS
    insert_best = update_best = build_best = float("inf")
    for r in range(repeat):
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


def bench_memory(preset: str, users: list[UserId]) -> dict[str, Any]:
    """Bytes the tracker retains per entry, and the identifier's cache per user."""
    n = len(users) * TORRENTS
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        # The seed's stop forgets every entry (R8.3); this one keeps them.
        tracker = new_tracker(preset, stop_entries="keep")
        for round_no, now in ((0, EPOCH + 1), (7, EPOCH + 2)):
            requests = build_requests(users, round_no)
            run_announces(tracker, requests, now)
            del requests
        # Deliver every pending record (stop keeps the entries) so that only
        # the tracked entries remain.
        for batch in tracker.stop(EPOCH + 3):
            tracker.batch_succeeded(batch.batch_id, EPOCH + 3)
        assert tracker.metrics().pending_records == 0
        gc.collect()
        with_identifier = tracemalloc.get_traced_memory()[0] - base
        assert tracker.metrics().entries == n
        # The identifier's cache alone, built the same way.
        base2 = tracemalloc.get_traced_memory()[0]
        identifier = PasskeyIdentifier()
        requests = build_requests(users, 0)[::TORRENTS]
        requests_size = tracemalloc.get_traced_memory()[0] - base2
        for request in requests:
            identifier.identify(request)
        del requests
        gc.collect()
        identifier_bytes = tracemalloc.get_traced_memory()[0] - base2
        del requests_size
    finally:
        tracemalloc.stop()
    del tracker, identifier
    core = with_identifier - identifier_bytes
    return {
        "entries": n,
        "bytes_per_entry": round(core / n, 1),
        "identifier_cache_bytes_per_user": round(identifier_bytes / len(users), 1),
        "bytes_per_entry_with_identifier": round(with_identifier / n, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000,
                        help="users, each announcing on 4 torrents (default 100000)")
    parser.add_argument("--memory-users", type=int, default=None,
                        help="users for the memory figure (default: --users)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per figure (best of)")
    parser.add_argument("--presets", default="seed,recommended")
    args = parser.parse_args(argv)
    users = user_ids(args.users)
    mem_users = user_ids(args.memory_users or args.users)
    report: dict[str, Any] = {
        "command": " ".join(["python", "bench/core.py", *sys.argv[1:]]),
        "clock": "time.process_time: CPU seconds of this process (one core)",
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "machine": platform.machine(),
        "users": args.users,
        "torrents_per_user": TORRENTS,
        "announces_per_run": args.users * TORRENTS,
        "batch_size": BATCH_SIZE,
        "repeat": args.repeat,
        "targets": {"update_per_s": TARGET_UPDATE_PER_S,
                    "bytes_per_entry": TARGET_BYTES_PER_ENTRY},
        "presets": {},
    }
    for preset in args.presets.split(","):
        report["presets"][preset] = {
            "gc_default": bench_rates(preset, users, args.repeat, frozen=False),
            "gc_frozen": bench_rates(preset, users, args.repeat, frozen=True),
            "memory": bench_memory(preset, mem_users),
        }
    print(json.dumps(report, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
