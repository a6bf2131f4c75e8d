"""``GET /metrics``: what Prometheus scrapes from each serve process, in its text format.

Each application has a registry of its own (never prometheus_client's global one), so two
applications in one process (the tests) never mix their figures. Most figures are read when
scraped, not counted on the hot paths: the live calls and the nodes' links from the objects that
hold them, the database's figures (unrated calls, scheduled changes, calls rated since the last
scrape) with a few indexed queries. Only the dialplan fetches' latency is measured as they come
(``sync.xml_curl``), and the CDR lag (hangup to rated) is observed for each call rated since the
previous scrape, once per process, whichever path (hangup event, CDR post, swept file) rated it.

Prometheus presents ``SMARTNUMBERS_METRICS_TOKEN`` as a bearer token (``authorization`` in its
scrape configuration); without the setting the route is refused (``sync.auth``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime, timedelta

from aiohttp import web
from prometheus_client import CollectorRegistry, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from smartnumbers.db import utcnow
from smartnumbers.models import CallRecord, ChangeStatus, RatedCall, ScheduledChange
from smartnumbers.version import installed_version
from sync.keys import DIALPLANS, SESSIONS, SETTINGS
from sync.live import LIVE, NODES

routes = web.RouteTableDef()

UNRATED_WINDOW = timedelta(hours=24)  # an old unrated call stays in the alert it raised
LATE_AFTER = timedelta(seconds=60)  # the scheduler polls twice a second; a minute is late
FETCH_BUCKETS = (0.0002, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)
LAG_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 3600.0)


class Metrics:
    """One application's registry, the figures measured as they come, and the watermark of the
    CDR lag (calls rated after it are observed at the next scrape)."""

    def __init__(self, app: web.Application) -> None:
        self.registry = CollectorRegistry()
        self.dialplan_fetch_seconds = Histogram(
            "smartnumbers_dialplan_fetch_seconds", "mod_xml_curl dialplan fetches: request read to answer written",
            buckets=FETCH_BUCKETS, registry=self.registry)
        self.cdr_lag_seconds = Histogram(
            "smartnumbers_cdr_lag_seconds", "calls rated: from the call's hangup to its rating",
            buckets=LAG_BUCKETS, registry=self.registry)
        self.unrated_calls = Gauge(
            "smartnumbers_unrated_calls", "calls to the platform's numbers of the last 24 h stored but not rated",
            registry=self.registry)
        self.scheduled_changes_due = Gauge(
            "smartnumbers_scheduled_changes_due", "plan changes whose moment has come and that are not made yet",
            registry=self.registry)
        self.scheduled_changes_late = Gauge(
            "smartnumbers_scheduled_changes_late", "plan changes not made a minute after their moment",
            registry=self.registry)
        self.registry.register(ProcessState(app))
        self.rated_since = utcnow()
        self._reading = asyncio.Lock()

    async def read_database(self, app: web.Application) -> None:
        """The database's figures, now; scrapes that overlap read it one after the other."""
        async with self._reading, app[SESSIONS]() as session:
            await session.run_sync(self._read)

    def _read(self, session: Session) -> None:
        now = utcnow()
        rated = session.execute(select(RatedCall.rated_at, CallRecord.ended_at)
                                .join(CallRecord, CallRecord.call_id == RatedCall.call_id)
                                .where(RatedCall.rated_at > self.rated_since)).all()
        for rated_at, ended_at in rated:
            self.cdr_lag_seconds.observe(max(0.0, (rated_at - ended_at).total_seconds()))
        self.rated_since = max([self.rated_since, *(rated_at for rated_at, _ in rated)])
        self.unrated_calls.set(session.scalar(
            select(func.count()).select_from(CallRecord)
            .outerjoin(RatedCall, RatedCall.call_id == CallRecord.call_id)
            .where(RatedCall.call_id.is_(None), CallRecord.number_id.is_not(None),
                   CallRecord.started_at >= now - UNRATED_WINDOW)))
        due = list(session.scalars(select(ScheduledChange.apply_at).where(
            ScheduledChange.status == ChangeStatus.PENDING, ScheduledChange.apply_at <= now)))
        self.scheduled_changes_due.set(len(due))
        self.scheduled_changes_late.set(sum(1 for at in due if at <= now - LATE_AFTER))


def duties(app: web.Application) -> list[str]:
    """The work this process does that must be done once: each node's events and live calls,
    the schedule of plan changes, the sweeps of the CDR error folders. For now one serve
    process does all of it."""
    held = [f"node:{name}" for name in (app[NODES].links if NODES in app else ())]
    if DIALPLANS in app:
        held.append("scheduler")
    if app[SETTINGS].cdr_error_folders:
        held.append("cdr_sweep")
    return held


class ProcessState(Collector):
    """The figures read from the live objects at each scrape."""

    def __init__(self, app: web.Application) -> None:
        self.app = app

    def collect(self) -> Iterator[Metric]:
        info = GaugeMetricFamily("smartnumbers_build_info", "the running release", labels=["version"])
        info.add_metric([installed_version()], 1)
        yield info
        held = GaugeMetricFamily("smartnumbers_duty_held", "1 for each duty this process holds", labels=["duty"])
        for duty in duties(self.app):
            held.add_metric([duty], 1)
        yield held
        live = self.app.get(LIVE)
        if live is not None:
            yield GaugeMetricFamily("smartnumbers_calls_up", "calls in progress", value=len(live.calls))
            yield CounterMetricFamily("smartnumbers_calls", "calls begun since start", value=live.calls_started)
            outcomes = CounterMetricFamily("smartnumbers_call_setups", "calls ended since start, by how their setup "
                                           "ended: answered, else the hangup cause", labels=["outcome"])
            for outcome, count in sorted(live.setup_outcomes.items()):
                outcomes.add_metric([outcome], count)
            yield outcomes
            yield CounterMetricFamily("smartnumbers_live_controls_failed", "cost caps and tariff switches the switch "
                                      "did not take, since start", value=live.failed_controls)
        nodes = self.app.get(NODES)
        if nodes is not None:
            families = {
                "up": GaugeMetricFamily("smartnumbers_node_up", "1 when the node's link is up", labels=["node"]),
                "events": CounterMetricFamily("smartnumbers_node_events", "events received", labels=["node"]),
                "dropped": CounterMetricFamily("smartnumbers_node_events_dropped", "events dropped: the queue was "
                                               "full", labels=["node"]),
                "queue": GaugeMetricFamily("smartnumbers_node_queue_depth", "events received and not yet "
                                           "handled", labels=["node"]),
            }
            for status in nodes.snapshot():
                families["up"].add_metric([status.name], 1 if status.state == "up" else 0)
                families["events"].add_metric([status.name], status.events_received)
                families["dropped"].add_metric([status.name], status.events_dropped)
                families["queue"].add_metric([status.name], status.queue_depth)
            yield from families.values()


METRICS = web.AppKey("metrics", Metrics)


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    """The text format Prometheus asks for (its ``Accept``): classic text, else OpenMetrics."""
    found = request.app[METRICS]
    await found.read_database(request.app)
    encode, content_type = choose_encoder(request.headers.get("Accept", ""))
    return web.Response(body=encode(found.registry), headers={"Content-Type": content_type})
