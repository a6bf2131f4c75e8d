"""The one error type for bad input: its message is shown to the person as it is."""


class InputError(ValueError):
    """Input that breaks a rule; ``rule`` names the rule where one applies (a cap, the fraud rule)."""

    def __init__(self, message: str, *, rule: str | None = None):
        super().__init__(message)
        self.rule = rule
