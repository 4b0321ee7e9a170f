"""The BitTorrent wire format: announce and scrape queries in, bencoded replies out.

Query strings are split by hand on ``&`` and ``=`` only because the
binary parameters (``info_hash``, ``peer_id``) are percent-encoded raw bytes
that a text decoder would mangle; everything HTTP (the request line, headers,
connections) is aiohttp's. A parameter's value is decoded with
``unquote_to_bytes`` after ``+`` becomes a space, as chihaya does.

Every refusal is a :class:`WireError` whose message names the parameter and
what is wrong; the server answers it as a bencoded ``failure reason``.
Parameters the tracker does not use (``key``, ``compact``, ``supportcrypto``,
...) are accepted and ignored, as every tracker does, but none may appear
twice in an announce.
"""

from __future__ import annotations

import binascii
import ipaddress
import re
from typing import NamedTuple
from urllib.parse import unquote_to_bytes

import bencodepy

from privtrak.reference import UINT64_MAX, ByteCount, Event

INFO_HASH_LEN = 20
PEER_ID_LEN = 20
_MAX_DECIMAL_DIGITS = 20
_EVENTS = {"": Event.NONE, "started": Event.STARTED, "completed": Event.COMPLETED,
           "stopped": Event.STOPPED}


class WireError(ValueError):
    """A request the tracker refuses; ``str()`` is the bencoded failure reason."""


class AnnounceQuery(NamedTuple):
    """The parameters of one announce, validated."""

    info_hash: bytes
    peer_id: bytes
    port: int
    uploaded: ByteCount
    downloaded: ByteCount
    left: ByteCount
    event: Event
    numwant: int | None
    ip: str | None
    passkey: str | None


# Printable ASCII but '%', '+', '=' and space, or a complete %XX escape.
_PLAIN_OR_ESCAPED = re.compile(r"(?:[!-$&-*,-<>-~]|%[0-9A-Fa-f]{2})*")


def _unquote(text: str) -> bytes:
    """Percent-decode exactly as ``unquote_to_bytes(text.replace("+", " "))``.

    Most values (counters, ports, events) carry no escape; binary ones
    (infohash, peer id) made only of complete escapes and plain printable
    characters are decoded by binascii's quoted-printable decoder in C
    (``%XX`` written as ``=XX``), several times faster than the pure-Python
    loop; anything else takes the standard decoder.
    """
    if "%" not in text and "+" not in text:
        return text.encode("utf-8")
    if _PLAIN_OR_ESCAPED.fullmatch(text) is not None:
        return binascii.a2b_qp(text.replace("%", "="))
    return unquote_to_bytes(text.replace("+", " "))


def split_query(query: str) -> dict[str, list[bytes]]:
    """Split a raw (still percent-encoded) query into name -> decoded values."""
    params: dict[str, list[bytes]] = {}
    if not query:
        return params
    for part in query.split("&"):
        if not part:
            continue
        name_raw, sep, value_raw = part.partition("=")
        name_bytes = _unquote(name_raw)
        try:
            name = name_bytes.decode("ascii")
        except UnicodeDecodeError:
            raise WireError(f"parameter name {name_bytes!r} is not ASCII") from None
        value = _unquote(value_raw) if sep else b""
        values = params.get(name)
        if values is None:
            params[name] = [value]
        else:
            values.append(value)
    return params


def _one(params: dict[str, list[bytes]], name: str, required: bool) -> bytes | None:
    values = params.get(name)
    if values is None:
        if required:
            raise WireError(f"missing parameter {name}")
        return None
    if len(values) != 1:
        raise WireError(f"parameter {name} given {len(values)} times")
    return values[0]


def _decimal(name: str, raw: bytes, limit: int) -> int:
    if not raw.isdigit() or not raw.isascii() or len(raw) > _MAX_DECIMAL_DIGITS:
        raise WireError(f"parameter {name}={raw[:32]!r} is not a decimal integer")
    value = int(raw)
    if value > limit:
        raise WireError(f"parameter {name}={value} is above {limit}")
    return value


def _fixed(name: str, raw: bytes, length: int) -> bytes:
    if len(raw) != length:
        raise WireError(f"parameter {name} must be {length} bytes, got {len(raw)}")
    return raw


def _raw_params(query: str) -> dict[str, str]:
    """name -> still-encoded value; a repeated name is refused."""
    raw: dict[str, str] = {}
    for part in query.split("&"):
        if not part:
            continue
        name, sep, value = part.partition("=")
        if "%" in name or "+" in name:
            name_bytes = _unquote(name)
            try:
                name = name_bytes.decode("ascii")
            except UnicodeDecodeError:
                raise WireError(f"parameter name {name_bytes!r} is not ASCII") from None
        if name in raw:
            raise WireError(f"parameter {name} given more than once")
        raw[name] = value if sep else ""
    return raw


def _required(raw: dict[str, str], name: str) -> str:
    value = raw.get(name)
    if value is None:
        raise WireError(f"missing parameter {name}")
    return value


def _counter(raw: dict[str, str], name: str, limit: int) -> int:
    text = _required(raw, name)
    if "%" in text or "+" in text:
        return _decimal(name, _unquote(text), limit)
    if not text.isdigit() or not text.isascii() or len(text) > _MAX_DECIMAL_DIGITS:
        raise WireError(f"parameter {name}={text[:32].encode('utf-8', 'replace')!r} is not a "
                        "decimal integer")
    value = int(text)
    if value > limit:
        raise WireError(f"parameter {name}={value} is above {limit}")
    return value


def parse_announce(query: str) -> AnnounceQuery:
    """Validate an announce query string (without the ``?``); raises WireError.

    The announce path: one split, and only the parameters the tracker uses
    are decoded.
    """
    raw = _raw_params(query)
    info_hash = _fixed("info_hash", _unquote(_required(raw, "info_hash")), INFO_HASH_LEN)
    peer_id = _fixed("peer_id", _unquote(_required(raw, "peer_id")), PEER_ID_LEN)
    port = _counter(raw, "port", 65535)
    uploaded = ByteCount(_counter(raw, "uploaded", UINT64_MAX))
    downloaded = ByteCount(_counter(raw, "downloaded", UINT64_MAX))
    left = ByteCount(_counter(raw, "left", UINT64_MAX))
    event_text = raw.get("event", "")
    event = _EVENTS.get(event_text)
    if event is None:
        event_raw = _unquote(event_text)
        try:
            event = _EVENTS[event_raw.decode("ascii")]
        except (UnicodeDecodeError, KeyError):
            raise WireError(f"unknown event {event_raw[:32]!r}; expected started, completed, "
                            "stopped or empty") from None
    numwant = _counter(raw, "numwant", 1 << 31) if "numwant" in raw else None
    ip = None
    if "ip" in raw:
        ip_raw = _unquote(raw["ip"])
        try:
            ip = str(ipaddress.ip_address(ip_raw.decode("ascii")))
        except (UnicodeDecodeError, ValueError):
            raise WireError(f"parameter ip={ip_raw[:64]!r} is not an IP address") from None
    passkey = None
    if "passkey" in raw:
        passkey_raw = _unquote(raw["passkey"])
        if not passkey_raw.isascii():
            raise WireError("parameter passkey is not ASCII")
        passkey = passkey_raw.decode("ascii")
    return AnnounceQuery(info_hash, peer_id, port, uploaded, downloaded, left, event,
                         numwant, ip, passkey)


def parse_scrape(query: str, limit: int) -> list[bytes]:
    """The infohashes of a scrape query (at most ``limit``); raises WireError."""
    params = split_query(query)
    hashes = params.get("info_hash", [])
    if len(hashes) > limit:
        raise WireError(f"scrape of {len(hashes)} infohashes; at most {limit} per request")
    return [_fixed("info_hash", h, INFO_HASH_LEN) for h in hashes]


def failure(reason: str) -> bytes:
    """A bencoded refusal (BEP 3 ``failure reason``)."""
    encoded: bytes = bencodepy.encode({b"failure reason": reason.encode("utf-8")})
    return encoded


def encode(value: object) -> bytes:
    """Bencode a reply built of dicts with bytes keys, bytes and ints."""
    encoded: bytes = bencodepy.encode(value)
    return encoded


def compact_peer(ip: str, port: int) -> tuple[bool, bytes]:
    """BEP 23 / BEP 7 compact form: ``(is_ipv6, address bytes + big-endian port)``."""
    address = ipaddress.ip_address(ip)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.version == 6, address.packed + port.to_bytes(2, "big")
