"""The mail delivery ``serve`` runs: it sends what the outbox holds, one mail at a time, and
records each answer in its own short transaction (the rules are ``notify.outbox``'s).

It looks for due mails every few seconds: mails are written by other processes too (the
command line, the scheduler's jobs), which cannot wake it. Stopping lets the mail in hand
finish, so a stop of ``serve`` does not make the one case of a mail sent twice.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import async_sessionmaker

from notify import outbox
from notify.relay import MailRefused, MailRelay, RelayUnavailable
from smartnumbers.db import utcnow
from smartnumbers.models import MailStatus

log = logging.getLogger(__name__)

POLL_S = 5.0
BATCH = 200


@dataclass(frozen=True)
class Attempt:
    """What became of one mail this time."""

    mail_id: int
    status: MailStatus
    reason: str | None = None
    relay_down: bool = False


class MailDelivery:
    """``clock`` says when "now" is (tests move it past a pause or a claim)."""

    def __init__(self, relay: MailRelay, sessions: async_sessionmaker, sender: str, *,
                 clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.relay = relay
        self.sessions = sessions
        self.sender = sender
        self.clock = clock
        self._stopping = asyncio.Event()

    async def run(self) -> None:
        """Send what is due until ``stop``; a failure of the database is logged and retried."""
        while not self._stopping.is_set():
            try:
                await self.send_due()
            except Exception:
                log.exception("mail delivery: round failed; trying again in %s s", POLL_S)
            await self.relay.quit()
            try:
                await asyncio.wait_for(self._stopping.wait(), POLL_S)
            except TimeoutError:
                pass

    def stop(self) -> None:
        self._stopping.set()

    async def send_due(self) -> list[Attempt]:
        """One round: every mail due now, oldest first, until the relay is unavailable."""
        async with self.sessions() as session:
            ids = await session.run_sync(outbox.due, self.clock(), limit=BATCH)
        attempts = []
        for mail_id in ids:
            if self._stopping.is_set():
                break
            attempt = await self.send(mail_id)
            if attempt is None:
                continue
            attempts.append(attempt)
            if attempt.relay_down:
                break  # the relay is down or refuses us: the others wait for the next round
        return attempts

    async def send(self, mail_id: int) -> Attempt | None:
        """Claim one mail, hand it to the relay, record the answer; None if it was not due."""
        mail = await self._write(outbox.claim, mail_id, self.clock())
        if mail is None:
            return None
        if mail.claim_ran_out:
            log.warning("mail %s: the process stopped while sending it; sending it again as %s",
                        mail.id, mail.message_id)
        try:
            await self.relay.send(self.sender, mail.recipient, mail.message)
        except MailRefused as exc:
            await self._write(outbox.refused, mail, str(exc))
            log.warning("mail %s to %s refused, given up: %s", mail.id, mail.recipient, exc)
            return Attempt(mail.id, MailStatus.FAILED, str(exc))
        except RelayUnavailable as exc:
            status = await self._write(outbox.deferred, mail, self.clock(), str(exc))
            log.info("mail %s to %s not sent (%s): %s", mail.id, mail.recipient, status.value, exc)
            return Attempt(mail.id, status, str(exc), exc.relay_down)
        await self._write(outbox.delivered, mail, self.clock())
        return Attempt(mail.id, MailStatus.SENT)

    async def _write(self, step, *args):
        async with self.sessions() as session, session.begin():
            return await session.run_sync(step, *args)
