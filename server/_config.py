"""The server's configuration, in chihaya's YAML layout.

::

    chihaya:
      announce_interval: 30m        # "interval" in every announce response
      min_announce_interval: 15m    # "min interval"
      http:
        addr: 127.0.0.1:6969        # host:port; /metrics is served here too
        tls_cert_path: ""           # both set: HTTPS
        tls_key_path: ""
        max_request_bytes: 4096     # request line and each header line
        default_numwant: 50
        max_numwant: 100
        max_scrape_infohashes: 50
        shutdown_timeout: 10s       # in-flight requests, then deliveries
      storage:
        name: memory
        config:
          peer_lifetime: 31m        # a swarm member not heard from is dropped
      prehooks:
      - name: privtrak
        options:
          preset: recommended       # ... and every key of privtrak.reference.parse_config
          database: privtrak.db     # SQLite file of the DeltaHandler
          database_delay: 0s        # sleep per transaction (testing a slow sink)
          snapshot_path: privtrak.snapshot.json
          passkeys: []              # allowed 32-hex passkeys; empty allows any well-formed one
          hybrid_aliases: {}        # v2 (truncated) infohash hex -> v1 infohash hex

Unknown keys, wrong types and bad values raise :class:`ServerConfigError`
naming the key (as a dotted path) and the value. Relative file paths are
read relative to the current directory.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import yaml

from privtrak.reference import (
    Config,
    ConfigError,
    InvalidInput,
    PrivtrakError,
    UserId,
    make_info_hash,
    make_user_id,
    parse_config,
    parse_go_duration,
)

_HEX32 = re.compile(r"[0-9A-Fa-f]{32}")
_HEX40 = re.compile(r"[0-9A-Fa-f]{40}")
MIDDLEWARE_NAME = "privtrak"


class ServerConfigError(PrivtrakError, ValueError):
    """A bad server configuration; ``key`` is the dotted path, ``value`` what was found."""

    def __init__(self, key: str, value: object, why: str) -> None:
        self.key = key
        self.value = value
        super().__init__(f"config {key}={value!r}: {why}")


@dataclass(frozen=True)
class ServerConfig:
    """Everything ``privtrak serve`` needs; build it with :func:`parse_server_config`."""

    core: Config = field(default_factory=lambda: parse_config({}))
    host: str = "127.0.0.1"
    port: int = 6969
    announce_interval: int = 1800
    min_announce_interval: int = 900
    tls_cert_path: str | None = None
    tls_key_path: str | None = None
    max_request_bytes: int = 4096
    default_numwant: int = 50
    max_numwant: int = 100
    max_scrape_infohashes: int = 50
    shutdown_timeout: float = 10.0
    peer_lifetime: int = 1860
    database: str = "privtrak.db"
    database_delay: float = 0.0
    snapshot_path: str | None = "privtrak.snapshot.json"
    passkeys: frozenset[UserId] | None = None
    hybrid_aliases: Mapping[bytes, bytes] = field(default_factory=dict)


def _mapping(key: str, raw: object) -> Mapping[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ServerConfigError(key, raw, "must be a mapping")
    return raw


def _only(key: str, raw: Mapping[str, Any], known: set[str]) -> None:
    for name in raw:
        if name not in known:
            raise ServerConfigError(f"{key}.{name}", raw[name],
                                    f"unknown key; known keys: {sorted(known)}")


def _seconds(key: str, raw: object, *, whole: bool) -> Fraction:
    if isinstance(raw, bool) or not isinstance(raw, (int, str)):
        raise ServerConfigError(key, raw, "must be a duration such as 30m or 500ms")
    try:
        value = Fraction(raw) if isinstance(raw, int) else parse_go_duration(key, raw)
    except ConfigError as exc:
        raise ServerConfigError(key, raw, str(exc)) from None
    if value < 0:
        raise ServerConfigError(key, raw, "must not be negative")
    if whole and value.denominator != 1:
        raise ServerConfigError(key, raw, "must be whole seconds")
    return value


def _positive_int(key: str, raw: object) -> int:
    if type(raw) is not int or raw <= 0:
        raise ServerConfigError(key, raw, "must be a positive integer")
    return raw


def _path(key: str, raw: object, *, optional: bool) -> str | None:
    if raw in (None, "") and optional:
        return None
    if not isinstance(raw, str) or not raw:
        raise ServerConfigError(key, raw, "must be a file path")
    return raw


def parse_addr(key: str, raw: object) -> tuple[str, int]:
    """``host:port`` (IPv6 hosts in brackets) or ServerConfigError naming ``key``."""
    if not isinstance(raw, str) or ":" not in raw:
        raise ServerConfigError(key, raw, "must be host:port")
    host, _, port_text = raw.rpartition(":")
    host = host.strip("[]")
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535 or not host:
        raise ServerConfigError(key, raw, "must be host:port with a port in 0..65535")
    return host, int(port_text)


def _passkeys(key: str, raw: object) -> frozenset[UserId] | None:
    if raw is None or raw == []:
        return None
    if not isinstance(raw, list):
        raise ServerConfigError(key, raw, "must be a list of 32-hex passkeys")
    users = set()
    for i, item in enumerate(raw):
        if not isinstance(item, str) or _HEX32.fullmatch(item) is None:
            raise ServerConfigError(f"{key}[{i}]", "<hidden>",
                                    "must be 32 hexadecimal characters")
        users.add(make_user_id(bytes.fromhex(item)))
    return frozenset(users)


def _aliases(key: str, raw: object) -> dict[bytes, bytes]:
    aliases: dict[bytes, bytes] = {}
    for alias, canonical in _mapping(key, raw).items():
        for text in (alias, canonical):
            if not isinstance(text, str) or _HEX40.fullmatch(text) is None:
                raise ServerConfigError(f"{key}.{alias}", canonical,
                                        "infohashes must be 40 hexadecimal characters")
        aliases[make_info_hash(bytes.fromhex(alias))] = make_info_hash(bytes.fromhex(canonical))
    return aliases


_TOP = {"announce_interval", "min_announce_interval", "http", "storage", "prehooks"}
_HTTP = {"addr", "tls_cert_path", "tls_key_path", "max_request_bytes", "default_numwant",
         "max_numwant", "max_scrape_infohashes", "shutdown_timeout"}
_SERVER_OPTIONS = {"database", "database_delay", "snapshot_path", "passkeys", "hybrid_aliases"}


def parse_server_config(raw: object) -> ServerConfig:
    """Validate a decoded YAML document (``{"chihaya": {...}}``) into a ServerConfig."""
    root = _mapping("<root>", raw)
    _only("<root>", root, {"chihaya"})
    top = _mapping("chihaya", root.get("chihaya"))
    _only("chihaya", top, _TOP)
    http = _mapping("chihaya.http", top.get("http"))
    _only("chihaya.http", http, _HTTP)
    storage = _mapping("chihaya.storage", top.get("storage"))
    _only("chihaya.storage", storage, {"name", "config"})
    if storage.get("name", "memory") != "memory":
        raise ServerConfigError("chihaya.storage.name", storage.get("name"),
                                "only the in-memory peer store 'memory' exists")
    storage_config = _mapping("chihaya.storage.config", storage.get("config"))
    _only("chihaya.storage.config", storage_config, {"peer_lifetime"})
    options = _middleware_options(top.get("prehooks"))
    core_raw = {k: v for k, v in options.items() if k not in _SERVER_OPTIONS}
    try:
        core = parse_config(core_raw)
    except ConfigError as exc:
        raise ServerConfigError(f"chihaya.prehooks.privtrak.options.{exc.key}", exc.value,
                                str(exc)) from None
    host, port = parse_addr("chihaya.http.addr", http.get("addr", "127.0.0.1:6969"))
    cert = _path("chihaya.http.tls_cert_path", http.get("tls_cert_path"), optional=True)
    key = _path("chihaya.http.tls_key_path", http.get("tls_key_path"), optional=True)
    if (cert is None) != (key is None):
        raise ServerConfigError("chihaya.http.tls_key_path", key,
                                "TLS needs both tls_cert_path and tls_key_path")
    opt = "chihaya.prehooks.privtrak.options"
    interval = int(_seconds("chihaya.announce_interval",
                            top.get("announce_interval", "30m"), whole=True))
    min_interval = int(_seconds("chihaya.min_announce_interval",
                                top.get("min_announce_interval", "15m"), whole=True))
    if min_interval > interval:
        raise ServerConfigError("chihaya.min_announce_interval", top.get("min_announce_interval"),
                                "must not exceed announce_interval")
    default_numwant = _positive_int("chihaya.http.default_numwant",
                                    http.get("default_numwant", 50))
    max_numwant = _positive_int("chihaya.http.max_numwant", http.get("max_numwant", 100))
    if default_numwant > max_numwant:
        raise ServerConfigError("chihaya.http.default_numwant", default_numwant,
                                "must not exceed max_numwant")
    return ServerConfig(
        core=core,
        host=host,
        port=port,
        announce_interval=interval,
        min_announce_interval=min_interval,
        tls_cert_path=cert,
        tls_key_path=key,
        max_request_bytes=_positive_int("chihaya.http.max_request_bytes",
                                        http.get("max_request_bytes", 4096)),
        default_numwant=default_numwant,
        max_numwant=max_numwant,
        max_scrape_infohashes=_positive_int("chihaya.http.max_scrape_infohashes",
                                            http.get("max_scrape_infohashes", 50)),
        shutdown_timeout=float(_seconds("chihaya.http.shutdown_timeout",
                                        http.get("shutdown_timeout", "10s"), whole=False)),
        peer_lifetime=int(_seconds("chihaya.storage.config.peer_lifetime",
                                   storage_config.get("peer_lifetime", "31m"), whole=True)),
        database=str(_path(f"{opt}.database", options.get("database", "privtrak.db"),
                           optional=False)),
        database_delay=float(_seconds(f"{opt}.database_delay",
                                      options.get("database_delay", "0s"), whole=False)),
        snapshot_path=_path(f"{opt}.snapshot_path",
                            options.get("snapshot_path", "privtrak.snapshot.json"),
                            optional=True),
        passkeys=_passkeys(f"{opt}.passkeys", options.get("passkeys")),
        hybrid_aliases=_aliases(f"{opt}.hybrid_aliases", options.get("hybrid_aliases")),
    )


def _middleware_options(raw: object) -> Mapping[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, list):
        raise ServerConfigError("chihaya.prehooks", raw, "must be a list of {name, options}")
    found: Mapping[str, Any] | None = None
    for i, hook in enumerate(raw):
        hook_map = _mapping(f"chihaya.prehooks[{i}]", hook)
        _only(f"chihaya.prehooks[{i}]", hook_map, {"name", "options"})
        if hook_map.get("name") != MIDDLEWARE_NAME:
            raise ServerConfigError(f"chihaya.prehooks[{i}].name", hook_map.get("name"),
                                    f"only the {MIDDLEWARE_NAME!r} middleware exists")
        if found is not None:
            raise ServerConfigError(f"chihaya.prehooks[{i}]", MIDDLEWARE_NAME, "given twice")
        found = _mapping(f"chihaya.prehooks[{i}].options", hook_map.get("options"))
    return found if found is not None else {}


def load_server_config(path: str | Path | None) -> ServerConfig:
    """Read the YAML file at ``path`` (``None``: every default)."""
    if path is None:
        return parse_server_config({})
    try:
        text = Path(path).read_text(encoding="utf-8")
        doc = yaml.safe_load(text)
    except (OSError, yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ServerConfigError("<file>", str(path), f"cannot be read: {exc}") from None
    try:
        return parse_server_config({} if doc is None else doc)
    except InvalidInput as exc:
        raise ServerConfigError(exc.field, exc.value, str(exc)) from None
