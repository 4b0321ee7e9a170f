"""privtrak.server: the reference core as a real BitTorrent HTTP tracker.

:class:`TrackerServer` serves announces, scrapes and ``/metrics`` with the
reference doing the accounting and :class:`SqliteSink` storing each batch
exactly once; :func:`load_server_config` reads the chihaya-style YAML. The
``privtrak serve`` and ``privtrak load`` commands live in :mod:`.cli` and
:mod:`.load`.
"""

from __future__ import annotations

from ._app import TrackerServer
from ._config import ServerConfig, ServerConfigError, load_server_config, parse_server_config
from ._identify import AllowListIdentifier, mask_passkey
from ._peers import PeerStore
from ._sink import SCHEMA, SqliteSink, read_user_totals
from ._wire import AnnounceQuery, WireError, parse_announce, parse_scrape

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
