"""The simulation clock: a SimPy environment that counts what it schedules.

The simulator's own event loop (:meth:`SimEnvironment.run_until`) steps the
environment until a stop flag is set, so a run can end right after any
event (the end of the duration, an interruption, an abort). Every event
goes through :meth:`SimEnvironment.schedule`, SimPy's public scheduling
method; counting there gives the number of events a run scheduled without
reading SimPy's internals.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from typing import Any

import simpy
from simpy.core import SimTime
from simpy.events import NORMAL, Event, EventPriority, Timeout

_INF = float("inf")
_schedule = simpy.Environment.schedule  # called directly: no super() object per event


class SimEnvironment(simpy.Environment):
    """``simpy.Environment`` plus an event count and a stoppable run loop."""

    def __init__(self) -> None:
        super().__init__()
        self.events_scheduled = 0
        """Events scheduled so far (timeouts, processes' events, callbacks)."""
        self.stopped = False
        """Set to end :meth:`run_until` after the event being processed."""

    def schedule(self, event: Event, priority: EventPriority = NORMAL,
                 delay: SimTime = 0) -> None:
        """SimPy's scheduling, counted."""
        self.events_scheduled += 1
        _schedule(self, event, priority, delay)

    def call_later(self, delay: float, callback: Callable[[Event], None],
                   value: Any = None) -> None:
        """Call ``callback(event)`` in ``delay`` seconds (``event.value`` is ``value``):
        one timeout, no process."""
        Timeout(self, delay if delay > 0 else 0, value).callbacks.append(callback)

    def stop_soon(self) -> None:
        """Stop once every event already scheduled for now has been processed."""
        ev = self.event()
        ev.callbacks.append(self._stop)
        ev.succeed()

    def _stop(self, _ev: Event) -> None:
        self.stopped = True

    def run_until_stopped(self) -> None:
        """Process events until :attr:`stopped` is set or none are left."""
        step, peek = self.step, self.peek
        while not self.stopped and peek() < _INF:
            step()


class CollectorTruce:
    """Keeps a run's long-lived objects out of Python's cyclic garbage collector.

    A run builds its population (a session per client, the core's entries)
    once and keeps it to the end; the collector's full passes would scan
    all of it again and again (about a tenth of a run's CPU time at 100k
    clients). :meth:`pause` turns the collector off while the population is
    built (it makes no garbage cycles); :meth:`freeze_survivors` moves every
    object alive then to the permanent generation (``gc.freeze``) and turns
    the collector back on for the rest of the run; :meth:`restore` undoes
    both. The simulation's results do not depend on it. When something else
    in the process already froze objects, nothing is frozen (``gc.unfreeze``
    would thaw theirs too).
    """

    __slots__ = ("_froze", "_was_enabled")

    def __init__(self) -> None:
        self._was_enabled = gc.isenabled()
        self._froze = False

    def pause(self) -> None:
        """Turn the collector off (until :meth:`freeze_survivors` or :meth:`restore`)."""
        gc.disable()

    def freeze_survivors(self) -> None:
        """Freeze every object alive now; the collector runs again if it did before."""
        if not self._froze and gc.get_freeze_count() == 0:
            gc.freeze()
            self._froze = True
        if self._was_enabled:
            gc.enable()

    def restore(self) -> None:
        """Thaw what was frozen and leave the collector as it was found."""
        if self._froze:
            gc.unfreeze()
            self._froze = False
        if self._was_enabled:
            gc.enable()
        else:
            gc.disable()
