"""`stats` on the store: the month's figures read only the cases they can touch."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from cli_helpers import ingest

from riskwatch.store import make_engine


def test_month_stats_read_only_what_the_month_needs(tmp_path: Path, small_config: Path, small_city: Path) -> None:
    """month_stats loads the cases of the last 13 months and the older ones still open; its figures equal
    those computed on every stored case as known at the same time."""
    from riskwatch import pipeline
    from riskwatch.config import load_settings
    from riskwatch.indicators import compute_month_stats
    from riskwatch.store import make_session

    settings = load_settings(small_config)
    url = f"sqlite:///{tmp_path}/m.db"
    assert ingest(small_config, url, small_city).exit_code == 0
    engine = make_engine(url)
    with make_session(engine) as session:
        for month in ("2024-02", "2024-12", "2025-06"):
            period = pd.Period(month, "M")
            as_of = period.end_time.floor("s")
            got = pipeline.month_stats(session, settings, period, as_of)
            everything = pipeline.cases_with_due(session, settings, as_of=as_of)
            want = compute_month_stats(everything, period, as_of)
            assert got.total > 0
            for name in got.__dataclass_fields__:
                a, b = getattr(got, name), getattr(want, name)
                if isinstance(a, pd.DataFrame):
                    pd.testing.assert_frame_equal(a, b)
                else:
                    assert a == b, name
    engine.dispose()
