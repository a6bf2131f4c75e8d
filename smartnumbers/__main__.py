"""``python -m smartnumbers``: the same command as ``smartnumbers``."""

from smartnumbers.main import main

main()
