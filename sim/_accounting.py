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

if TYPE_CHECKING:
    from ._engine import Simulation

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


def final_accounting(sim: Simulation) -> dict[str, Any]:
    """The accounting of a finished run, conservation check included."""
    tracker, db = sim.tracker, sim.db
    lg = tracker.ledger()
    rows: dict[str, list[int]] = {name: [0, 0] for name in CAUSES}
    for name in ("transferred", "unreported"):
        rows[name] = list(sim.ledger.rows[name])
    for cause in LOSS_CAUSES:
        if cause != "dropped":
            rows[f"lost.{cause}"] = list(sim.ledger.rows[cause])
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
