"""The mails a daily run writes: last month's statements and the digests due. ``serve`` runs
it every morning and once at start (to make up a run missed while it was down);
``smartnumbers mail notify`` runs it by hand. Each mail is written once whatever the runs."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.orm import Session

from notify.digests import enqueue_digests
from notify.statement_mails import enqueue_statement_mails
from smartnumbers.settings import Settings

RUN_AT = dt.time(7, 0)  # Europe/Zurich: after the night's rating, before the working day


@dataclass(frozen=True)
class Written:
    statements: int
    digests: int


def write_due_mails(session: Session, settings: Settings, now: dt.datetime) -> Written:
    return Written(enqueue_statement_mails(session, settings, now), enqueue_digests(session, settings, now))
