"""Log lines for people or for a log pipeline: ``SMARTNUMBERS_LOG_FORMAT=json`` writes one JSON
object a line, and every line written while a call is being handled carries its ``call_id``.

The call id travels in a context variable (``about_call``): asyncio copies it into every task
started under it, so the lines of a cap or a tariff switch run in their own task name the call
without each log call passing it."""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime

CALL_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("call_id", default=None)
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


@contextlib.contextmanager
def about_call(call_id: str) -> Iterator[None]:
    """Lines logged inside (and in tasks started inside) are about ``call_id``."""
    token = CALL_ID.set(call_id)
    try:
        yield
    finally:
        CALL_ID.reset(token)


class CallIdFilter(logging.Filter):
    """Puts the current call's id on the record (``None`` outside a call)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.call_id = CALL_ID.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC, ISO 8601), level, logger, message, the call's id when
    the line is about a call, and the traceback when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        call_id = getattr(record, "call_id", None)
        if call_id is not None:
            line["call_id"] = call_id
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def configure(log_format: str) -> None:
    """The root logger at INFO on stderr, as text or as JSON lines."""
    handler = logging.StreamHandler()
    handler.addFilter(CallIdFilter())
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.INFO)
