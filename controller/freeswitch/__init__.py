"""Everything that speaks FreeSWITCH: the Event Socket, its simulator, and the translation into neutral calls."""
