"""The simulation clock: a SimPy environment that counts what it schedules.

The simulator's own event loop (:meth:`SimEnvironment.run_until`) steps the
environment until a stop flag is set, so a run can end right after any
event (the end of the duration, an interruption, an abort). Every event
goes through :meth:`SimEnvironment.schedule`, SimPy's public scheduling
method; counting there gives the number of events a run scheduled without
reading SimPy's internals.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import simpy
from simpy.core import SimTime
from simpy.events import NORMAL, Event, EventPriority, Timeout

_INF = float("inf")


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
        super().schedule(event, priority, delay)

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
