"""How the synthetic city compares with what DOMAIN.md says real complaint data looks like.

    python benchmarks/synth_realism.py DIR      # DIR written by `riskwatch synth` / `riskwatch demo`

Reads only DIR/truth/ (no database), prints the figures quoted in BENCHMARKS.md: volumes and calendar
from cases.csv; people, matters, levels, escalations and groups from cases.csv, parties.csv and
groups.csv. The escalation figures are derived from cases.csv with the definitions of
``riskwatch.synth.escalations`` (so a city written before truth/escalations.csv existed can be compared;
when the file exists its rows are checked against them). A city written before ``matter_id`` existed
has one matter per person: its person is its matter.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from riskwatch.calendar import spring_festival

LEVELS = ("district", "city", "province", "national")


def people(out: Path) -> None:
    """Repeat petitioners, matters per petitioner, the repeat share of petitions, levels."""
    parties = pd.read_csv(out / "truth" / "parties.csv", dtype=str, usecols=["person_id"])
    act = parties.groupby("person_id").size()
    print(f"people with 2+ / 5+ cases (any party, parties.csv): {(act >= 2).mean():.1%} / {(act >= 5).mean():.1%}; "
          f"most cases by one person {act.max()}  (real: about 12% / 1% / 93)")
    cases = pd.read_csv(out / "truth" / "cases.csv", dtype=str, keep_default_na=False)
    cases["level"] = cases["level"].astype(int)
    cases["visit_no"] = cases["visit_no"].astype(int)
    if "matter_id" not in cases:
        cases["matter_id"] = cases["person_id"]
    solo = cases[cases["group_id"] == ""]
    per = solo.groupby("person_id").agg(cases=("source_id", "size"), matters=("matter_id", "nunique"))
    rep = per[per["cases"] >= 2]
    dist = rep["matters"].clip(upper=3).value_counts(normalize=True).sort_index()
    print(f"solo petitioners (first-named): {len(per)}; repeat petitioners (2+ cases): {len(rep)} "
          f"({len(rep) / len(per):.1%}); their matters 1 / 2 / 3+: "
          + " / ".join(f"{dist.get(k, 0):.1%}" for k in (1, 2, 3)))
    pet = cases[cases["source"] == "petition_register"]
    print(f"repeat share of petitions (a case after an earlier case of its matter; 重复信访占比): "
          f"{(pet['visit_no'] > 0).mean():.1%}  (seed 004: 15.8%, a year earlier 19.7%)")
    for name, part in (("solo petitions", pet[pet["group_id"] == ""]), ("group cases", pet[pet["group_id"] != ""])):
        d = part["level"].value_counts(normalize=True).reindex(range(4), fill_value=0)
        print(f"level of {name} ({len(part)}): " + ", ".join(f"{LEVELS[i]} {d[i]:.1%}" for i in range(4)))


def escalations(out: Path) -> None:
    """Escalations (province / national petitions, group cases at the city or above): how many, how
    many no record foreshadowed a week ahead, how many the issue's baseline rule would have flagged."""
    c = pd.read_csv(out / "truth" / "cases.csv", dtype=str, keep_default_na=False)
    c["level"] = c["level"].astype(int)
    c["t"] = pd.to_datetime(c["received_at"])
    c["subject"] = c["group_id"].where(c["group_id"] != "", c["person_id"])
    c["is_group"] = c["group_id"] != ""
    c = c.sort_values(["subject", "t", "source", "source_id"], kind="stable").reset_index(drop=True)
    by = c.groupby("subject", sort=False)
    prev = by["level"].cummax().groupby(c["subject"], sort=False).shift(1)
    c["esc"] = (c["level"] >= 2) | (c["is_group"] & (c["level"] >= 1))
    c["up"] = c["level"] > prev.fillna(0)
    week = pd.Timedelta(days=7)
    # per escalation, what the subject's earlier cases showed a week ahead
    ev = c[c["esc"]]
    earlier = ev[["subject", "t", "source_id"]].merge(c[["subject", "t", "level"]], on="subject",
                                                      suffixes=("", "_e"))
    earlier = earlier[earlier["t_e"] <= earlier["t"] - week]
    seen = earlier.groupby("source_id").size()
    recent = earlier[earlier["t_e"] > earlier["t"] - week - pd.Timedelta(days=90)].groupby("source_id").size()
    city_before = earlier[earlier["level"] >= 1].groupby("source_id").size()
    prov_before = earlier[earlier["level"] >= 2].groupby("source_id").size()
    sid = ev["source_id"]
    fore = sid.isin(seen.index)
    yellow = sid.map(recent).fillna(0).ge(3) | sid.isin(city_before.index)
    n = len(ev)
    print(f"escalations: {n} ({int((~ev['is_group']).sum())} persons at province / national, "
          f"{int(ev['is_group'].sum())} group cases at city+); level rises of a subject: {int(c['up'].sum())}")
    print(f"  with no earlier case of the subject a week ahead (unforeshadowed): {(~fore).mean():.1%}; "
          f"with no earlier case at all: {(by.cumcount()[ev.index] == 0).mean():.1%}")
    print(f"  the issue's baseline rule a week ahead (3+ cases in 90 days or an earlier city visit: yellow; "
          f"an earlier province visit: red): yellow or red {yellow.mean():.1%}, red {sid.isin(prov_before.index).mean():.1%}")
    path = out / "truth" / "escalations.csv"
    if path.exists():
        t = pd.read_csv(path, dtype=str, keep_default_na=False)
        same = len(t) == int((c["esc"] | c["up"]).sum()) and int((t["city_escalation"] == "True").sum()) == n
        print(f"  truth/escalations.csv: {len(t)} rows, {'consistent with' if same else 'DIFFERS from'} cases.csv; "
              f"foreshadowed False among city escalations: "
              f"{(t.loc[t['city_escalation'] == 'True', 'foreshadowed'] == 'False').mean():.1%}")


def groups(out: Path) -> None:
    g = pd.read_csv(out / "truth" / "groups.csv", dtype=str, keep_default_na=False)
    towns = g["townships"].str.split(";").str.len()
    line = (f"groups: {len(g)}; townships per group 1 / 2+: {(towns == 1).sum()} / {(towns >= 2).sum()}; "
            f"members median {g['members'].astype(int).median():.0f} (max {g['members'].astype(int).max()})")
    if "founders" in g:
        line += (f", founders median {g['founders'].astype(int).median():.0f}; events median "
                 f"{g['events'].astype(int).median():.0f}")
    print(line + "; max level " + ", ".join(f"{k} {v}" for k, v in g["max_level"].value_counts().items()))


def main(out: Path) -> None:
    cases = pd.read_csv(out / "truth" / "cases.csv", dtype=str, usecols=["source", "channel", "received_at",
                                                                           "category_code"])
    cases["received_at"] = pd.to_datetime(cases["received_at"])
    t = cases.set_index("received_at")
    weekly = t.resample("W-SUN").size().iloc[1:-1]
    resid = (weekly - weekly.rolling(13, center=True).mean()).dropna()
    print(f"cases {len(cases)}; weekly city total: mean {weekly.mean():.0f}, "
          f"variance around a 13-week trend / mean = {resid.var() / weekly.mean():.1f}  (real: 10-40)")
    kind = cases["source"].where(cases["source"] != "petition_register", "petition office")
    for name, g in cases.groupby(kind):
        day = g["received_at"].dt.day_of_week
        ratio = ((day >= 5).sum() / 2) / ((day < 5).sum() / 5)
        print(f"weekend/weekday daily volume, {name}: {ratio:.2f}  (real: 0.05 offices .. 0.4 hotline)")
    monthly = t.resample("MS").size().iloc[1:-1]
    by_month = monthly.groupby(monthly.index.month).mean()
    print(f"busiest / quietest calendar month: {by_month.max() / by_month.min():.2f}  (real: 1.7-2.5)")
    last_year = cases[cases["received_at"] > cases["received_at"].max() - pd.Timedelta(days=365)]
    per_week = last_year.groupby("category_code").size() / 52
    print(f"categories averaging >= 5 a week in the last year: {(per_week >= 5).sum()} of {len(per_week)}")
    daily = t.resample("D").size()
    wages = t[t["category_code"] == "0101"].resample("D").size()
    for year in sorted(set(daily.index.year))[1:]:
        sf = pd.Timestamp(spring_festival(year))
        if sf > daily.index.max():
            continue
        fest = daily[sf - pd.Timedelta(days=1): sf + pd.Timedelta(days=6)].mean()
        before = daily[sf - pd.Timedelta(days=56): sf - pd.Timedelta(days=29)].mean()
        surge = wages[sf - pd.Timedelta(days=28): sf - pd.Timedelta(days=2)].mean()
        base = wages[sf - pd.Timedelta(days=84): sf - pd.Timedelta(days=57)].mean()
        print(f"Spring Festival {sf:%Y-%m-%d}: festival week / weeks 5-8 before = {fest / before:.2f}; "
              f"欠薪 4 weeks before / weeks 9-12 before = {surge / base:.2f}")
    people(out)
    escalations(out)
    groups(out)


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "var/demo"))
