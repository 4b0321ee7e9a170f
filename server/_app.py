"""``privtrak serve``: the reference core behind a BitTorrent HTTP tracker.

One process, one event loop, one core: aiohttp parses HTTP, handlers
validate the query (:mod:`._wire`), the reference :class:`Tracker` does the
accounting, the :class:`PeerStore` answers with peers, and a delivery task
hands sealed batches to the :class:`SqliteSink` in a single worker thread,
off the request path (R6.3 ``background``). Under the seed preset
(``flush_path = announce``) the announce that sealed a batch waits for its
delivery while holding its shard's lock, as the seed does (its prehook):
announces of users in that shard wait for the lock, in arrival order, before
the core sees them.

Routes: ``GET /<passkey>/announce``, ``GET /announce?passkey=...``,
``GET /<passkey>/scrape``, ``GET /scrape?passkey=...``, ``GET /metrics``, and
with ``http.latency_log: N`` set ``GET /debug/announce-latency``: the exact
handling time of the first ``N`` announces (JSON, see
:meth:`TrackerServer.announce_latencies`).
Every refused announce or scrape is HTTP 200 with a bencoded ``failure
reason`` (missing or malformed parameters, unknown passkey, unknown event,
``tracker busy`` when ``max_pending`` is reached); request lines or headers
over ``max_request_bytes`` are refused by aiohttp with HTTP 400 or 431.

Life cycle: :meth:`TrackerServer.start` restores the state file if there is
one; :meth:`TrackerServer.shutdown` stops accepting, lets in-flight requests
finish, delivers what can be delivered (GC first, which seals every buffer
under ``flush_on_gc``), and writes the state file. The tracker itself stays
``open`` in the snapshot so the next start continues it (R8.3); undelivered
records travel in the snapshot.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import ssl
import time
from array import array
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from privtrak.reference import (
    AnnounceRequest,
    Batch,
    ByteCount,
    Event,
    FlushPath,
    IdentificationError,
    Outcome,
    RejectCode,
    Seconds,
    Tracker,
    config_to_mapping,
)

from ._config import ServerConfig
from ._identify import AllowListIdentifier
from ._metrics import ServerMetrics
from ._peers import PeerStore
from ._sink import SqliteSink
from ._state import new_epoch, read_state, retire_state, write_state
from ._wire import (
    AnnounceQuery,
    WireError,
    compact_peer,
    encode,
    failure,
    parse_announce,
    parse_scrape,
    split_query,
)

log = logging.getLogger("privtrak.server")
_IDLE_POLL = 0.05
_PEER_EXPIRY_EVERY = 60
_NO_HASH = b"\0" * 20
_NO_BYTES = ByteCount(0)


class TrackerServer:
    """An HTTP tracker around one reference core; see the module docstring."""

    def __init__(self, config: ServerConfig, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self._clock = clock
        self.identifier = AllowListIdentifier(config.passkeys)
        self.peers = PeerStore(config.peer_lifetime)
        self.sink = SqliteSink(config.database, config.database_delay)
        self.epoch = new_epoch()
        self.tracker = Tracker(config.core, self.identifier, now=Seconds(int(clock())))
        self.restored_from: Path | None = None
        self.metrics = ServerMetrics(lambda: self.tracker, self.peers)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="privtrak-sink")
        self._runner: web.AppRunner | None = None
        self._delivery_task: asyncio.Task[None] | None = None
        self._stopping = False
        self._shut_down = False
        self._next_peer_expiry = 0
        self._compact_cache: dict[tuple[str, int], tuple[bool, bytes]] = {}
        self._latency = {}
        for action in ("announce", "scrape"):
            for family in ("IPv4", "IPv6"):
                for error in ("", "bad_request", "rejected", "busy"):
                    self._latency[(action, family, error)] = self.metrics.latency.labels(
                        action, family, error)
        self.port = config.port
        self._on_path = config.core.policy.flush_path is FlushPath.ANNOUNCE
        self._shard_locks: dict[int, asyncio.Lock] = {}
        self._latency_log = array("d")

    # -- life cycle -------------------------------------------------------------

    def _now(self) -> Seconds:
        """The wall clock in whole Unix seconds, never below the core's ``now`` (R0)."""
        return Seconds(max(int(self._clock()), self.tracker.now))

    def build_app(self) -> web.Application:
        """The aiohttp application (routes only; :meth:`start` runs it)."""
        app = web.Application(client_max_size=self.config.max_request_bytes)
        app.router.add_get("/{passkey}/announce", self._announce)
        app.router.add_get("/announce", self._announce)
        app.router.add_get("/{passkey}/scrape", self._scrape)
        app.router.add_get("/scrape", self._scrape)
        app.router.add_get("/metrics", self._metrics)
        if self.config.latency_log:
            app.router.add_get("/debug/announce-latency", self._latency_report)
        return app

    def announce_latencies(self) -> dict[str, object]:
        """The exact handling times recorded so far (``http.latency_log``).

        ``{"capacity": N, "recorded": n, "seconds": [...]}``: one float per
        announce answered (ok, refused or busy), in answer order, for the
        first ``N`` announces; each is ``time.perf_counter()`` from the moment
        the handler was entered to the moment the response body was built,
        so it includes any wait for a shard lock and any on-path delivery,
        but not aiohttp's parsing before the handler or the write after it.
        """
        return {"capacity": self.config.latency_log, "recorded": len(self._latency_log),
                "seconds": self._latency_log.tolist()}

    async def start(self) -> None:
        """Restore the state file if any, open the sink, bind and start serving."""
        path = self.config.snapshot_path
        if path is not None and Path(path).exists():
            self.epoch, self.tracker = read_state(path, self.identifier)
            reoffered = self.tracker.reoffer_in_flight()
            self.restored_from = retire_state(path)
            if config_to_mapping(self.tracker.config) != config_to_mapping(self.config.core):
                log.warning("the state file's core configuration differs from the config "
                            "file; the state file's is in force until the next fresh start")
            m = self.tracker.metrics()
            log.info("restored %s: %d entries, %d pending records, %d batches re-offered",
                     path, m.entries, m.pending_records, len(reoffered))
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self.sink.open)
        limit = self.config.max_request_bytes
        self._runner = web.AppRunner(self.build_app(), access_log=None, handle_signals=False,
                                     shutdown_timeout=self.config.shutdown_timeout,
                                     max_line_size=limit, max_field_size=limit)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET6 if ":" in self.config.host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.config.host, self.config.port))
        self.port = sock.getsockname()[1]
        context = None
        if self.config.tls_cert_path is not None and self.config.tls_key_path is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(self.config.tls_cert_path, self.config.tls_key_path)
        await web.SockSite(self._runner, sock, ssl_context=context, backlog=1024).start()
        self._delivery_task = asyncio.create_task(self._delivery_loop())
        log.info("serving on %s:%d (%s preset, database %s)", self.config.host, self.port,
                 self.config.core.preset, self.config.database)

    async def shutdown(self) -> None:
        """Graceful stop: requests, then deliveries, then the state file.

        A second call (also one made while the first is running) does nothing.
        """
        if self._shut_down:
            return
        self._shut_down = True
        if self._runner is not None:
            await self._runner.cleanup()  # stop accepting, finish in-flight requests
            self._runner = None
        self._stopping = True
        if self._delivery_task is not None:
            await self._delivery_task
            self._delivery_task = None
        now = self._now()
        self._collect_garbage(now)
        deadline = time.monotonic() + self.config.shutdown_timeout
        while time.monotonic() < deadline:
            batch = self.tracker.next_batch(self._now())
            if batch is None or not (await self._deliver(batch))[0]:
                break
        m = self.tracker.metrics()
        if self.config.snapshot_path is not None:
            write_state(self.config.snapshot_path, self.epoch, self.tracker)
            log.info("state written to %s: %d entries, %d records not yet delivered",
                     self.config.snapshot_path, m.entries, m.pending_records)
        elif m.pending_records:
            log.warning("no snapshot_path: %d undelivered records are lost", m.pending_records)
        await asyncio.get_running_loop().run_in_executor(self._executor, self.sink.close)
        self._executor.shutdown(wait=True)

    async def serve_until(self, stop: asyncio.Event) -> None:
        """Start, wait for ``stop``, shut down."""
        await self.start()
        try:
            await stop.wait()
        finally:
            await self.shutdown()

    # -- delivery (off the request path) ---------------------------------------

    async def _delivery_loop(self) -> None:
        while not self._stopping:
            try:
                now = self._now()
                if now >= self.tracker.next_gc_at:
                    self._collect_garbage(now)
                if now >= self._next_peer_expiry:
                    self.peers.expire(now)
                    self._next_peer_expiry = now + _PEER_EXPIRY_EVERY
                batch = self.tracker.next_batch(now)
                if batch is None:
                    await asyncio.sleep(_IDLE_POLL)
                else:
                    await self._deliver(batch)
            except Exception:  # a bug here must not stop deliveries for good
                log.exception("delivery loop failed; retrying in 1 s")
                await asyncio.sleep(1.0)

    def _collect_garbage(self, now: Seconds) -> None:
        start = time.perf_counter()
        result = self.tracker.collect_garbage(now)
        self.metrics.gc_duration.observe((time.perf_counter() - start) * 1000)
        if result.removed_entries or result.deferred:
            log.info("gc: %d entries purged, %d deferred", result.removed_entries,
                     result.deferred)

    async def _deliver(self, batch: Batch) -> tuple[bool, bool]:
        """Apply one in-flight batch and report its outcome.

        Returns ``(stored, fail_announce)``; ``fail_announce`` is what
        ``batch_failed`` said, which an announce that delivered the batch on
        its own path (seed preset) must answer with ``handler_failed``.
        """
        loop = asyncio.get_running_loop()
        start = time.perf_counter()
        try:
            applied = await loop.run_in_executor(self._executor, self.sink.apply,
                                                 self.epoch, batch)
        except Exception as exc:  # any database failure: retried under the policy
            self.metrics.sink_errors.inc()
            log.warning("batch %d (%d records) failed: %s", batch.batch_id,
                        len(batch.records), exc)
            return False, self.tracker.batch_failed(batch.batch_id, self._now())
        self.metrics.sink_seconds.observe(time.perf_counter() - start)
        if not applied:
            self.metrics.sink_duplicates.inc()
        self.tracker.batch_succeeded(batch.batch_id, self._now())
        return True, False

    # -- handlers ---------------------------------------------------------------

    def _reply(self, body: bytes, action: str, family: str, error: str,
               start: float) -> web.Response:
        elapsed = time.perf_counter() - start
        self._latency[(action, family, error)].observe(elapsed * 1000)
        if action == "announce" and len(self._latency_log) < self.config.latency_log:
            self._latency_log.append(elapsed)
        return web.Response(body=body, content_type="text/plain")

    async def _announce(self, request: web.Request) -> web.Response:
        start = time.perf_counter()
        remote = request.remote or "0.0.0.0"
        family = "IPv6" if ":" in remote else "IPv4"
        path, _, query = request.raw_path.partition("?")
        try:
            q = parse_announce(query)
        except WireError as exc:
            return self._reply(failure(str(exc)), "announce", family, "bad_request", start)
        credential = _credential(path, q.passkey)
        info_hash = self.config.hybrid_aliases.get(q.info_hash, q.info_hash)
        req = AnnounceRequest(credential, info_hash, q.peer_id,  # type: ignore[arg-type]
                              q.uploaded, q.downloaded, q.left, q.event, remote, q.port)
        if self._on_path:
            try:
                shard = self.tracker.shard_of(self.identifier.identify(req))
            except IdentificationError:
                shard = None  # the core refuses it without touching any shard
            if shard is not None:
                lock = self._shard_locks.get(shard)
                if lock is None:
                    lock = self._shard_locks[shard] = asyncio.Lock()
                async with lock:
                    return await self._account(req, q, info_hash, remote, family, start)
        return await self._account(req, q, info_hash, remote, family, start)

    async def _account(self, req: AnnounceRequest, q: AnnounceQuery,  # noqa: PLR0917
                       info_hash: bytes, remote: str, family: str,
                       start: float) -> web.Response:
        """The core's decision, the on-path delivery if any, the peer list."""
        now = self._now()
        result = self.tracker.announce(req, now)
        if result.flush is not None and (await self._deliver(result.flush))[1]:
            return self._reply(failure("handler failed: the batch of this announce could not "
                                       "be stored"), "announce", family, "rejected", start)
        if result.outcome is Outcome.REJECTED:
            if result.reject is RejectCode.PENDING_FULL:
                return self._reply(failure("tracker busy: too many records waiting for the "
                                           "database; announce again later"),
                                   "announce", family, "busy", start)
            return self._reply(failure(result.message), "announce", family,
                               "rejected", start)
        peers = self.peers
        seeder = q.left == 0
        if q.event is Event.STOPPED:
            peers.remove(info_hash, q.peer_id)
        else:
            compact = self._compact_cache.get((remote, q.port))
            if compact is None:
                if len(self._compact_cache) > 65536:
                    self._compact_cache.clear()
                compact = self._compact_cache[(remote, q.port)] = compact_peer(remote, q.port)
            peers.update(info_hash, q.peer_id, compact[1], ipv6=compact[0], seeder=seeder,
                         now=now)
        record = result.record
        if record is not None and record.event is Event.COMPLETED:
            peers.snatched(info_hash)
        want = self.config.default_numwant if q.numwant is None else min(
            q.numwant, self.config.max_numwant)
        v4, v6 = ([], []) if q.event is Event.STOPPED else peers.peers_for(
            info_hash, q.peer_id, want, seeder)
        complete, incomplete, _ = peers.counts(info_hash)
        reply: dict[bytes, object] = {
            b"interval": self.config.announce_interval,
            b"min interval": self.config.min_announce_interval,
            b"complete": complete,
            b"incomplete": incomplete,
            b"peers": b"".join(v4),
        }
        if v6:
            reply[b"peers6"] = b"".join(v6)
        return self._reply(encode(reply), "announce", family, "", start)

    async def _scrape(self, request: web.Request) -> web.Response:
        start = time.perf_counter()
        remote = request.remote or "0.0.0.0"
        family = "IPv6" if ":" in remote else "IPv4"
        path, _, query = request.raw_path.partition("?")
        try:
            hashes = parse_scrape(query, self.config.max_scrape_infohashes)
        except WireError as exc:
            return self._reply(failure(str(exc)), "scrape", family, "bad_request", start)
        passkeys = split_query(query).get("passkey")
        passkey = passkeys[0].decode("latin-1") if passkeys else None
        announce_path = path[:-len("scrape")] + "announce"
        try:
            self.identifier.identify(AnnounceRequest(
                _credential(announce_path, passkey), _NO_HASH, _NO_HASH,  # type: ignore[arg-type]
                _NO_BYTES, _NO_BYTES, _NO_BYTES))
        except IdentificationError as exc:
            return self._reply(failure(str(exc)), "scrape", family, "rejected", start)
        files: dict[bytes, dict[bytes, int]] = {}
        for h in hashes:
            canonical = self.config.hybrid_aliases.get(h, h)
            complete, incomplete, downloaded = self.peers.counts(canonical)
            files[h] = {b"complete": complete, b"incomplete": incomplete,
                        b"downloaded": downloaded}
        return self._reply(encode({b"files": files}), "scrape", family, "", start)

    async def _latency_report(self, request: web.Request) -> web.Response:
        return web.Response(body=json.dumps(self.announce_latencies()).encode(),
                            content_type="application/json")

    async def _metrics(self, request: web.Request) -> web.Response:
        body = generate_latest(self.metrics.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def _credential(path: str, passkey: str | None) -> str:
    """The request target the identifier reads: the raw path, plus the passkey
    parameter re-quoted so that no character of it can change the target's
    structure."""
    return path if passkey is None else f"{path}?passkey={quote(passkey, safe='')}"
