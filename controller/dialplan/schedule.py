"""Scheduled changes applied at their moment, and every other change published within a second.

A dated change is an APScheduler 3 job in the database (``SQLAlchemyJobStore``), with its
moment in UTC: it survives a restart, a run missed while the application was down is made at
start (no grace limit), and a date trigger in UTC fires once, also in the night the clocks go
back. Applying is idempotent (``routing.apply_change``): a change is applied only while it is
pending, in the transaction that marks it applied, so a job and the poller racing for it apply it
once; a cancelled change's job finds nothing to do.

A coarse poller (every half second, in memory) applies changes that are due (an immediate
change made by the CLI or the API in another process), gives new dated changes their job, and
republishes the numbers the audit trail says changed (plans, numbers, tariffs, blacklists).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable

from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from controller.dialplan.publisher import DialplanPublisher
from smartnumbers.audit import Actor
from smartnumbers.db import sync_url, utcnow
from smartnumbers.models import (
    ActorKind,
    AuditEntry,
    ChangeStatus,
    ScheduledChange,
    SmartNumber,
    Tariff,
    TariffVersion,
)
from smartnumbers.routing import apply_change

log = logging.getLogger(__name__)

SCHEDULER = Actor(ActorKind.SYSTEM, "scheduler")
JOB_TABLE = "dialplan_jobs"

# APScheduler stores a job's function by its import path, so the job finds the running
# schedule through this table (one entry per serve process, by name).
_RUNNING: dict[str, ChangeSchedule] = {}


async def run_change(schedule_name: str, change_id: int) -> None:
    """The persisted job: apply one change and publish its number."""
    schedule = _RUNNING.get(schedule_name)
    if schedule is None:
        raise RuntimeError(f"no running dialplan schedule {schedule_name!r}")
    await schedule.apply(change_id)


class ChangeSchedule:
    """``clock`` says when "now" is for the poller's due changes and for the moment a change is
    recorded as made (tests move it to a change's minute); the persisted jobs fire by the real
    clock."""

    def __init__(self, publisher: DialplanPublisher, sessions: Callable[[], Session], database_url: str, *,
                 name: str = "dialplans", poll_interval: float = 0.5,
                 clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.publisher = publisher
        self.sessions = sessions
        self.name = name
        self.poll_interval = poll_interval
        self.clock = clock
        self.scheduler = AsyncIOScheduler(
            jobstores={"default": SQLAlchemyJobStore(url=sync_url(database_url), tablename=JOB_TABLE),
                       "memory": MemoryJobStore()},
            job_defaults={"coalesce": True, "misfire_grace_time": None, "max_instances": 1},
            timezone=dt.timezone.utc,
        )
        self._last_audit_id: int | None = None
        self._last_look = clock()
        self._polling: asyncio.Task | None = None

    # -- life cycle -----------------------------------------------------------------------------------

    async def start(self) -> None:
        """Apply what is due (missed while down), then run the jobs and the poller."""
        _RUNNING[self.name] = self
        loop = asyncio.get_running_loop()
        self._last_audit_id = await loop.run_in_executor(None, self._newest_audit_id)
        self.scheduler.start()
        await self.poll()
        self._polling = asyncio.create_task(self._poll_forever())
        # Holidays are rendered for this year and the next: a nightly full publication keeps the
        # horizon ahead and repairs a node folder someone edited by hand.
        self.scheduler.add_job(self.publisher.publish, "cron", hour=2, minute=30, id=f"{self.name}-nightly",
                               jobstore="memory", replace_existing=True)

    def stop(self) -> None:
        if self._polling is not None:
            self._polling.cancel()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        _RUNNING.pop(self.name, None)

    # -- work -----------------------------------------------------------------------------------------

    def job_id(self, change_id: int) -> str:
        return f"{self.name}-change-{change_id}"

    def schedule(self, change_id: int, at: dt.datetime) -> None:
        """A dated change's persisted job, at its moment in UTC."""
        self.scheduler.add_job(run_change, "date", run_date=at.astimezone(dt.timezone.utc),
                               args=[self.name, change_id], id=self.job_id(change_id), replace_existing=True)

    async def apply(self, change_id: int) -> None:
        loop = asyncio.get_running_loop()
        e164 = await loop.run_in_executor(None, self._apply_in_session, change_id)
        if e164 is not None:
            await self.publisher.publish([e164])

    def _apply_in_session(self, change_id: int) -> str | None:
        with self.sessions() as session:
            return apply_change(session, SCHEDULER, change_id, self.clock())

    async def _poll_forever(self) -> None:
        """The poller, a task of its own and not a scheduler job: each time APScheduler wakes
        up it reads its database job store on the loop, so as a job every half second the
        poller held the loop (and the dialplan fetches in flight) 1.2 ms about three times a
        second, on SQLite (APScheduler's ``_process_jobs`` timed beside a running schedule)."""
        while True:
            await asyncio.sleep(self.poll_interval)
            try:
                await self.poll()
            except Exception:  # the next poll tries again; the loop goes on
                log.exception("dialplan change poll failed")

    async def poll(self) -> None:
        """Due changes applied, dated ones given a job, audited changes republished."""
        loop = asyncio.get_running_loop()
        due, dated, touched = await loop.run_in_executor(None, self._look)
        for change_id in due:
            await self.apply(change_id)
        for change_id, at in dated:
            if self.scheduler.get_job(self.job_id(change_id)) is None:
                self.schedule(change_id, at)
        if touched:
            await self.publisher.publish(touched)

    def _newest_audit_id(self) -> int:
        with self.sessions() as session:
            return session.scalar(select(func.max(AuditEntry.id))) or 0

    def _look(self) -> tuple[list[int], list[tuple[int, dt.datetime]], list[str]]:
        now = self.clock()
        with self.sessions() as session:
            pending = session.execute(select(ScheduledChange.id, ScheduledChange.apply_at).where(
                ScheduledChange.status == ChangeStatus.PENDING).order_by(ScheduledChange.apply_at)).all()
            entries = session.execute(select(AuditEntry.id, AuditEntry.entity, AuditEntry.entity_id,
                                             AuditEntry.account_id, AuditEntry.actor_kind, AuditEntry.actor).where(
                AuditEntry.id > (self._last_audit_id or 0)).order_by(AuditEntry.id)).all()
            touched: set[str] = set()
            accounts: set[int] = set()
            for entry_id, entity, entity_id, account_id, actor_kind, actor in entries:
                self._last_audit_id = entry_id
                if (actor_kind, actor) == (SCHEDULER.kind, SCHEDULER.name):
                    continue  # published by whoever applied it
                if entity in ("plan", "number"):
                    touched.add(entity_id)
                elif entity == "tariff":
                    touched.add(entity_id.partition("#")[0])
                elif entity == "blacklist" and account_id is not None:
                    accounts.add(account_id)
            if accounts:
                touched.update(session.scalars(select(SmartNumber.e164).where(SmartNumber.account_id.in_(accounts))))
            # a tariff version whose validity began since the last look changes the price announcement
            touched.update(session.scalars(select(SmartNumber.e164).join(Tariff).join(TariffVersion).where(
                TariffVersion.valid_from > self._last_look, TariffVersion.valid_from <= now)))
            self._last_look = now
        due = [change_id for change_id, at in pending if at <= now]
        dated = [(change_id, at) for change_id, at in pending if at > now]
        return due, dated, sorted(touched)
