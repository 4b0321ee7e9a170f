"""The tracker's garbage collection, run at the core's own schedule.

A SimPy process sleeps until the core's ``next_gc_at``, runs
``collect_garbage`` at that instant and lets the flusher deliver what the
collection sealed (``flush_on_gc``). The collection's own duration is not
modelled.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from simpy.events import Event as SimEvent

from privtrak.reference import TrackerState

from ._units import core_time

if TYPE_CHECKING:
    from ._engine import Simulation


def garbage_collector(sim: Simulation) -> Generator[SimEvent, Any, None]:
    """The GC process of ``sim`` (start it with ``env.process``)."""
    env, tracker, epoch = sim.env, sim.tracker, sim.scenario.start_epoch
    while not sim.closing:
        yield env.timeout(max(0.0, tracker.next_gc_at - epoch - env.now))
        if tracker.state is not TrackerState.OPEN:
            return
        tracker.collect_garbage(core_time(env.now, epoch))
        sim.delivery.pump()
