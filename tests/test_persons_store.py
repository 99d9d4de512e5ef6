"""The persons tables of the store: matters are written where they differ, on both backends."""

from __future__ import annotations

import pandas as pd

from riskwatch.persons.repeats import REPEAT_COLUMNS
from riskwatch.store import make_engine, make_session, upgrade_database
from riskwatch.store.persons import load_matters, save_matters


def _matters(rows: list[tuple[object, ...]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(REPEAT_COLUMNS))


def _ids(session: object) -> dict[str, int]:
    stored = pd.read_sql_table("case_matters", session.connection())  # type: ignore[attr-defined]
    return dict(zip(stored["source"] + ":" + stored["source_id"], stored["id"], strict=True))


def test_save_matters_writes_only_the_rows_that_differ(db_url: str) -> None:
    upgrade_database(db_url)
    engine = make_engine(db_url)
    first = _matters([("p", "1", "m1", None, None, False, None),
                      ("p", "2", "m1", "p", "1", True, 0.75),
                      ("h", "1", "m3", None, None, False, None),
                      ("h", "2", "m4", None, None, False, float("nan"))])
    then = _matters([("p", "1", "m1", None, None, False, None),              # the same
                     ("p", "2", "m2", None, None, False, None),              # changed
                     ("h", "2", "m4", None, None, False, None),              # the same (NaN is missing)
                     ("h", "9", "m4", "h", "2", True, 0.5)])                  # new; h:1 is gone
    try:
        with make_session(engine) as session:
            save_matters(session, first)
            before = _ids(session)
            save_matters(session, then)
            got, after = load_matters(session), _ids(session)
            save_matters(session, then)
            again = _ids(session)
            session.commit()
    finally:
        engine.dispose()
    want = then.sort_values(["source", "source_id"], ignore_index=True)
    pd.testing.assert_frame_equal(got.astype(object).where(got.notna(), None).astype(str),
                                  want.astype(object).where(want.notna(), None).astype(str))
    assert set(after) == {"p:1", "p:2", "h:2", "h:9"}
    assert after["p:1"] == before["p:1"] and after["h:2"] == before["h:2"]     # not rewritten
    assert after["p:2"] != before["p:2"]
    assert again == after                                                      # nothing to write
