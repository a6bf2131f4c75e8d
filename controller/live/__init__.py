"""Live call control: what the controller does while a call is up.

Switch-neutral: it works on ``controller.calls`` events and on the commands of
``controller.live.control.CallControl``; ``controller/freeswitch/call_control.py`` carries the
commands to FreeSWITCH. Everything it decides that must outlive the controller (the tariff
segments, the cost-cap hangup) is written onto the switch's own channel at once.
"""
