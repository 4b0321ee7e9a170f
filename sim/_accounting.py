"""Final accounting against ground truth, with conservation checked exactly.

Every byte a virtual client really transferred ends in exactly one row
(per direction)::

    transferred = credited + pending + returned + unreported + lost.*

* ``credited``: in the database, counted once (duplicates are reported
  apart in ``duplicated`` and are not part of the sum);
* ``pending``: held by the tracker (buffered, sealed or in flight) and not
  yet in the database;
* ``returned``: handed back by the tracker's stop (policy ``return``);
* ``unreported``: transferred by clients still running at the end (or in
  announces still queued), not reported yet;
* ``lost.baseline``: reported by an announce that found no baseline,
  although it was the session's first accepted one (R3);
* ``lost.reset``: counters reset by a client restart, or a ``started``
  re-announce under the reset policy (R4), and the bytes a crashed client
  never reported;
* ``lost.purge_gap``: the tracker forgot the baseline (stale purge) before
  the session's next announce (R7);
* ``lost.vanished``: clients that disappeared without ``stopped``;
* ``lost.rejected``: a session's last bytes, whose ``stopped`` was refused;
* ``lost.shared_key``: the seed's baselines keyed without the peer id mix
  the counters of two clients; can be negative (credited too much);
* ``lost.dropped``: records the tracker's stop discarded (policy ``drop``).

Each term is measured on its own (clients, the core's ledger, the database
model, the per-announce attribution), so the identity is a real check.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from privtrak.reference import AnnounceResult, Cause, Event, Outcome

from ._workload import ACCEPTED, ENDED, RESTARTED

if TYPE_CHECKING:
    from ._engine import Simulation
    from ._workload import Session

LOSS_CAUSES = ("baseline", "reset", "purge_gap", "vanished", "rejected", "shared_key",
               "dropped")
"""The ``lost.*`` rows, in report order."""

CAUSES = ("transferred", "credited", "pending", "returned", "unreported",
          *(f"lost.{c}" for c in LOSS_CAUSES), "duplicated")
"""Every row of ``accounting.csv``, in order."""

_LEDGER_NAMES = frozenset({"transferred", "unreported", *LOSS_CAUSES})


class Ledger:
    """Byte totals per row name, per direction, filled while the run goes."""

    __slots__ = ("rows",)

    def __init__(self) -> None:
        self.rows: dict[str, list[int]] = {name: [0, 0] for name in _LEDGER_NAMES}

    def add(self, name: str, up: int, down: int) -> None:
        """Add bytes to a row; ``name`` must be a known row."""
        row = self.rows[name]
        row[0] += up
        row[1] += down


SETTLED = -1
"""``Session.wk`` of a session whose books are closed."""

_REJECTED, _STOPPED = Outcome.REJECTED, Event.STOPPED
_BASELINE, _STOPPED_UNKNOWN = Cause.BASELINE, Outcome.STOPPED_UNKNOWN


class Books:
    """The run's attribution of every byte, kept while the run goes.

    :meth:`account` compares one accounted announce with the session's
    previous accepted one and books the bytes the core did not credit under
    their cause; :meth:`settle` closes a session's books when it is over (its
    ground truth joins ``transferred``, its unreported tail a row).
    """

    __slots__ = ("accounted", "ledger")

    def __init__(self) -> None:
        self.ledger = Ledger()
        self.accounted = 0
        """Announces the core accounted during the run."""

    def account(self, s: Session, up: int, down: int, event: Event,
                res: AnnounceResult) -> bool:
        """Book one accounted announce; returns False when the core rejected it."""
        self.accounted += 1
        s.outstanding -= 1
        outcome = res.outcome
        accepted = outcome is not _REJECTED
        if not accepted:
            if event is _STOPPED:
                s.end_cause = "rejected"
        else:
            lost_up = up - s.acc_up - res.credited_up
            lost_down = down - s.acc_down - res.credited_down
            if lost_up or lost_down:
                cause = res.cause
                flags = s.flags
                if cause is _BASELINE or outcome is _STOPPED_UNKNOWN:
                    # No baseline: the session's first, or the tracker forgot it.
                    name = "purge_gap" if flags & ACCEPTED else "baseline"
                elif cause is None:
                    name = ("reset" if (flags & RESTARTED and not flags & ACCEPTED)
                            else "shared_key")
                else:
                    name = str(cause)
                self.ledger.add(name, lost_up, lost_down)
            s.acc_up = up
            s.acc_down = down
            s.flags |= ACCEPTED
        if s.flags & ENDED and s.outstanding == 0 and s.wk != SETTLED:
            self.settle(s, s.end_cause, s.t_end)
        return accepted

    def settle(self, s: Session, cause: str, t: float) -> None:
        """Close ``s``'s books at ``t``: its truth joins the total, its
        unreported tail the row of ``cause``."""
        s.wk = SETTLED
        up, down, _ = s.counters(t)
        lg = self.ledger
        lg.add("transferred", up - s.base_up, down - s.base_down)
        tail_up, tail_down = up - s.acc_up, down - s.acc_down
        if tail_up or tail_down:
            lg.add("unreported" if cause in ("stopped", "unreported") else cause,
                   tail_up, tail_down)


def final_accounting(sim: Simulation) -> dict[str, Any]:
    """The accounting of a finished run, conservation check included."""
    tracker, db = sim.tracker, sim.db
    lg = tracker.ledger()
    rows: dict[str, list[int]] = {name: [0, 0] for name in CAUSES}
    ledger = sim.books.ledger
    for name in ("transferred", "unreported"):
        rows[name] = list(ledger.rows[name])
    for cause in LOSS_CAUSES:
        if cause != "dropped":
            rows[f"lost.{cause}"] = list(ledger.rows[cause])
    rows["credited"] = [db.credited_up - db.duplicated_up, db.credited_down - db.duplicated_down]
    rows["duplicated"] = [db.duplicated_up, db.duplicated_down]
    # Records the database applied but the tracker still counts as undelivered
    # belong to ``credited``; take them out of the tracker's rows.
    if tracker.state.value == "closed":
        pend_u = pend_d = 0
        ret_u, ret_d = db.unacked_bytes(sim.returned_records)
    else:
        held = [r for b in tracker.waiting_batches() + tracker.in_flight_batches()
                for r in b.records]
        held.extend(tracker.buffered_records())
        pend_u, pend_d = db.unacked_bytes(held)
        ret_u = ret_d = 0
    all_u, all_d = db.unacked_bytes()
    drop_u, drop_d = all_u - pend_u - ret_u, all_d - pend_d - ret_d
    rows["pending"] = [lg.pending_up - pend_u, lg.pending_down - pend_d]
    rows["returned"] = [lg.returned_up - ret_u, lg.returned_down - ret_d]
    rows["lost.dropped"] = [lg.dropped_up - drop_u, lg.dropped_down - drop_d]
    summed = [0, 0]
    for name in CAUSES:
        if name not in ("transferred", "duplicated"):
            summed[0] += rows[name][0]
            summed[1] += rows[name][1]
    diff = [rows["transferred"][0] - summed[0], rows["transferred"][1] - summed[1]]
    return {
        "rows": {name: {"up": v[0], "down": v[1]} for name, v in rows.items()},
        "conservation": {"holds": diff == [0, 0], "difference": {"up": diff[0],
                                                                  "down": diff[1]}},
    }
