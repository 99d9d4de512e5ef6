"""How parties are written down on each case: typos, spoiled IDs, phone formats, anonymous callers."""

from __future__ import annotations

import numpy as np
import pandas as pd

from riskwatch.synth import people as ppl

ANONYMOUS_SHARE = 0.06
NAME_TYPO_SHARE = 0.03
ID_PRESENT = {"hotline_12345": 0.25, "hotline_12328": 0.0, "来信": 0.75, "来访": 0.97, "来电": 0.7,
              "网上信访": 0.95}


def written_parties(rng: np.random.Generator, cases: pd.DataFrame, parties: pd.DataFrame,
                    persons: pd.DataFrame, city_name: str) -> pd.DataFrame:
    """One row per party record: what the clerk wrote and how it differs from the truth.

    Returns columns ``case, seq, person, name, id_number, phone, address, account, id_spoil, name_typo,
    anonymous``.
    """
    case = parties["case"].to_numpy()
    person = parties["person"].to_numpy()
    seq = parties["seq"].to_numpy()
    n = len(parties)
    src = cases["source"].to_numpy()[case]
    ch = cases["channel"].to_numpy()[case]
    names = persons["name"].to_numpy()[person].copy()
    male = persons["male"].to_numpy()[person]
    hot = src != "petition_register"
    anon = hot & (seq == 0) & (rng.random(n) < ANONYMOUS_SHARE)
    u = rng.random(n)
    typo = ~anon & (rng.random(n) < NAME_TYPO_SHARE)
    for i in np.flatnonzero(typo):
        new = ppl.homophone_typo(names[i], float(u[i]))
        typo[i] = new != names[i]
        names[i] = new
    names[anon] = np.array([nm[0] + ("先生" if m else "女士") for nm, m in zip(names[anon], male[anon], strict=True)],
                           dtype=object)
    # ID numbers
    p_id = np.array([ID_PRESENT.get(s, ID_PRESENT.get(c, 0.9)) if s != "petition_register" else ID_PRESENT.get(c, 0.9)
                     for s, c in zip(src, ch, strict=True)])
    p_id = np.where(seq > 0, 0.8, p_id)
    has_id = ~anon & (rng.random(n) < p_id)
    ids = np.where(has_id, persons["id_number"].to_numpy()[person], "").astype(object)
    spoil = np.full(n, "", dtype=object)
    v = rng.random(n)
    spoil[has_id & (v < 0.015)] = "wrong_check"
    spoil[has_id & (v >= 0.015) & (v < 0.03)] = "old15"
    spoil[has_id & (v >= 0.03) & (v < 0.037)] = "fullwidth"
    spoil[has_id & (v >= 0.037) & (v < 0.047)] = "spaces"
    ends_x = np.array([s.endswith("X") for s in ids])
    spoil[has_id & (spoil == "") & ends_x & (rng.random(n) < 0.4)] = "lower_x"
    for i in np.flatnonzero(spoil != ""):
        ids[i] = ppl.spoil_id(ids[i], spoil[i], float(u[i]))
    spoil[~has_id] = "missing"
    # phones
    phones = persons["phone"].to_numpy()[person]
    w = rng.random(n)
    missing_phone = rng.random(n) < np.where(ch == "来信", 0.10, 0.02)
    out_phone = np.array([ppl.format_phone(p, float(x)) for p, x in zip(phones, w, strict=True)], dtype=object)
    out_phone[missing_phone] = ""
    # addresses
    addr = persons["address"].to_numpy()[person].copy()
    with_city = rng.random(n) < 0.3
    addr[with_city] = city_name + addr[with_city]
    addr[hot & (rng.random(n) < 0.4)] = ""
    # accounts: web petitions and hotline app/web users
    acc = np.where((seq == 0) & np.isin(ch, ["网上信访", "微信", "APP", "网站"]),
                   persons["account_id"].to_numpy()[person] if "account_id" in persons else "", "").astype(object)
    return pd.DataFrame({"case": case, "seq": seq, "person": person, "name": names, "id_number": ids,
                         "phone": out_phone, "address": addr, "account": acc, "id_spoil": spoil,
                         "name_typo": typo, "anonymous": anon})
