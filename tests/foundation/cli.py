"""Running the real ``smartnumbers`` command line in-process, as NOC staff would."""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import func, select

from smartnumbers.db import Base, make_engine
from smartnumbers.main import run


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self):
        return json.loads(self.out)


def invoke(capsys, *argv: str, stdin: str | None = None, monkeypatch=None) -> Result:
    capsys.readouterr()
    if stdin is not None:
        import io

        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = run(list(argv))
    captured = capsys.readouterr()
    return Result(code, captured.out, captured.err)


def row_counts(url: str) -> dict[str, int]:
    """How many rows each table holds: proof that a refused command wrote nothing."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return {t.name: conn.scalar(select(func.count()).select_from(t)) for t in Base.metadata.sorted_tables}
    finally:
        engine.dispose()
