"""Mutants: the reference with one deliberate semantic bug each.

They prove that the conformance kit catches real mistakes: the test suite
runs every mutant behind the ordinary adapter protocol and requires both the
vector runner and the differential fuzzer to flag it. Each mutant is a
:class:`~privtrak.reference.Tracker` subclass (the bug, in a few lines,
overriding only public methods and the extension points the ``Tracker``
docstring lists)
wrapped in an :class:`~privtrak.conformance._execute.Execution` subclass,
so it survives ``snapshot_restore`` like the reference does.

Run one as an adapter, or list them::

    privtrak adapter --mutant NAME
    privtrak adapter --list-mutants

:data:`MUTANTS` (public as ``privtrak.conformance.MUTANTS``) maps each name
to its implementation factory; the first line of each tracker class's
docstring says what is broken.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any, ClassVar

from privtrak import __version__
from privtrak.reference import (
    AnnounceRequest,
    AnnounceResult,
    Config,
    Duration,
    Event,
    HandlerFailure,
    Outcome,
    Seconds,
    StopUndelivered,
    Tracker,
    restore,
    shard_of,
)
from privtrak.reference._entries import COMPLETED_BIT, UserEntries, pack
from privtrak.reference._results import CloseReport
from privtrak.reference._tracker_base import KINDS

from ._adapter import ALL_FEATURES, AdapterInfo, serve
from ._execute import Execution
from ._mutants_gaps import GAP_MUTANTS

# -- the broken trackers ------------------------------------------------------


class BatchSizeOffByOne(Tracker):
    """Seals a shard buffer at batch_size + 1 records instead of batch_size (R6.1)."""

    def _configure_hot_path(self) -> None:
        super()._configure_hot_path()
        self._batch_size = self._config.batch_size + 1


class LostOnFailure(Tracker):
    """Forgets a batch whose delivery failed instead of retrying it (R6.5)."""

    def batch_failed(self, batch_id: int, now: Seconds) -> bool:
        self._now = max(self._now, now)
        pending = self._batcher.resolve(batch_id)
        self._counts["batches_failed"] += 1
        # Counted as delivered, so the tracker's own snapshot stays consistent
        # (restore checks $.counts) and the bug shows in observations only.
        self._counts["records_delivered"] += len(pending.batch.records)
        return pending.on_path and (
            self._config.policy.handler_failure is HandlerFailure.FAIL_ANNOUNCE)


class DuplicatedOnRetry(Tracker):
    """A failed batch's records come back twice: retried, and also re-buffered (R6.5)."""

    def batch_failed(self, batch_id: int, now: Seconds) -> bool:
        batch = self._batcher.in_flight[batch_id].batch
        fail_announce = super().batch_failed(batch_id, now)
        for record in batch.records:
            self._batcher.append(batch.shard, record, now)
            # Counted as emitted again, so the tracker's own snapshot stays
            # consistent (restore checks $.counts): the bug shows in observations only.
            self._record_counts[KINDS.index(record.kind)] += 1
        return fail_announce


class NegativeDeltaRecommended(Tracker):
    """Credits a negative delta when counters go down, even under the recommended preset (R4.1)."""

    def _configure_hot_path(self) -> None:
        super()._configure_hot_path()
        self._reset_on_decrease = False


class PurgeTooEarly(Tracker):
    """Purges an entry at exactly peer_lifetime seconds of silence, one second early (R7)."""

    def _configure_hot_path(self) -> None:
        super()._configure_hot_path()
        self._lifetime = Duration(self._config.peer_lifetime - 1)


class PurgeNever(Tracker):
    """Never drops a stale entry: neither GC, nor the announce path, nor expiry (R7)."""

    def _configure_hot_path(self) -> None:
        super()._configure_hot_path()
        self._expire_stale = False

    def _purge_user(self, user: Any, ustate: UserEntries, cutoff: int, now: Seconds) -> bool:
        return False


def _fnv1_shard(user: bytes, shard_count: int) -> int:
    """FNV-1 (multiply, then xor) instead of FNV-1a: the classic mix-up."""
    h = 0x811C9DC5
    for byte in user:
        h = ((h * 0x01000193) & 0xFFFFFFFF) ^ byte
    return h % shard_count


class WrongShardHash(Tracker):
    """Picks the shard with FNV-1 instead of FNV-1a (R2.3)."""

    def _shard_of_new_user(self, user: Any) -> int:
        return _fnv1_shard(user, self._config.shard_count)


class StoppedNotRemoving(Tracker):
    """Keeps the entry after a ``stopped`` announce on a known entry (R5.1)."""

    def announce(self, request: AnnounceRequest, now: Seconds) -> AnnounceResult:
        result = super().announce(request, now)
        if result.outcome is Outcome.STOPPED and result.user is not None:
            user = result.user
            layout = self._layout
            peer = request.peer_id if layout.by_peer else None
            ustate = self._users.get(user)
            if ustate is None:
                ustate = UserEntries(shard_of(user, self._config.shard_count), now, peer)
                self._users[user] = ustate
            if layout.get(ustate, request.info_hash, peer) is None:
                layout.put(ustate, self._intern(request.info_hash), peer, pack(
                    request.uploaded, request.downloaded, now, False))
                self._entry_count += 1
        return result


class CounterWrapRecommended(Tracker):
    """Wraps counters above 2**63-1 into int64 instead of rejecting them (R9.2)."""

    def _configure_hot_path(self) -> None:
        super()._configure_hot_path()
        self._reject_big = False


class CompletedTwice(Tracker):
    """Forgets that an entry already completed, so every ``completed`` is a snatch (R5.2)."""

    def announce(self, request: AnnounceRequest, now: Seconds) -> AnnounceResult:
        result = super().announce(request, now)
        if request.event is Event.COMPLETED and result.user is not None:
            ustate = self._users.get(result.user)
            if ustate is not None:
                layout = self._layout
                for info_hash, peer, packed in list(layout.items(ustate)):
                    layout.put(ustate, info_hash, peer, packed & ~COMPLETED_BIT)
        return result


class NoBackoff(Tracker):
    """Retries a failed batch at once, ignoring retry_backoff_initial (R6.5)."""

    def _backoff(self, attempts: int) -> int:
        return 0


class StopDrops(Tracker):
    """Drops undelivered batches at close even when the policy says return them (R8.2)."""

    def close(self, now: Seconds) -> CloseReport:
        policy = self._config.policy
        if policy.stop_undelivered is StopUndelivered.RETURN:
            self._config = replace(self._config, policy=replace(
                policy, stop_undelivered=StopUndelivered.DROP))
        return super().close(now)


# -- behind the executor --------------------------------------------------------


class MutantExecution(Execution):
    """The reference executor running a broken tracker class."""

    tracker_class: ClassVar[type[Tracker]] = Tracker

    def make_tracker(self, config: Config, start: Seconds) -> Tracker:
        return self.tracker_class(config, self.identifier(), now=start)

    def restore_tracker(self, doc: dict[str, Any]) -> Tracker:
        return restore(doc, self.identifier(), tracker_class=self.tracker_class)


class SnapshotLosesPending(MutantExecution):
    """Restores a snapshot without the records still buffered in shards (R8.3)."""

    def restore_tracker(self, doc: dict[str, Any]) -> Tracker:
        # Restore the whole document (restore refuses one whose buffers are
        # missing but counted), then rebuild the tracker without its buffers.
        # The lost records are counted as delivered, so that the next snapshot
        # restores too: the bug shows in observations only.
        state = super().restore_tracker(doc).export_state()
        lost = sum(len(buf.records) for buf in state.batcher.buffers)
        counts = {**state.counts,
                  "records_delivered": state.counts.get("records_delivered", 0) + lost}
        return self.tracker_class.from_export(
            replace(state, batcher=replace(state.batcher, buffers=()), counts=counts),
            self.identifier())


def _execution(tracker_class: type[Tracker]) -> type[MutantExecution]:
    return type(f"{tracker_class.__name__}Execution", (MutantExecution,),
                {"tracker_class": tracker_class, "__doc__": tracker_class.__doc__})


_BASE_MUTANTS: Mapping[str, Callable[..., Execution]] = {
    "batch-size-off-by-one": _execution(BatchSizeOffByOne),
    "lost-on-failure": _execution(LostOnFailure),
    "duplicated-on-retry": _execution(DuplicatedOnRetry),
    "negative-delta-recommended": _execution(NegativeDeltaRecommended),
    "purge-too-early": _execution(PurgeTooEarly),
    "purge-never": _execution(PurgeNever),
    "wrong-shard-hash": _execution(WrongShardHash),
    "stopped-not-removing": _execution(StoppedNotRemoving),
    "counter-wrap-recommended": _execution(CounterWrapRecommended),
    "snapshot-loses-pending": SnapshotLosesPending,
    "completed-twice": _execution(CompletedTwice),
    "no-backoff": _execution(NoBackoff),
    "stop-drops": _execution(StopDrops),
}
MUTANTS: Mapping[str, Callable[..., Execution]] = {**_BASE_MUTANTS, **GAP_MUTANTS}
"""Mutant name -> implementation factory (``factory(config, start, allow_list)``):
the original set and, from :mod:`._mutants_gaps`, one or more per blind spot
the kit once had."""


def describe(name: str) -> str:
    """The one-line description of mutant ``name``."""
    doc = getattr(MUTANTS[name], "__doc__", None) or ""
    return doc.strip().splitlines()[0] if doc.strip() else name


def adapter_command(name: str) -> str:
    """The shell command that serves mutant ``name`` over the adapter protocol."""
    return f"{shlex.quote(sys.executable)} -m privtrak adapter --mutant {shlex.quote(name)}"


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m privtrak.conformance._mutants NAME``: serve one mutant on stdio."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1 or args[0] not in MUTANTS:
        print("usage: python -m privtrak.conformance._mutants NAME\nmutants:", file=sys.stderr)
        for name in MUTANTS:
            print(f"  {name:28} {describe(name)}", file=sys.stderr)
        return 2
    name = args[0]
    info = AdapterInfo(f"mutant:{name}", __version__, ALL_FEATURES)
    return serve(MUTANTS[name], info, sys.stdin, sys.stdout, sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
