"""Prometheus metrics of the server (``GET /metrics``).

The seed's names where they exist: ``chihaya_privtrak_users_count`` and
``chihaya_privtrak_gc_duration_milliseconds`` (buckets 9.375 ms doubling, 10
of them, R12); chihaya's ``chihaya_http_response_duration_milliseconds``
(labels ``action``, ``address_family``, ``error``) for request latency and its
``chihaya_storage_*`` gauges for the peer store. Everything the core counts
(:class:`~privtrak.reference.Metrics`) is exported as ``privtrak_*``, read
from the core at scrape time so the announce path pays nothing for it; the
sink adds ``privtrak_sink_*``. Each server has its own registry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from privtrak.reference import Tracker

from ._peers import PeerStore

GC_BUCKETS = tuple(9.375 * 2**i for i in range(10))
LATENCY_BUCKETS_MS = (0.25, 0.5, 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500)
_CORE_GAUGES = ("entries", "buffered_records", "waiting_batches", "in_flight_batches",
                "pending_records")
_CORE_COUNTERS = ("batches_sealed", "batches_delivered", "batches_failed",
                  "records_delivered", "purged_entries", "purges_deferred", "gc_runs",
                  "gc_entries_scanned", "seed_panics")


class _CoreCollector(Collector):
    def __init__(self, tracker: Callable[[], Tracker], peers: PeerStore) -> None:
        self._tracker = tracker
        self._peers = peers

    def collect(self) -> Iterator[Metric]:
        m = self._tracker().metrics()
        yield GaugeMetricFamily("chihaya_privtrak_users_count",
                                "Users with at least one baseline", value=m.users)
        for name in _CORE_GAUGES:
            yield GaugeMetricFamily(f"privtrak_{name}", f"Core gauge {name} (R12)",
                                    value=getattr(m, name))
        yield CounterMetricFamily("privtrak_announces", "Announces the core decided",
                                  value=m.announces)
        for name in _CORE_COUNTERS:
            yield CounterMetricFamily(f"privtrak_{name}", f"Core counter {name} (R12)",
                                      value=getattr(m, name))
        for family, label, values in (("outcomes", "outcome", m.outcomes),
                                      ("rejected", "code", m.rejected),
                                      ("records", "kind", m.records)):
            metric = CounterMetricFamily(f"privtrak_{family}", f"Core {family} by {label}",
                                         labels=[label])
            for key, value in sorted(values.items()):
                metric.add_metric([str(key)], value)
            yield metric
        lg = self._tracker().ledger()
        ledger = CounterMetricFamily(
            "privtrak_ledger_bytes", "The core's ledger (R11): credited = delivered + dropped "
            "+ returned + pending, per direction", labels=["term", "direction"])
        for term in ("credited", "delivered", "dropped", "returned"):
            ledger.add_metric([term, "up"], getattr(lg, f"{term}_up"))
            ledger.add_metric([term, "down"], getattr(lg, f"{term}_down"))
        yield ledger
        yield GaugeMetricFamily("privtrak_pending_up_bytes", "Credited upload not yet delivered",
                                value=lg.pending_up)
        yield GaugeMetricFamily("privtrak_pending_down_bytes",
                                "Credited download not yet delivered", value=lg.pending_down)
        torrents, seeders, leechers = self._peers.totals()
        yield GaugeMetricFamily("chihaya_storage_infohashes_count",
                                "Torrents with at least one peer", value=torrents)
        yield GaugeMetricFamily("chihaya_storage_seeders_count", "Seeders", value=seeders)
        yield GaugeMetricFamily("chihaya_storage_leechers_count", "Leechers", value=leechers)


class ServerMetrics:
    """The registry and the instruments the server updates itself."""

    def __init__(self, tracker: Callable[[], Tracker], peers: PeerStore) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_CoreCollector(tracker, peers))
        self.gc_duration = Histogram(
            "chihaya_privtrak_gc_duration_milliseconds", "Duration of a garbage collection",
            buckets=GC_BUCKETS, registry=self.registry)
        self.latency = Histogram(
            "chihaya_http_response_duration_milliseconds",
            "Time from request to response, by action and outcome",
            ["action", "address_family", "error"], buckets=LATENCY_BUCKETS_MS,
            registry=self.registry)
        self.sink_seconds = Histogram(
            "privtrak_sink_transaction_seconds", "Duration of one SQLite batch transaction",
            registry=self.registry)
        self.sink_duplicates = Counter(
            "privtrak_sink_duplicate_batches", "Batches the batch log had applied already",
            registry=self.registry)
        self.sink_errors = Counter(
            "privtrak_sink_errors", "Batch transactions that failed", registry=self.registry)
