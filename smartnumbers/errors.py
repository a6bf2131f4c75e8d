"""The domain's errors: each says what went wrong, never how a transport answers it (the API's
table in ``sync/problems.py`` gives the HTTP status; the CLI prints the message)."""

from __future__ import annotations


class InputError(ValueError):
    """Input that breaks a rule; ``rule`` names the rule where one applies (a cap, the fraud rule),
    ``field`` the part of a document at fault (a JSON pointer: ``/slots/1/destinations/0``)."""

    def __init__(self, message: str, *, rule: str | None = None, field: str | None = None):
        super().__init__(message)
        self.rule = rule
        self.field = field

    def at(self, field: str) -> InputError:
        """The error, placed at ``field`` unless a deeper part already placed it."""
        if self.field is None:
            self.field = field
        return self


class NotFound(LookupError):
    """No such thing for this account: one that does not exist and one of another account's are
    the same answer, so nobody learns what others have."""


class NotPermitted(PermissionError):
    """The actor's role does not allow the operation."""


class Stale(ValueError):
    """A change made against a version of a thing that is no longer the current one (someone
    else changed it in between)."""
