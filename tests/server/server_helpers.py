"""In-process server fixtures: a TrackerServer on 127.0.0.1 with an ephemeral port."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote_from_bytes

import aiohttp
import bencodepy

from privtrak.server import TrackerServer, parse_server_config

PK_A = "a1" * 16
PK_B = "b2" * 16
HASH = b"h" * 20


def server_config(tmp: Path, **options: Any) -> dict[str, Any]:
    http = options.pop("http", {})
    top = options.pop("top", {})
    return {"chihaya": {
        **top,
        "http": {"addr": "127.0.0.1:0", "shutdown_timeout": "5s", **http},
        "prehooks": [{"name": "privtrak", "options": {
            "database": str(tmp / "totals.db"), "snapshot_path": str(tmp / "state.json"),
            **options}}]}}


@asynccontextmanager
async def running(tmp: Path, clock: Callable[[], float] | None = None,
                  **options: Any) -> AsyncIterator[tuple[TrackerServer, aiohttp.ClientSession]]:
    """Start a server, yield it with a client session, shut it down gracefully."""
    config = parse_server_config(server_config(tmp, **options))
    server = TrackerServer(config) if clock is None else TrackerServer(config, clock)
    await server.start()
    try:
        async with aiohttp.ClientSession() as session:
            yield server, session
    finally:
        await server.shutdown()


def announce_url(server: TrackerServer, passkey: str = PK_A, *, info_hash: bytes = HASH,
                 peer_id: bytes = b"p" * 20, port: int = 6881, up: int = 0, down: int = 0,
                 left: int = 100, event: str = "") -> str:
    return (f"http://127.0.0.1:{server.port}/{passkey}/announce?"
            f"info_hash={quote_from_bytes(info_hash)}&peer_id={quote_from_bytes(peer_id)}"
            f"&port={port}&uploaded={up}&downloaded={down}&left={left}&event={event}")


async def get(session: aiohttp.ClientSession, url: str) -> tuple[int, Any]:
    """(status, decoded bencoded body or raw bytes when not bencoded)."""
    async with session.get(url) as resp:
        body = await resp.read()
        try:
            return resp.status, bencodepy.decode(body)
        except bencodepy.BencodeDecodeError:
            return resp.status, body


async def settle(server: TrackerServer, timeout: float = 5.0) -> None:
    """Wait until the core holds no pending record (everything delivered)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while server.tracker.metrics().pending_records:
        if loop.time() > deadline:
            raise AssertionError(f"still pending: {server.tracker.metrics()}")
        await asyncio.sleep(0.02)
