"""The FreeSWITCH simulator with the mid-call commands and the code event live control uses,
as measured on the real switch (FACTS 4): ``uuid_broadcast``, ``sched_hangup``/``sched_del``,
and the CUSTOM ``smart::code`` event a B-leg's ``bind_digit_action`` raises, which carries
every header of the B-leg's channel plus ``variable_last_matching_digits``.
The simulator itself answers neither yet; this extension stays in the tests until it does."""

from __future__ import annotations

from controller.freeswitch.simulator import FreeSwitchSimulator, _Built


class ControlledSwitch(FreeSwitchSimulator):
    def __init__(self, **kwargs) -> None:
        super().__init__(heartbeat_interval=0, **kwargs)
        self.broadcasts: list[tuple[str, str, str]] = []  # (leg, what, which side)
        self.scheduled: dict[str, tuple[int, str]] = {}  # group (A-leg) -> (epoch, cause)

    def place_smart_call(self, number: str, account_id: int, *, caller: str = "41791234567") -> str:
        """A bridged call to a smart number, held once talking; the dialplan's variables
        (``smart_number``, ``smart_account``, ``smart_tariff_code``) on the caller's leg."""
        a_leg = self.place_call("bridged", caller=caller, hold=True)
        call, _ = self._legs[a_leg]
        call.variables[0] = {"smart_number": number, "smart_account": str(account_id), "smart_tariff_code": "1"}
        return a_leg

    def agent_leg(self, a_leg: str) -> str:
        call = self._calls[a_leg]
        return call.legs[self._bridged_pair(call)]

    def variable(self, leg: str, name: str) -> str | None:
        call, slot = self._legs[leg]
        return call.variables.get(slot, {}).get(name)

    def press_code(self, a_leg: str, digits: str) -> None:
        """The agent's ``*NN`` matched by bind_digit_action on the B-leg (FACTS 4b, 7409)."""
        call = self._calls[a_leg]
        slot = self._bridged_pair(call)
        pairs = self._leg_pairs(call, slot, "CUSTOM")
        at = next(i for i, (k, _) in enumerate(pairs) if k == "Event-Name") + 1
        pairs[at:at] = [("Event-Subclass", "smart::code")]
        pairs += [("smart_kind", "tariff_code"), ("variable_last_matching_digits", digits)]
        self._emit(_Built("CUSTOM", "smart::code", pairs, None))

    def fire_scheduled(self, a_leg: str) -> tuple[int, str]:
        """The switch's clock reached the scheduled hangup: the call ends."""
        moment = self.scheduled.pop(a_leg)
        self.hang_up(a_leg)
        return moment

    def _api(self, text: str) -> str:
        command, _, args = text.strip().partition(" ")
        parts = args.split(" ")
        if command == "uuid_broadcast":
            if len(parts) != 3 or parts[0] not in self._legs:
                return "-ERR invalid uuid\n"
            self.broadcasts.append((parts[0], parts[1], parts[2]))
            return "+OK Message sent\n"
        if command == "sched_hangup":
            if len(parts) != 3 or not parts[0].isdigit():
                return "-USAGE: [+]<time> <uuid> [<cause>]\n"
            if parts[1] not in self._legs:
                return "-ERR No such channel!\n"
            self.scheduled[parts[1]] = (int(parts[0]), parts[2])
            return "+OK\n"
        if command == "sched_del":
            deleted = 1 if self.scheduled.pop(parts[0], None) else 0
            return f"+OK Deleted: {deleted}\n"
        return super()._api(text)
