"""More mutants: one or more for every blind spot the kit once had.

Each is a :class:`~privtrak.reference.Tracker` subclass overriding a method
of the core (the supported seam: :class:`~._execute.Execution` documents
``make_tracker``/``restore_tracker``/``identifier`` as the points to build a
variant from), or an execution whose identifier or configuration is wrong.
Batcher bugs are installed through the ``batcher_class`` extension point;
state bugs by :meth:`MutantTracker.mutate`, which the mutant execution calls
on every tracker it builds or restores. The first line of
each docstring says what is broken; :data:`GAP_MUTANTS` maps names to
factories and is merged into :data:`._mutants.MUTANTS`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, ClassVar

from privtrak.reference import (
    AnnounceRequest,
    AnnounceResult,
    Config,
    Duration,
    ExpiryPanic,
    IdentificationError,
    PasskeyIdentifier,
    RejectCode,
    Seconds,
    StopEntries,
    Tracker,
    TrackerState,
    UserId,
    restore,
)
from privtrak.reference._batching import Batcher, Pending
from privtrak.reference._entries import COMPLETED_BIT
from privtrak.reference._identify import parse_passkey

from ._execute import Execution


class MutantTracker(Tracker):
    """A tracker with a :meth:`mutate` step, which the mutant execution runs on
    every tracker it builds or restores."""

    def mutate(self) -> None:
        """Install the broken parts that are state, not code; nothing by default."""


class _GapExecution(Execution):
    tracker_class: ClassVar[type[Tracker]] = Tracker

    def make_tracker(self, config: Config, start: Seconds) -> Tracker:
        tracker = self.tracker_class(config, self.identifier(), now=start)
        if isinstance(tracker, MutantTracker):
            tracker.mutate()
        return tracker

    def restore_tracker(self, doc: dict[str, Any]) -> Tracker:
        tracker = restore(doc, self.identifier(), tracker_class=self.tracker_class)
        if isinstance(tracker, MutantTracker):
            tracker.mutate()
        return tracker


# -- gap 1: outcomes reported later ---------------------------------------------


class _MergeBehind(Batcher):
    def merge_back(self, pending: Pending) -> None:
        index = self.buffer_index(pending.batch.shard)
        had = bool(self.buffers[index])
        self.buffers[index] = self.buffers[index] + list(pending.batch.records)
        self.buffered_records += len(pending.batch.records)
        if not had:
            self.first_record_at[index] = pending.batch.records[0].time


class MergeBehindNewer(Tracker):
    """A failed batch merged back goes behind the records buffered meanwhile (R6.5)."""

    batcher_class = _MergeBehind


class _RetainAtTheEnd(Batcher):
    def retain(self, pending: Pending, not_before: int) -> None:
        pending.not_before = not_before
        pending.on_path = False
        self.sealed_records += len(pending.batch.records)
        self.waiting[pending.batch.batch_id] = pending  # not re-sorted by id


class RetryLosesItsPlace(Tracker):
    """A failed batch waits behind batches sealed after it instead of keeping its
    place by id (R6.5)."""

    batcher_class = _RetainAtTheEnd


class _RetainNewId(Batcher):
    def retain(self, pending: Pending, not_before: int) -> None:
        pending.batch = replace(pending.batch, batch_id=self.next_batch_id)
        self.next_batch_id += 1
        super().retain(pending, not_before)


class RetryNewId(Tracker):
    """A retained failed batch is offered again under a new batch id (R6.4, R6.5)."""

    batcher_class = _RetainNewId


# -- gap 2: retries that collide ---------------------------------------------------


class _NewestFirst(Batcher):
    def first_eligible(self, now: int) -> int | None:
        due = [b for b, p in self.waiting.items() if p.not_before <= now]
        return max(due) if due else None


class RetriesNewestFirst(Tracker):
    """Of several batches due at once, the highest id is handed out first (R6.4)."""

    batcher_class = _NewestFirst


class BackoffUncapped(Tracker):
    """The retry backoff keeps doubling past retry_backoff_max (R6.5)."""

    def _backoff(self, attempts: int) -> int:
        return int(self._config.retry_backoff_initial * 2 ** min(attempts - 1, 62))


class BackoffDoubledEarly(Tracker):
    """The first retry already waits twice retry_backoff_initial (R6.5)."""

    def _backoff(self, attempts: int) -> int:
        return super()._backoff(attempts + 1)


class StopSkipsBackingOff(Tracker):
    """Stop hands out only batches whose backoff is over; the rest stay to close (R8)."""

    def stop(self, now: Seconds) -> tuple[Any, ...]:
        waiting = self._batcher.waiting
        held = {b: p for b, p in waiting.items() if p.not_before > now}
        for b in held:
            del waiting[b]
        handed = super().stop(now)
        waiting.update(held)
        return handed


# -- gap 3: entry flags --------------------------------------------------------------


class RestoreForgetsCompleted(MutantTracker):
    """A restored tracker has lost every entry's completed flag (R8.3, R5.2)."""

    def mutate(self) -> None:
        super().mutate()
        layout = self._layout
        for state in self._users.values():
            for info_hash, peer, packed in list(layout.items(state)):
                layout.put(state, info_hash, peer, packed & ~COMPLETED_BIT)


class CompletedBaselineUnflagged(Tracker):
    """An entry created by a completed announce does not get the completed flag (R5.2)."""

    def announce(self, request: AnnounceRequest, now: Seconds) -> AnnounceResult:
        result = super().announce(request, now)
        if result.outcome.value == "baseline" and request.event.value == "completed":
            state = self._users.get(result.user) if result.user is not None else None
            if state is not None:
                peer = request.peer_id if self._key_by_peer else None
                packed = self._layout.get(state, request.info_hash, peer)
                if packed is not None:
                    self._layout.put(state, self._intern(request.info_hash), peer,
                                     packed & ~COMPLETED_BIT)
        return result


# -- gap 4: next_deadline --------------------------------------------------------------


class DeadlineIgnoresBackoff(Tracker):
    """next_deadline leaves out batches backing off (R6.5)."""

    def next_deadline(self) -> Seconds | None:
        waiting = self._batcher.waiting
        saved = dict(waiting)
        waiting.clear()
        try:
            return super().next_deadline()
        finally:
            waiting.update(saved)


class DeadlineIgnoresAge(Tracker):
    """next_deadline leaves out the age seal of buffered records (R6.2)."""

    def next_deadline(self) -> Seconds | None:
        config = self._config
        self._config = replace(config, max_batch_age=None)
        try:
            return super().next_deadline()
        finally:
            self._config = config


class DeadlineIgnoresGc(Tracker):
    """next_deadline leaves out the next garbage collection (R7)."""

    def next_deadline(self) -> Seconds | None:
        state = self._state
        self._state = TrackerState.STOPPING if state is TrackerState.OPEN else state
        try:
            return super().next_deadline()
        finally:
            self._state = state


class AgeSealLate(Tracker):
    """A buffer is sealed one second after it reached max_batch_age (R6.2)."""

    def next_batch(self, now: Seconds) -> Any:
        config = self._config
        if config.max_batch_age is not None:
            self._config = replace(config, max_batch_age=Duration(config.max_batch_age + 1))
        try:
            return super().next_batch(now)
        finally:
            self._config = config


# -- the seed's panics and stop (section 1) ------------------------------------------


class SeedGcCompletes(Tracker):
    """The seed's GC purges every stale entry where Go panics and removes nothing (R7.3)."""

    def _configure_hot_path(self) -> None:
        super()._configure_hot_path()
        self._abort_on_panic = False


class SeedStopKeeps(Tracker):
    """The seed's stop keeps the baselines Go's Stop throws away (R8.3)."""

    def stop(self, now: Seconds) -> tuple[Any, ...]:
        policy = self._config.policy
        self._config = replace(self._config, policy=replace(
            policy, stop_entries=StopEntries.KEEP))
        try:
            return super().stop(now)
        finally:
            self._config = replace(self._config, policy=policy)


class PanicStillFlushes(Tracker):
    """After an announce-path panic the size check still flushes the buffer (R7.3)."""

    def announce(self, request: AnnounceRequest, now: Seconds) -> AnnounceResult:
        result = super().announce(request, now)
        if result.seed_would_panic and result.flush is None and (
                self._config.policy.expiry_panic is ExpiryPanic.ABORT):
            shard = self.shard_of(result.user) if result.user is not None else 0
            if len(self._batcher.buffer_of(shard)) >= self._batch_size and not (
                    self._batcher.buffer_in_flight(shard)):
                pending = self._batcher.seal(shard, now, on_path=True)
                flush = self._batcher.take(pending.batch.batch_id).batch
                return result._replace(flush=flush)
        return result


# -- gap 5: allow-list; gap 7: credentials ----------------------------------------------


class _Identifier(PasskeyIdentifier):
    """A passkey identifier with a broken credential parser."""

    def __init__(self, allowed: Any, parse: Callable[[str], UserId],
                 honour_allow_list: bool = True) -> None:
        super().__init__(allowed if honour_allow_list else None)
        self._broken_parse = parse
        self._honoured = allowed if honour_allow_list else None

    def identify(self, request: AnnounceRequest) -> UserId:
        user = self._broken_parse(request.credential)
        if self._honoured is not None and user not in self._honoured:
            raise IdentificationError(RejectCode.UNKNOWN_USER, "not registered")
        return user


def _refuse(why: str) -> IdentificationError:
    return IdentificationError(RejectCode.BAD_CREDENTIAL, why)


def _lowercase_only(credential: str) -> UserId:
    if any(c in "ABCDEF" for c in credential.split("?", maxsplit=1)[0]):
        raise _refuse("upper-case passkey")
    return parse_passkey(credential)


def _trailing_slash_ok(credential: str) -> UserId:
    path, sep, query = credential.partition("?")
    return parse_passkey(path.rstrip("/") + sep + query if path.endswith("/announce/")
                         else credential)


def _path_only(credential: str) -> UserId:
    if "?" in credential:
        raise _refuse("query credentials not supported")
    return parse_passkey(credential)


def _case_sensitive_agreement(credential: str) -> UserId:
    user = parse_passkey(credential)
    path, _, query = credential.partition("?")
    if ("passkey=" in query and path.count("/") == 2 and path.endswith("/announce")
            and path.split("/")[1] != query.split("passkey=")[1].split("&")[0]):
        raise _refuse("conflicting passkeys")
    return user


class _IdentifierExecution(_GapExecution):
    parse: ClassVar[Callable[[str], UserId]] = staticmethod(parse_passkey)
    honour_allow_list: ClassVar[bool] = True

    def identifier(self) -> PasskeyIdentifier:
        return _Identifier(self.allow_list, type(self).parse, self.honour_allow_list)


def _identifier_execution(name: str, doc: str, parse: Callable[[str], UserId],
                          honour: bool = True) -> type[Execution]:
    return type(name, (_IdentifierExecution,), {
        "parse": staticmethod(parse), "honour_allow_list": honour, "__doc__": doc})


# -- gap 6: the configuration ------------------------------------------------------------


class AgeReadAsMinutes(_GapExecution):
    """Reads max_batch_age as minutes, as a parser that takes a bare number for
    minutes would (R10.1)."""

    def __init__(self, config: Config, start: int = 0,
                 allow_list: frozenset[UserId] | None = None) -> None:
        if config.max_batch_age is not None:
            config = replace(config, max_batch_age=Duration(config.max_batch_age * 60))
        super().__init__(config, start, allow_list)


# -- gap 8: what only deeper or mixed traces reach ----------------------------------------


def _saturate(value: int) -> int:
    return max(-(1 << 63), min(value, (1 << 63) - 1))


class CreditSaturates(Tracker):
    """Under counter_limit wrap, a credit beyond int64 saturates instead of wrapping (R9.1)."""

    def _wrap_int64(self, value: int) -> int:
        return _saturate(value)


class StartedResetNeedsPeerKeys(Tracker):
    """started_on_known reset is applied only under user_torrent_peer keying (R4.2)."""

    def _configure_hot_path(self) -> None:
        super()._configure_hot_path()
        self._reset_on_started = self._reset_on_started and self._key_by_peer


class PendingBoundOffByOne(Tracker):
    """Back-pressure lets one record more than max_pending wait (R6.7)."""

    def _configure_hot_path(self) -> None:
        super()._configure_hot_path()
        if self._max_pending is not None:
            self._max_pending += 1


class GcDoesNotSeal(Tracker):
    """Garbage collection never seals the buffers, whatever flush_on_gc says (R6.2)."""

    def collect_garbage(self, now: Seconds) -> Any:
        policy = self._config.policy
        self._config = replace(self._config, policy=replace(policy, flush_on_gc=False))
        try:
            return super().collect_garbage(now)
        finally:
            self._config = replace(self._config, policy=policy)


class StaleRevived(Tracker):
    """A stale entry met by an announce is used as a baseline instead of expiring (R7.2)."""

    def _configure_hot_path(self) -> None:
        super()._configure_hot_path()
        self._expire_stale = False


class PurgeSilent(Tracker):
    """Purges emit no purge record even when purge_records is on (R7.4)."""

    def _configure_hot_path(self) -> None:
        super()._configure_hot_path()
        self._purge_records = False


def _exec(tracker_class: type[Tracker]) -> type[Execution]:
    return type(f"{tracker_class.__name__}Execution", (_GapExecution,),
                {"tracker_class": tracker_class, "__doc__": tracker_class.__doc__})


GAP_MUTANTS: Mapping[str, Callable[..., Execution]] = {
    "merge-behind-newer": _exec(MergeBehindNewer),
    "retry-loses-its-place": _exec(RetryLosesItsPlace),
    "retry-new-id": _exec(RetryNewId),
    "retries-newest-first": _exec(RetriesNewestFirst),
    "backoff-uncapped": _exec(BackoffUncapped),
    "backoff-doubled-early": _exec(BackoffDoubledEarly),
    "stop-skips-backing-off": _exec(StopSkipsBackingOff),
    "restore-forgets-completed": _exec(RestoreForgetsCompleted),
    "completed-baseline-unflagged": _exec(CompletedBaselineUnflagged),
    "deadline-ignores-backoff": _exec(DeadlineIgnoresBackoff),
    "deadline-ignores-age": _exec(DeadlineIgnoresAge),
    "deadline-ignores-gc": _exec(DeadlineIgnoresGc),
    "age-seal-late": _exec(AgeSealLate),
    "seed-gc-completes": _exec(SeedGcCompletes),
    "seed-stop-keeps": _exec(SeedStopKeeps),
    "panic-still-flushes": _exec(PanicStillFlushes),
    "allow-list-ignored": _identifier_execution(
        "AllowListIgnored", "Lets every well-formed passkey in, ignoring the allow-list (R1.2).",
        parse_passkey, honour=False),
    "uppercase-refused": _identifier_execution(
        "UppercaseRefused", "Refuses a passkey written in upper-case hex (R1.1).",
        _lowercase_only),
    "trailing-slash-accepted": _identifier_execution(
        "TrailingSlashAccepted", "Accepts /<passkey>/announce/ with a trailing slash (R1.1).",
        _trailing_slash_ok),
    "query-credential-refused": _identifier_execution(
        "QueryCredentialRefused", "Reads the passkey from the path only, never the query "
        "(R1.1).", _path_only),
    "case-sensitive-agreement": _identifier_execution(
        "CaseSensitiveAgreement", "Compares the path and query passkeys as text, so the same "
        "key in two cases conflicts (R1.1).", _case_sensitive_agreement),
    "age-read-as-minutes": AgeReadAsMinutes,
    "credit-saturates": _exec(CreditSaturates),
    "started-reset-needs-peer-keys": _exec(StartedResetNeedsPeerKeys),
    "pending-bound-off-by-one": _exec(PendingBoundOffByOne),
    "gc-does-not-seal": _exec(GcDoesNotSeal),
    "stale-revived": _exec(StaleRevived),
    "purge-silent": _exec(PurgeSilent),
}
"""Mutant name -> implementation factory, for the gaps of the kit."""
