"""``python -m jobs --inbox DIR``: run riskwatch's schedule in the foreground."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from jobs.schedule import build_scheduler
from riskwatch.config import load_settings, resolve_database_url


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--inbox", type=Path, required=True, help="folder where exports are dropped")
    ap.add_argument("--config", default=None)
    ap.add_argument("--db", default=None)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    scheduler = build_scheduler(load_settings(args.config), resolve_database_url(args.db), args.inbox)
    for job in scheduler.get_jobs():
        logging.info("scheduled %s (%s): %s", job.id, job.name, job.trigger)
    scheduler.start()


if __name__ == "__main__":
    main()
