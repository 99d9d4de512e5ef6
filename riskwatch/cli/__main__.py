"""``python -m riskwatch.cli``: the ``riskwatch`` command."""

from riskwatch.cli import main

main()
