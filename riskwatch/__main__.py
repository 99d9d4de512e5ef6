"""``python -m riskwatch``: the ``riskwatch`` command."""

from riskwatch.cli import main

main()
