"""Hook modes: where the accounting runs relative to the announce's answer.

One object per mode, chosen once from the scenario (:func:`hook_mode`); the
request path and the clients call its methods and never look at the mode's
name:

* :class:`PreHook`: the client waits for the accounting; a batch the core
  hands out on the path is delivered while the shard lock is held, and the
  answer waits for it.
* :class:`PostHook`: the answer goes out at once; the accounting runs in a
  task that waits for its shard lock, and delivers a batch handed out on
  the path while holding it (the seed's parked goroutines).
* :class:`OffPath`: the answer waits for the lock and the accounting only;
  a batch handed out on the path goes to the flusher.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from privtrak.reference import Batch, Event

if TYPE_CHECKING:
    from ._clients import Clients
    from ._delivery import DeliveryPath
    from ._request_path import Job, RequestPath
    from ._resources import FifoLock
    from ._workload import Session


class HookMode:
    """What a hook mode decides; subclasses implement each decision."""

    name = ""
    answers_at_once = False
    """Whether the client has its answer as soon as it sends (no open request)."""

    def __init__(self, clients: Clients, delivery: DeliveryPath) -> None:
        self.clients = clients
        self.delivery = delivery
        self.open_requests = 0
        """Announces whose client still waits for an answer (``in_flight_requests``)."""

    def sent(self, s: Session, event: Event, now: float) -> None:
        """An announce left the client at ``now``."""

    def queued(self, job: Job) -> None:
        """The announce waits for its lock, or holds it during a delivery."""

    def finished(self, job: Job) -> None:
        """A queued announce is done with its lock."""

    def flush_on_path(self, path: RequestPath, lock: FifoLock, job: Job,  # noqa: PLR0917
                      fresh: bool, batch: Batch, now: float) -> bool:
        """The core handed out ``batch`` while ``job`` holds ``lock`` (``fresh``:
        the announce had not waited, so ``job`` was just made for it). Returns
        True when the lock stays held for a delivery (the path resumes when
        it ends), False when the announce goes on at once."""
        raise NotImplementedError

    def answer(self, job: Job | None, s: Session, event: Event,  # noqa: PLR0917
               arrival: float, done: float, ok: bool) -> None:
        """The tracker's answer to the announce that arrived at ``arrival``."""


class _ClientWaits(HookMode):
    """The client waits for the answer: an open request, a client timeout."""

    def queued(self, job: Job) -> None:
        self.open_requests += 1
        self.clients.start_timeout(job)

    def finished(self, job: Job) -> None:
        self.open_requests -= 1

    def answer(self, job: Job | None, s: Session, event: Event,  # noqa: PLR0917
               arrival: float, done: float, ok: bool) -> None:
        self.clients.respond(job, s, event, arrival, done, ok)


class _DeliverUnderLock(HookMode):
    """A batch handed out on the path is delivered while the lock is held."""

    def flush_on_path(self, path: RequestPath, lock: FifoLock, job: Job,  # noqa: PLR0917
                      fresh: bool, batch: Batch, now: float) -> bool:
        path.hold_for_delivery(lock, job, fresh)
        self.delivery.deliver(batch, now, lock, job)
        return True


class PreHook(_ClientWaits, _DeliverUnderLock):
    """The seed's prehook: the answer waits for the accounting and the delivery."""

    name = "prehook"


class PostHook(_DeliverUnderLock):
    """The seed's posthook: answered at once, accounted in a task per announce."""

    name = "posthook"
    answers_at_once = True

    def sent(self, s: Session, event: Event, now: float) -> None:
        self.clients.answered(s, event, now, 0.0)


class OffPath(_ClientWaits):
    """The recommended mode: the database is never on the announce path."""

    name = "offpath"

    def flush_on_path(self, path: RequestPath, lock: FifoLock, job: Job,  # noqa: PLR0917
                      fresh: bool, batch: Batch, now: float) -> bool:
        self.delivery.hand_over(batch)
        return False


HOOK_MODE_CLASSES: dict[str, type[HookMode]] = {
    cls.name: cls for cls in (PreHook, PostHook, OffPath)}


def hook_mode(name: str, clients: Clients, delivery: DeliveryPath) -> HookMode:
    """The hook mode object for a scenario's ``hook_mode``."""
    return HOOK_MODE_CLASSES[name](clients, delivery)
