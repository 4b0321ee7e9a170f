"""The simulator's fast FIFO primitives queue exactly as ``simpy.Resource`` does.

The same customers (arrival instants, hold times; ties and zero holds
included) go through a ``simpy.Resource`` driven by SimPy processes and
through the simulator's primitive driven by callbacks, as the simulator
drives it. Every customer must start service at the same instant, in the
same order.
"""

from __future__ import annotations

import random
from collections.abc import Generator
from typing import Any

import pytest
import simpy
from simpy.events import Event

from privtrak.sim._kernel import SimEnvironment
from privtrak.sim._resources import ConnectionPool, FifoLock

Customer = tuple[float, float]
"""(arrival instant, hold time)"""


def customers(seed: int, n: int = 300) -> list[Customer]:
    rng = random.Random(seed)
    t = 0.0
    out = []
    for _ in range(n):
        # Bursts of simultaneous arrivals, zero and long holds.
        if rng.random() > 0.2:
            t += rng.expovariate(1.0)
        hold = rng.choice([0.0, rng.expovariate(1.2), rng.uniform(0, 3)])
        out.append((t, hold))
    return out


def with_simpy_resource(people: list[Customer], capacity: int) -> list[tuple[float, int]]:
    env = simpy.Environment()
    res = simpy.Resource(env, capacity=capacity)
    starts: list[tuple[float, int]] = []

    def customer(i: int, arrival: float, hold: float) -> Generator[Any, Any, None]:
        yield env.timeout(arrival)
        with res.request() as req:
            yield req
            starts.append((env.now, i))
            yield env.timeout(hold)

    for i, (arrival, hold) in enumerate(people):
        env.process(customer(i, arrival, hold))
    env.run()
    return starts


def with_fifo_lock(people: list[Customer]) -> list[tuple[float, int]]:
    env = SimEnvironment()
    starts: list[tuple[float, int]] = []

    def serve(lock: FifoLock, i: int) -> None:
        starts.append((env.now, i))
        lock.release_after(env.now, people[i][1])

    def granted(lock: FifoLock) -> None:
        serve(lock, lock.queue.popleft())

    lock = FifoLock(env, granted)

    def arrive(ev: Event) -> None:
        if lock.is_free(env.now):
            serve(lock, ev.value)
        else:
            lock.wait(ev.value, env.now)

    for i, (arrival, _) in enumerate(people):
        env.call_later(arrival, arrive, i)
    env.run()
    return starts


def with_fifo_lock_held(people: list[Customer]) -> list[tuple[float, int]]:
    """The other way to hold the lock: :meth:`FifoLock.hold` until an explicit release."""
    env = SimEnvironment()
    starts: list[tuple[float, int]] = []

    def serve(lock: FifoLock, i: int) -> None:
        starts.append((env.now, i))
        lock.hold(i)
        env.call_later(people[i][1], lambda _ev: lock.release(env.now))

    lock = FifoLock(env, lambda lk: serve(lk, lk.queue.popleft()))

    def arrive(ev: Event) -> None:
        if lock.is_free(env.now):
            serve(lock, ev.value)
        else:
            lock.wait(ev.value, env.now)

    for i, (arrival, _) in enumerate(people):
        env.call_later(arrival, arrive, i)
    env.run()
    return starts


def drive_pool(env: SimEnvironment, pool: ConnectionPool,
               people: list[Customer]) -> list[tuple[float, int]]:
    """Schedule ``people`` through ``pool`` on ``env`` (not run yet); the list
    fills with ``(start time, customer)`` as the run goes."""
    starts: list[tuple[float, int]] = []

    def start(i: int) -> None:
        starts.append((env.now, i))
        began = env.now

        def done(_ev: Event) -> None:
            following = pool.release(began, env.now)
            if following is not None:
                start(following)

        env.call_later(people[i][1], done)

    def arrive(ev: Event) -> None:
        if pool.acquire(ev.value, env.now):
            start(ev.value)

    for i, (arrival, _) in enumerate(people):
        env.call_later(arrival, arrive, i)
    return starts


def with_pool(people: list[Customer], capacity: int) -> list[tuple[float, int]]:
    env = SimEnvironment()
    starts = drive_pool(env, ConnectionPool(capacity), people)
    env.run()
    return starts


@pytest.mark.parametrize("seed", range(8))
def test_fifo_lock_serves_like_a_capacity_one_resource(seed: int) -> None:
    people = customers(seed)
    expected = with_simpy_resource(people, 1)
    assert len(expected) == len(people)
    assert with_fifo_lock(people) == expected
    assert with_fifo_lock_held(people) == expected


@pytest.mark.parametrize("capacity", [1, 2, 4])
@pytest.mark.parametrize("seed", range(5))
def test_connection_pool_serves_like_a_resource_of_that_capacity(seed: int,
                                                                  capacity: int) -> None:
    people = customers(seed)
    assert with_pool(people, capacity) == with_simpy_resource(people, capacity)


def test_the_pool_measures_unit_seconds_held() -> None:
    people = [(0.0, 2.0), (0.0, 3.0), (1.0, 1.0)]  # capacity 2: the third waits until 2
    env = SimEnvironment()
    pool = ConnectionPool(2)
    seen: list[float] = []
    drive_pool(env, pool, people)
    env.call_later(2.5, lambda _ev: seen.append(pool.busy_seconds(env.now)))
    env.run()
    # At 2.5: the first unit held 0..2 then 2..2.5 (third customer), the second 0..2.5.
    assert seen == [pytest.approx(5.0)]
    assert pool.busy_seconds(env.now) == pytest.approx(6.0)
    assert pool.in_use() == 0


def test_the_environment_counts_every_event_it_schedules() -> None:
    env = SimEnvironment()
    env.call_later(1.0, lambda _ev: None)

    def proc() -> Generator[Any, Any, None]:
        yield env.timeout(2.0)

    env.process(proc())  # an Initialize event, a timeout, the process's own end
    env.run()
    assert env.events_scheduled == 4
