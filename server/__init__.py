"""privtrak.server: the reference core as a real BitTorrent HTTP tracker.

:class:`TrackerServer` serves announces, scrapes and ``/metrics`` with the
reference doing the accounting and :class:`SqliteSink` storing each batch
exactly once; :func:`load_server_config` reads the chihaya-style YAML. The
``privtrak serve`` and ``privtrak load`` commands live in :mod:`.cli` and
:mod:`.load`.

Names are imported on first use (PEP 562), so the ``privtrak`` command,
which imports every subcommand's module to build its parser, does not pay
for aiohttp unless it serves or loads.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._app import TrackerServer
    from ._config import (
        ServerConfig,
        ServerConfigError,
        load_server_config,
        parse_server_config,
    )
    from ._identify import AllowListIdentifier, mask_passkey
    from ._peers import PeerStore
    from ._sink import SCHEMA, SqliteSink, read_user_totals
    from ._wire import AnnounceQuery, WireError, parse_announce, parse_scrape

_WHERE = {
    "TrackerServer": "._app",
    "ServerConfig": "._config",
    "ServerConfigError": "._config",
    "load_server_config": "._config",
    "parse_server_config": "._config",
    "AllowListIdentifier": "._identify",
    "mask_passkey": "._identify",
    "PeerStore": "._peers",
    "SCHEMA": "._sink",
    "SqliteSink": "._sink",
    "read_user_totals": "._sink",
    "AnnounceQuery": "._wire",
    "WireError": "._wire",
    "parse_announce": "._wire",
    "parse_scrape": "._wire",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module, __name__), name)


__all__ = [
    "SCHEMA",
    "AllowListIdentifier",
    "AnnounceQuery",
    "PeerStore",
    "ServerConfig",
    "ServerConfigError",
    "SqliteSink",
    "TrackerServer",
    "WireError",
    "load_server_config",
    "mask_passkey",
    "parse_announce",
    "parse_scrape",
    "parse_server_config",
    "read_user_totals",
]
