"""Hostile input: every malformed request gets a bencoded failure or an HTTP
4xx, never a 5xx, a crash or a state change; oversized requests are refused;
passkeys are compared with hmac.compare_digest.

One server runs in a background thread for the whole module; Hypothesis
sends it announces that each carry at least one defect (plus random extra
parameters), and raw request bytes. ``REQUESTS`` counts what was sent; run
with ``-s`` to see the count.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote_from_bytes

import bencodepy
import pytest
from hypothesis import given
from hypothesis import strategies as st
from server_helpers import PK_A, PK_B, server_config

from privtrak.reference import snapshot
from privtrak.server import TrackerServer, parse_server_config

REQUESTS = {"announce": 0, "raw": 0}
VALID = {"info_hash": b"h" * 20, "peer_id": b"p" * 20, "port": b"6881", "uploaded": b"10",
         "downloaded": b"20", "left": b"30", "event": b"started"}


class Background:
    """A TrackerServer on its own event loop thread."""

    def __init__(self, tmp: Path) -> None:
        config = parse_server_config(server_config(
            tmp, passkeys=[PK_A], http={"max_request_bytes": 2048},
            # Nothing may change on its own while the module runs.
            max_batch_age="1h", gc_interval="1h"))
        self.server = TrackerServer(config)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self.loop).result(10)

    def state(self) -> Any:
        """Everything an accepted announce would change (refusal counters excluded)."""
        async def read() -> Any:
            doc = snapshot(self.server.tracker)
            return ({k: doc[k] for k in ("users", "buffers", "waiting", "in_flight", "ledger",
                                         "attributed", "next_batch_id")},
                    self.server.peers.totals())
        return asyncio.run_coroutine_threadsafe(read(), self.loop).result(10)

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.server.shutdown(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture(scope="module")
def tracker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Background]:
    bg = Background(tmp_path_factory.mktemp("fuzz"))
    # One accepted announce first, so there is state a bad request could touch.
    status, body = send(bg, f"/{PK_A}/announce?" + encode(VALID).decode())
    assert status == 200 and b"failure" not in body
    yield bg
    bg.close()
    print(f"\nfuzz: {REQUESTS['announce']} announces, {REQUESTS['raw']} raw requests")


def encode(params: dict[str, bytes] | list[tuple[str, bytes]]) -> bytes:
    items = params.items() if isinstance(params, dict) else params
    return "&".join(f"{quote_from_bytes(k.encode('utf-8'))}={quote_from_bytes(v)}"
                    for k, v in items).encode()


def exchange(bg: Background, raw: bytes, *, half_close: bool = True) -> tuple[int, bytes]:
    """Send raw bytes, return (status, body); status 0 if the server closed silently.

    ``half_close`` ends the sending side so an incomplete request cannot keep
    the server waiting; a complete request asks for ``Connection: close``
    instead (aiohttp drops a request whose client half-closed)."""
    with socket.create_connection(("127.0.0.1", bg.server.port), timeout=10) as sock:
        sock.sendall(raw)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    response = b"".join(chunks)
    if not response:
        return 0, b""
    head, _, body = response.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def send(bg: Background, target: str) -> tuple[int, bytes]:
    return exchange(bg, f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                    .encode("latin-1"), half_close=False)


def assert_refused(status: int, body: bytes) -> None:
    assert status != 0 and status < 500, (status, body)
    if status == 200:
        decoded = bencodepy.decode(body)
        assert b"failure reason" in decoded, decoded


def is_ip(raw: bytes) -> bool:
    try:
        ipaddress.ip_address(raw.decode("ascii"))
    except ValueError:
        return False
    return True


names = st.sampled_from([*VALID, "numwant", "ip", "passkey", "key", "compact"]) | st.text(
    max_size=8)
junk = st.binary(max_size=30)

defects = st.one_of(
    st.sampled_from(list(VALID)[:6]).map(lambda n: ("drop", n, b"")),
    st.tuples(st.just("set"), st.sampled_from(["info_hash", "peer_id"]),
              st.binary(max_size=40).filter(lambda b: len(b) != 20)),
    st.tuples(st.just("set"), st.sampled_from(["port", "uploaded", "downloaded", "left",
                                               "numwant"]),
              st.binary(max_size=25).filter(lambda b: not (b.isdigit() and b.isascii()))),
    st.tuples(st.just("set"), st.sampled_from(["uploaded", "downloaded"]),
              st.integers(2**63, 10**20 - 1).map(lambda i: str(i).encode())),
    st.tuples(st.just("set"), st.just("port"),
              st.integers(65536, 10**9).map(lambda i: str(i).encode())),
    st.tuples(st.just("set"), st.just("event"),
              st.binary(max_size=12).filter(
                  lambda b: b not in (b"", b"started", b"completed", b"stopped"))),
    st.tuples(st.just("set"), st.just("ip"), st.binary(max_size=20).filter(
        lambda b: not is_ip(b))),
    st.tuples(st.just("dup"), st.sampled_from(list(VALID)), junk),
    st.tuples(st.just("path"), st.sampled_from(
        [PK_B, PK_A[:31], PK_A + "0", "g" * 32, "", " " + PK_A[1:], PK_A.upper()[:31] + "z"]),
        st.just(b"")),
)


@given(defect=defects, extra=st.lists(st.tuples(names, junk), max_size=4),
       shuffle=st.randoms(use_true_random=False))
def test_malformed_announce_is_refused_without_state_change(
        tracker: Background, defect: tuple[str, str, bytes],
        extra: list[tuple[str, bytes]], shuffle: Any) -> None:
    kind, name, value = defect
    params = dict(VALID)
    passkey = PK_A
    items: list[tuple[str, bytes]]
    if kind == "drop":
        del params[name]
    elif kind == "set":
        params[name] = value
    elif kind == "path":
        passkey = name
    # Extra parameters must not repair the defect: keep their names apart.
    extras = [(n, v) for n, v in extra if n not in VALID and n not in ("numwant", "ip",
                                                                         "passkey")]
    items = [*params.items(), *extras]
    if kind == "dup":
        items.append((name, value))
    shuffle.shuffle(items)
    before = tracker.state()
    status, body = send(tracker, f"/{passkey}/announce?" + encode(items).decode())
    REQUESTS["announce"] += 1
    assert_refused(status, body)
    assert tracker.state() == before


@given(raw=st.one_of(
    st.binary(max_size=300),
    st.builds(lambda m, t, v: m + b" " + t + b" " + v + b"\r\n\r\n",
              st.sampled_from([b"GET", b"POST", b"PUT", b"BREW", b"G\x00T"]),
              st.binary(max_size=200), st.sampled_from([b"HTTP/1.1", b"HTTP/9.9", b""])),
    st.builds(lambda t: b"GET /" + PK_A.encode() + b"/announce?" + t + b" HTTP/1.1\r\n\r\n",
              st.binary(max_size=200)),
))
def test_raw_garbage_never_gets_a_5xx_or_a_state_change(tracker: Background,
                                                       raw: bytes) -> None:
    before = tracker.state()
    status, body = exchange(tracker, raw)
    REQUESTS["raw"] += 1
    # The server may also close a connection that never formed a request.
    if status:
        assert_refused(status, body)
    assert tracker.state() == before


@pytest.mark.parametrize("where", ["query", "header"])
def test_oversized_requests_are_refused(tracker: Background, where: str) -> None:
    before = tracker.state()
    big = "x" * 5000
    if where == "query":
        status, _ = send(tracker, f"/{PK_A}/announce?pad={big}&" + encode(VALID).decode())
    else:
        status, _ = exchange(tracker, f"GET /{PK_A}/announce?{encode(VALID).decode()} "
                                      f"HTTP/1.1\r\nX-Pad: {big}\r\nConnection: close\r\n"
                                      "\r\n".encode(), half_close=False)
    assert 400 <= status < 500
    assert tracker.state() == before


def test_passkeys_are_compared_with_compare_digest(tracker: Background,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        seen.append((a, b))
        return real(a, b)

    monkeypatch.setattr("privtrak.server._identify.hmac.compare_digest", spy)
    status, body = send(tracker, f"/{PK_A}/announce?" + encode(VALID).decode())
    assert status == 200 and b"failure" not in body
    assert (bytes.fromhex(PK_A), bytes.fromhex(PK_A)) in seen
