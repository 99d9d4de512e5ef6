"""A large, fast 12345 export for the ingest benchmark (vectorized; UTF-8 CSV, flat header)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from riskwatch.config import Settings
from riskwatch.schema import RegionLevel
from riskwatch.synth import people as ppl
from riskwatch.synth.layouts import HOTLINE_12345
from riskwatch.synth.text import TEMPLATES

BULK_START = np.datetime64("2020-01-01T00:00:00")
BULK_SPAN_S = 5 * 365 * 86400


def write_hotline_bulk(settings: Settings, path: Path, n_rows: int, seed: int) -> None:
    """Write ``n_rows`` 12345 work orders (layout 0 of ``layouts.HOTLINE_12345``) to ``path`` as UTF-8 CSV.

    Values are drawn from small pools (names, phones, contents) so that the file is realistic in shape and
    width but cheap to make: about 10 s for 1,000,000 rows.
    """
    rng = np.random.default_rng(seed)
    reg = settings.regions
    grids = sorted(r.code for r in reg.at_level(RegionLevel.GRID))
    name = {c: r.name for c, r in reg.regions.items()}
    g_d = np.array([name[reg.ancestor_at(g, RegionLevel.DISTRICT)] for g in grids], dtype=object)
    g_t = np.array([name[reg.ancestor_at(g, RegionLevel.TOWNSHIP)] for g in grids], dtype=object)
    g_c = np.array([name[reg.ancestor_at(g, RegionLevel.COMMUNITY)] for g in grids], dtype=object)
    g_n = np.array([name[g] for g in grids], dtype=object)
    leaves = [c for c in settings.taxonomy.leaves() if c.code != "99"]
    l1 = np.array([settings.taxonomy.categories[c.parent].name if c.parent else c.name for c in leaves], dtype=object)
    l2 = np.array([c.name for c in leaves], dtype=object)
    summ = np.array([TEMPLATES.get(c.code, ("反映" + c.name + "问题", ("",)))[0].replace("{site}", "小区")
                     .replace("{company}", "某公司").replace("{road}", "道路").replace("{shop}", "商户") for c in leaves],
                    dtype=object)
    n = n_rows
    gi = rng.integers(0, len(grids), n)
    ci = rng.integers(0, len(leaves), n)
    rec = BULK_START + np.sort(rng.integers(0, BULK_SPAN_S, n)).astype("timedelta64[s]")
    reg_t = rec + rng.integers(120, 7200, n).astype("timedelta64[s]")
    due = rec + np.timedelta64(3 * 86400, "s")
    closed = rec + rng.integers(3600, 6 * 86400, n).astype("timedelta64[s]")
    open_ = rng.random(n) < 0.03

    def fmt(a: np.ndarray) -> np.ndarray:
        return np.char.replace(np.datetime_as_string(a, unit="s"), "T", " ").astype(object)

    pool = 5000
    names, _ = ppl.make_names(rng, pool)
    phones = ppl.make_mobiles(rng, pool)
    pi = rng.integers(0, pool, n)
    day = np.datetime_as_string(rec, unit="D")
    ids = np.char.add(np.char.replace(day, "-", ""), np.char.zfill(np.arange(n).astype(str), 7)).astype(object)
    content = (g_d[gi] + g_t[gi] + g_c[gi] + "居民反映" + l2[ci] + "问题，请求尽快处理。").astype(object)
    closed_s = fmt(closed)
    closed_s[open_] = ""
    values = {
        "source_id": ids, "channel": np.where(rng.random(n) < 0.8, "电话", "微信"),
        "received_at": fmt(rec), "registered_at": fmt(reg_t), "due_at": fmt(due), "closed_at": closed_s,
        "updated_at": np.where(open_, fmt(reg_t), closed_s), "category_l1": l1[ci], "category_l2": l2[ci],
        "district": g_d[gi], "township": g_t[gi], "community": g_c[gi], "grid": g_n[gi],
        "region_code": np.array(grids, dtype=object)[gi], "urgency": "一般", "name": names[pi], "id_number": "",
        "phone": phones[pi], "address": "", "account": "", "summary": summ[ci], "content": content,
        "handling_unit": g_d[gi] + "城管局", "status": np.where(open_, "办理中", "已办结"),
        "resolved": np.where(open_, "", "是"), "satisfaction": np.where(open_, "", "满意"),
        "returned_count": "0",
    }
    layout = HOTLINE_12345[0]
    frame = pd.DataFrame({h: values[f] for f, _, h in layout})
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False, encoding="utf-8", lineterminator="\n")
