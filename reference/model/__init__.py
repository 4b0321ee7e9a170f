"""The normative model: SPEC.md's rules as short, named, readable steps.

:class:`Model` offers the same driver operations as
:class:`privtrak.reference.Tracker` with the same results. It is written to
be obviously right, not fast: every stored baseline is one item of a flat
dict keyed by ``(user, info_hash, peer_id or None)``, every record and batch
sits in flat lists scanned with plain loops, and there are no caches, lower
bounds, heaps or packed integers. Each driver call is a ``process_*``
function that lists its steps in the order of SPEC.md's decision list
(R3.1 for an announce), and every step function's docstring starts with the
rule ids it implements; SPEC.md names the model function under each rule.

Modules, in reading order:

* :mod:`.announce`: :func:`~.announce.process_announce` and its steps (R3.1);
* :mod:`.batches`: buffers, sealing, delivery, failure (R2.3, R6.x);
* :mod:`.purge`: stale entries, GC's purge, the seed's crash (R7.x);
* :mod:`.driver`: ``next_batch``, outcomes, GC, ``stop``, ``close`` (R6, R7, R8);
* :mod:`.views`: what a driver observes (R2.2, R11, R12);
* :mod:`.clock`: the clock and life-cycle checks every call makes (R0);
* :mod:`.state`: the flat state; :mod:`.snapshot`: saving it (R8.3).

It shares no code with the Tracker's internals. It uses the reference's
public value types, enums, errors, :class:`~privtrak.reference.Config` and
the identifier (identification is not accounting), the public pure helpers
``fnv1a_32`` (R2.3), ``wrap_int64`` (R9.1), ``encode_record`` and
``config_to_mapping``, and two private pure helpers: the Go slice replay of
``privtrak.reference._go_slices`` (R7.3 ``abort``: what the seed's panic
leaves) and the strict JSON ``Reader`` of ``privtrak.reference._codec`` (for
its own snapshot).

One rule is applied to the letter: every call that raises ``UsageError``
changes nothing, not even the clock. Each record carries a private serial
number; delivering one twice raises ``AssertionError``, so the model proves
that no record reaches the handler twice after a success (R6.4).

The stateful suite (``tests/reference/test_ref_stateful.py``) runs the model
beside the Tracker and compares every step; ``privtrak adapter --model``
serves it over the conformance protocol, so ``privtrak conform`` and
``privtrak conform fuzz`` compare it with the Tracker over the wire.
"""

from __future__ import annotations

from typing import Any

from privtrak.reference import (
    AnnounceRequest,
    AnnounceResult,
    Batch,
    CloseReport,
    Config,
    DeltaRecord,
    EntryView,
    GcResult,
    InfoHash,
    Ledger,
    Metrics,
    PasskeyIdentifier,
    PeerId,
    Seconds,
    TrackerState,
    UsageError,
    UserId,
    UserIdentifier,
)

from . import driver, snapshot, views
from .announce import process_announce
from .batches import shard_of
from .state import ModelState, new_state


class Model:
    """The normative model; its methods mirror :class:`Tracker`'s driver API."""

    def __init__(self, config: Config | None = None, identifier: UserIdentifier | None = None,
                 now: Seconds = Seconds(0)) -> None:
        if type(now) is not int or now < 0:
            raise UsageError(f"now must be a non-negative int, got {now!r}")  # R0
        self._m: ModelState = new_state(
            config if config is not None else Config(),
            identifier if identifier is not None else PasskeyIdentifier(), now)

    # -- the driver API (SPEC section 14) --------------------------------------

    def announce(self, request: AnnounceRequest, now: Seconds) -> AnnounceResult:
        """R3.1: account one announce."""
        return process_announce(self._m, request, now)

    def next_batch(self, now: Seconds) -> Batch | None:
        """R6.2, R6.4: the next due batch, now in flight, or ``None``."""
        return driver.process_next_batch(self._m, now)

    def batch_succeeded(self, batch_id: int, now: Seconds) -> None:
        """R6.4: the handler persisted the batch."""
        driver.process_batch_succeeded(self._m, batch_id, now)

    def batch_failed(self, batch_id: int, now: Seconds) -> bool:
        """R6.5, R6.6: the handler failed; ``True`` fails the announce."""
        return driver.process_batch_failed(self._m, batch_id, now)

    def reoffer_in_flight(self) -> list[int]:
        """R8.3: make every in-flight batch waiting again."""
        return driver.process_reoffer_in_flight(self._m)

    def collect_garbage(self, now: Seconds) -> GcResult:
        """R7: purge stale entries."""
        return driver.process_collect_garbage(self._m, now)

    def stop(self, now: Seconds) -> tuple[Batch, ...]:
        """R8: begin shutdown."""
        return driver.process_stop(self._m, now)

    def close(self, now: Seconds) -> CloseReport:
        """R8, R8.2: finish shutdown."""
        return driver.process_close(self._m, now)

    # -- inspection ---------------------------------------------------------------

    @property
    def config(self) -> Config:
        """The configuration."""
        return self._m.config

    @property
    def state(self) -> TrackerState:
        """Where the model is in its life cycle (R8)."""
        return self._m.state

    @property
    def now(self) -> Seconds:
        """The latest accepted ``now`` (R0)."""
        return self._m.now

    @property
    def next_gc_at(self) -> Seconds:
        """When GC is due next (R7)."""
        return Seconds(self._m.next_gc_at)

    def shard_of(self, user: UserId) -> int:
        """R2.3: the user's shard."""
        return shard_of(self._m, user)

    def entries(self) -> list[EntryView]:
        """R2.2: every stored baseline, sorted."""
        return views.entries(self._m)

    def entry(self, user: UserId, info_hash: InfoHash,
              peer_id: PeerId | None = None) -> EntryView | None:
        """R2.2: one stored baseline, or ``None``."""
        return views.entry(self._m, user, info_hash, peer_id)

    def buffered_records(self, shard: int | None = None) -> tuple[DeltaRecord, ...]:
        """R6.8: buffered records, all or one shard's."""
        return views.buffered_records(self._m, shard)

    def waiting_batches(self) -> list[Batch]:
        """R6.4: waiting batches by id."""
        return views.waiting_batches(self._m)

    def in_flight_batches(self) -> list[Batch]:
        """R6.4: in-flight batches by id."""
        return views.in_flight_batches(self._m)

    def attempts(self, batch_id: int) -> int:
        """R6.5: how often a pending batch was handed out."""
        return views.attempts(self._m, batch_id)

    def next_deadline(self) -> Seconds | None:
        """R6.2, R7: when the driver must wake up next."""
        return views.next_deadline(self._m)

    def ledger(self) -> Ledger:
        """R11: the byte ledger."""
        return views.ledger(self._m)

    def metrics(self) -> Metrics:
        """R12: counters and gauges."""
        return views.metrics(self._m)

    # -- saving (R8.3) ---------------------------------------------------------------

    def save(self) -> dict[str, Any]:
        """R8.3: the model's whole state as a JSON-ready document."""
        return snapshot.save(self._m)

    @classmethod
    def load(cls, doc: object, identifier: UserIdentifier | None = None) -> Model:
        """R8.3: a model rebuilt from :meth:`save` output (``SnapshotError``
        names the JSON path of anything malformed)."""
        model = cls.__new__(cls)
        model._m = snapshot.load(doc, identifier if identifier is not None
                                 else PasskeyIdentifier())
        return model


__all__ = ["Model"]
