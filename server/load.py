"""``privtrak load``: announces at a fixed rate against a tracker, with a report.

Open loop: announce ``k`` is due at ``start + k / rate`` whatever happened to
the ones before, so a slow server cannot slow the offered load down (no
coordinated omission). ``connections`` keep-alive connections per process
carry the requests, one at a time each: with ``client="aiohttp"`` (the
default) through an aiohttp client session, with ``client="raw"`` through
asyncio streams that write each request line pre-formatted and read back
only the status line, ``Content-Length`` and the body (about half the CPU per
announce, for rates one core cannot offer through aiohttp). Each announce's **latency** is counted
from its due time to the end of its response, so time spent waiting for a
free connection counts; **service** time is from sending to the response.

Virtual clients: ``users`` passkeys (derived from ``seed``) times
``torrents`` infohashes, one peer per pair; a pair's first announce is
``started`` with zero counters, each later one adds 16 KiB to 1 MiB
(seeded) to ``uploaded`` and ``downloaded``. The run stops by itself after
``duration`` seconds plus at most twice ``timeout`` for the last responses,
and after at most ``rate * duration`` announces; every planned announce is
counted in exactly one kind of the report. Only loopback targets are
allowed unless ``allow_remote`` is set.

The report counts responses by kind: ``ok`` (a bencoded reply without
``failure reason``), ``busy`` (``tracker busy``), ``refused`` (another
failure reason), ``http_error`` (a status other than 200), ``timeout`` (no
response within ``timeout``), ``connection_error`` and ``not_sent`` (still
waiting in the client when the run's time was up: the client, not the
server, could not keep the rate).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import ipaddress
import json
import random
import re
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import quote_from_bytes, urlsplit

from privtrak._usage import EXIT_INTERRUPTED, EXIT_USAGE

MAX_ANNOUNCES = 10_000_000
"""Most announces one run sends (it keeps every latency in memory)."""
CLIENTS = ("aiohttp", "raw")
"""``aiohttp``: its client session; ``raw``: asyncio streams writing
pre-formatted HTTP/1.1 keep-alive requests and reading only the status line,
``Content-Length`` and the body (a load generator's shortcut, for rates one
core cannot offer through aiohttp)."""
KINDS = ("ok", "busy", "refused", "http_error", "timeout", "connection_error", "not_sent")


@dataclass(frozen=True)
class LoadSpec:
    """What to send; see the module docstring."""

    url: str
    rate: float
    duration: float
    users: int = 1000
    torrents: int = 100
    connections: int = 64
    processes: int = 1
    timeout: float = 5.0
    seed: int = 1
    allow_remote: bool = False
    client: str = "aiohttp"

    def check(self) -> None:
        """Raise ValueError naming the first bad field."""
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"url={self.url!r}: expected http://HOST:PORT")
        if not self.allow_remote:
            try:
                loopback = ipaddress.ip_address(parts.hostname).is_loopback
            except ValueError:
                loopback = parts.hostname == "localhost"
            if not loopback:
                raise ValueError(f"url={self.url!r}: not a loopback address; "
                                 "pass --allow-remote to load another machine")
        for name in ("rate", "duration", "timeout"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name}={getattr(self, name)!r}: must be positive")
        if self.rate * self.duration > MAX_ANNOUNCES:
            raise ValueError(f"rate={self.rate!r}: rate x duration = "
                             f"{self.rate * self.duration:.0f} announces, more than one run "
                             f"sends ({MAX_ANNOUNCES}); split the run")
        if self.client not in CLIENTS:
            raise ValueError(f"client={self.client!r}: must be one of {list(CLIENTS)}")
        if self.client == "raw" and parts.scheme != "http":
            raise ValueError(f"url={self.url!r}: the raw client speaks plain http only")
        for name in ("users", "torrents", "connections", "processes"):
            if type(getattr(self, name)) is not int or getattr(self, name) < 1:
                raise ValueError(f"{name}={getattr(self, name)!r}: must be a positive integer")


def passkey(seed: int, user: int) -> str:
    """The passkey of virtual user ``user``: 32 hex characters."""
    return hashlib.blake2b(f"{seed}:user:{user}".encode(), digest_size=16).hexdigest()


def info_hash(seed: int, torrent: int) -> bytes:
    """The infohash of virtual torrent ``torrent``."""
    return hashlib.blake2b(f"{seed}:torrent:{torrent}".encode(), digest_size=20).digest()


async def _run_part(spec: LoadSpec, part: int) -> dict[str, Any]:
    # aiohttp only when loading: building the privtrak parser imports this module.
    import aiohttp  # noqa: PLC0415
    from yarl import URL  # noqa: PLC0415

    rng = random.Random(spec.seed * 1000 + part)
    base = spec.url.rstrip("/")
    parts = urlsplit(base)
    prefix = base if spec.client == "aiohttp" else parts.path
    total = int(spec.rate * spec.duration)
    mine = range(part, total, spec.processes)
    passkeys = [passkey(spec.seed, u) for u in range(max(spec.users, part + 1))]
    hashes = [quote_from_bytes(info_hash(spec.seed, t)) for t in range(spec.torrents)]
    counters: dict[tuple[int, int], int] = {}
    # Each process owns the users congruent to its part, so no two processes
    # ever announce the same peer with counters of their own.
    my_users = range(part, spec.users, spec.processes) or range(part, part + 1)
    latencies: list[float] = []
    service: list[float] = []
    kinds = dict.fromkeys(KINDS, 0)
    queue: asyncio.Queue[tuple[float, str]] = asyncio.Queue()
    in_flight = [0]
    start = time.perf_counter() + 0.2
    started_at = time.time() + 0.2
    hard_stop = start + spec.duration + spec.timeout

    def target(k: int) -> str:
        user, torrent = rng.choice(my_users), rng.randrange(spec.torrents)
        key = (user, torrent)
        total_bytes = counters.get(key)
        event = "started" if total_bytes is None else ""
        total_bytes = 0 if total_bytes is None else total_bytes + rng.randrange(1 << 14, 1 << 20)
        counters[key] = total_bytes
        peer = hashlib.blake2b(f"{spec.seed}:{user}:{torrent}".encode(),
                               digest_size=20).digest()
        return (f"{prefix}/{passkeys[user]}/announce?info_hash={hashes[torrent]}"
                f"&peer_id={quote_from_bytes(peer)}&port={6881 + k % 1000}"
                f"&uploaded={total_bytes}&downloaded={total_bytes}&left=1000"
                f"&event={event}&numwant=10&compact=1")

    async def producer() -> None:
        for k in mine:
            due = start + k / spec.rate
            delay = due - time.perf_counter()
            # Behind schedule, still yield: the workers must run meanwhile.
            await asyncio.sleep(max(delay, 0.0))
            if time.perf_counter() > hard_stop:
                kinds["not_sent"] += len(mine) - mine.index(k)
                break
            queue.put_nowait((due, target(k)))
        for _ in range(spec.connections):
            queue.put_nowait((0.0, ""))

    async def next_job() -> tuple[float, str, float] | None:
        """The next announce to send as ``(due, target, sent)``, or None when the
        plan is done; announces whose turn comes after the hard stop are counted
        as ``not_sent`` and skipped."""
        while True:
            due, target_ = await queue.get()
            if not target_:
                return None
            sent = time.perf_counter()
            if sent <= hard_stop:
                return due, target_, sent
            kinds["not_sent"] += 1

    async def worker(session: aiohttp.ClientSession) -> None:
        while (job := await next_job()) is not None:
            due, url, sent = job
            in_flight[0] += 1
            try:
                async with session.get(URL(url, encoded=True)) as resp:
                    body = await resp.read()
                    status = resp.status
            except TimeoutError:
                kinds["timeout"] += 1
                continue
            except aiohttp.ClientError:
                kinds["connection_error"] += 1
                continue
            finally:
                in_flight[0] -= 1
            record(due, sent, status, body)

    def record(due: float, sent: float, status: int, body: bytes) -> None:
        done = time.perf_counter()
        latencies.append(done - due)
        service.append(done - sent)
        if status != 200:
            kinds["http_error"] += 1
        elif b"14:failure reason" not in body:
            kinds["ok"] += 1
        elif b"tracker busy" in body:
            kinds["busy"] += 1
        else:
            kinds["refused"] += 1

    async def raw_worker() -> None:
        host = parts.hostname or "127.0.0.1"
        port = parts.port or 80
        header = f" HTTP/1.1\r\nHost: {parts.netloc}\r\n\r\n".encode()
        conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        while (job := await next_job()) is not None:
            due, path, sent = job
            in_flight[0] += 1
            try:
                async with asyncio.timeout(spec.timeout):
                    if conn is None:
                        conn = await asyncio.open_connection(host, port)
                    reader, writer = conn
                    writer.write(b"GET " + path.encode() + header)
                    head = await reader.readuntil(b"\r\n\r\n")
                    status = int(head[9:12])
                    found = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
                    body = await reader.readexactly(int(found.group(1)) if found else 0)
            except TimeoutError:
                kinds["timeout"] += 1
                _close(conn)
                conn = None
                continue
            except (OSError, ValueError, asyncio.IncompleteReadError,
                    asyncio.LimitOverrunError):
                kinds["connection_error"] += 1
                _close(conn)
                conn = None
                continue
            finally:
                in_flight[0] -= 1
            record(due, sent, status, body)
        _close(conn)

    if spec.client == "raw":
        tasks = [asyncio.create_task(raw_worker()) for _ in range(spec.connections)]
        await producer()
        await _finish(tasks, hard_stop, spec.timeout)
        kinds["not_sent"] += sum(1 for _ in range(queue.qsize()) if queue.get_nowait()[1])
        kinds["timeout"] += in_flight[0]
        return {"latencies": latencies, "service": service, "kinds": kinds,
                "planned": len(mine), "elapsed": time.perf_counter() - start,
                "started_at": started_at}
    connector = aiohttp.TCPConnector(limit=spec.connections, force_close=False)
    timeout = aiohttp.ClientTimeout(total=spec.timeout)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout,
                                     skip_auto_headers=("User-Agent", "Accept-Encoding"),
                                     auto_decompress=False) as session:
        tasks = [asyncio.create_task(worker(session)) for _ in range(spec.connections)]
        await producer()
        # A request sent by hard_stop ends within the per-request timeout.
        await asyncio.wait(tasks, timeout=max(0.0, hard_stop - time.perf_counter())
                           + spec.timeout + 1)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        # Whatever is left was never sent, or was cut off without an answer.
        while not queue.empty():
            if queue.get_nowait()[1]:
                kinds["not_sent"] += 1
        kinds["timeout"] += in_flight[0]
    elapsed = time.perf_counter() - start
    return {"latencies": latencies, "service": service, "kinds": kinds,
            "planned": len(mine), "elapsed": elapsed, "started_at": started_at}


def _close(conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None) -> None:
    if conn is not None:
        conn[1].close()


async def _finish(tasks: list[asyncio.Task[None]], hard_stop: float, timeout: float) -> None:
    # A request sent by hard_stop ends within the per-request timeout.
    await asyncio.wait(tasks, timeout=max(0.0, hard_stop - time.perf_counter()) + timeout + 1)
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def _run_part_sync(spec: LoadSpec, part: int) -> dict[str, Any]:
    try:
        import uvloop  # noqa: PLC0415 (optional: absent on some platforms)
    except ImportError:
        return asyncio.run(_run_part(spec, part))
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(_run_part(spec, part))


def _percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50_ms": None, "p90_ms": None, "p99_ms": None, "max_ms": None}
    ordered = sorted(values)

    def pick(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 3)

    return {"p50_ms": pick(0.50), "p90_ms": pick(0.90), "p99_ms": pick(0.99),
            "max_ms": round(ordered[-1] * 1000, 3)}


def run_load(spec: LoadSpec) -> dict[str, Any]:
    """Run the load and return the report (a JSON-ready dict)."""
    spec.check()
    if spec.processes == 1:
        parts = [_run_part_sync(spec, 0)]
    else:
        with ProcessPoolExecutor(spec.processes) as pool:
            parts = list(pool.map(_run_part_sync, [spec] * spec.processes,
                                  range(spec.processes)))
    latencies = [x for p in parts for x in p["latencies"]]
    service = [x for p in parts for x in p["service"]]
    kinds = {k: sum(p["kinds"][k] for p in parts) for k in KINDS}
    elapsed = max(p["elapsed"] for p in parts)
    answered = len(latencies)
    return {
        "spec": asdict(spec),
        "planned": sum(p["planned"] for p in parts),
        "answered": answered,
        "responses": kinds,
        "elapsed_s": round(elapsed, 3),
        "started_at_unix": round(min(p["started_at"] for p in parts), 3),
        "offered_rate": spec.rate,
        "achieved_rate": round(answered / elapsed, 1) if elapsed > 0 else 0.0,
        "ok_rate": round(kinds["ok"] / elapsed, 1) if elapsed > 0 else 0.0,
        "latency_from_due": _percentiles(latencies),
        "service_time": _percentiles(service),
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``privtrak load``."""
    parser.add_argument("url", help="tracker base URL, e.g. http://127.0.0.1:6969")
    parser.add_argument("--rate", type=float, required=True, help="announces per second")
    parser.add_argument("--duration", type=float, required=True, help="seconds of load")
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--torrents", type=int, default=100)
    parser.add_argument("--connections", type=int, default=64,
                        help="keep-alive connections per process")
    parser.add_argument("--processes", type=int, default=1,
                        help="client processes sharing the rate")
    parser.add_argument("--timeout", type=float, default=5.0, help="per request, seconds")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--client", choices=CLIENTS, default="aiohttp",
                        help="HTTP client: aiohttp, or raw keep-alive streams for high rates")
    parser.add_argument("--allow-remote", action="store_true",
                        help="allow a target that is not a loopback address")


def run(args: argparse.Namespace) -> int:
    """Print the JSON report. Exit status: 0 if every announce got an ``ok``
    reply, 1 otherwise; 3 for an impossible command line (a bad value, a
    remote target without ``--allow-remote``); 130 on Ctrl-C."""
    spec = LoadSpec(args.url, args.rate, args.duration, args.users, args.torrents,
                    args.connections, args.processes, args.timeout, args.seed,
                    args.allow_remote, args.client)
    try:
        spec.check()
    except ValueError as exc:
        print(f"privtrak load: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        report = run_load(spec)
    except KeyboardInterrupt:
        print("privtrak load: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    json.dump(report, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0 if report["responses"]["ok"] == report["planned"] else 1
