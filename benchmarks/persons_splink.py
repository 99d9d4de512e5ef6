"""Splink on the demo city's parties: the reference that issue 5's identity resolution must beat.

    pip install -e '.[bench]'                       # splink>=4.0 (DuckDB backend)
    riskwatch demo                                  # once: var/riskwatch.db and var/demo/truth/
    python benchmarks/persons_splink.py [--sample N] [--threshold 0.9] [--db URL] [--truth DIR]

What it measures: how well Splink (Fellegi–Sunter with EM, the open-source standard for probabilistic
record linkage), set up the way its documentation recommends, resolves the same records as
``benchmarks/persons.py`` into persons. The store is only read.

Records: every stored party (``store.load_parties``) with its case's ``received_at`` and district (first
6 digits of the case's ``region_code``), joined to the synthetic truth (``truth/parties.csv`` on source,
source_id, seq) for its true ``person_id``. A short profile of the data is printed first.

What Splink is given (the cleaning its docs ask for, nothing that needs the truth):

- ``name``: NFKC, whitespace removed; anonymous or surname-only forms (王先生, 李女士, 匿名, a lone
  surname) become null, i.e. no evidence either way, as in ``riskwatch.persons.comparison``.
- ``name_pinyin``: toneless pinyin of the name (pypinyin), the phonetic key Splink's docs suggest
  deriving (they use double metaphone for English): homophone typos (魏梅 / 魏媚) and traditional /
  simplified forms agree on it.
- ``id_number`` (normalized by ingest, invalid check digits kept), ``phone`` (normalized by ingest),
  ``address`` (NFKC, whitespace and a leading city name removed), ``district``.

Model (``settings()``): comparisons name (null / exact, term-frequency adjusted / same pinyin / else),
ID number (exact / Damerau–Levenshtein 1 / else), phone (exact, TF-adjusted / else), address (exact,
TF-adjusted / Jaro–Winkler >= 0.9 / >= 0.8 / else), district (exact / else); levels that training
cannot observe are left out (see ``settings``). ``received_at`` is loaded but not compared: a person's
identity does not change with time. Blocking for predictions: the ID body (first 17 characters), phone,
name + district, pinyin + district, address. Training (``train()``): the match prior from deterministic
rules (same ID; same name and phone) with an assumed recall of 0.7; ``u`` by random sampling (2e7
pairs); ``m`` by EM on two blocking rules (name + district; ID body), each rule's own fields held fixed.
A third session blocked on phone, the obvious choice, is left out by default (see ``train``; ``--em``
puts it back): households sharing a phone and an address mislead EM.
Prediction keeps pairs above the lowest threshold of the sweep; clusters are connected components at
``--threshold`` (0.9 by default) and at each threshold of the sweep.

Scores: ``riskwatch.persons.metrics.cluster_scores`` against the true persons (pairwise and B-cubed
precision / recall / F1); wall time of each stage and peak resident memory of the process (DuckDB runs in
it). ``--sample N`` keeps every record of N persons drawn deterministically from the truth. The last
lines are a markdown table for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import logging
import re
import resource
import sys
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from riskwatch.config import load_settings, resolve_database_url
from riskwatch.persons.metrics import ClusterScores, cluster_scores
from riskwatch.store import load_cases, load_parties, make_engine, make_session

try:
    import splink
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on
except ImportError:  # pragma: no cover - an optional extra
    sys.exit("splink is not installed: pip install -e '.[bench]'")

SWEEP = (0.5, 0.9, 0.99)
ASSUMED_RECALL = 0.7        # recall guessed for the deterministic rules that estimate the match prior
U_MAX_PAIRS = 2e7           # random pairs that estimate u
SEED = 17
# 王先生, 李女士, 张师傅, 匿名, 匿名用户, or a lone surname (one character)
ANONYMOUS = re.compile(r"^(?:.{1,2}(?:先生|女士|小姐|师傅|阿姨|大爷|大妈|老师|同志)|匿名.*|无名.*|.)$")
WHITESPACE = re.compile(r"\s+")


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass
class Stages:
    """Wall time and peak memory after each stage."""

    rows: list[tuple[str, float, float]] = field(default_factory=list)
    _t: float = field(default_factory=time.perf_counter)

    def done(self, name: str) -> float:
        now = time.perf_counter()
        self.rows.append((name, now - self._t, peak_mib()))
        self._t = now
        return self.rows[-1][1]

    def total(self, names: tuple[str, ...] | None = None) -> float:
        return sum(t for n, t, _ in self.rows if names is None or n in names)


# --- data ------------------------------------------------------------------------------------

def load_records(db: str | None, truth: Path) -> tuple[pd.DataFrame, int]:
    """Every stored party with its case's received_at and district and its true person_id; the number
    of parties without a truth row (left out)."""
    engine = make_engine(resolve_database_url(db))
    with make_session(engine) as session:
        parties = load_parties(session)
        cases = load_cases(session, columns=["source", "source_id", "received_at", "region_code"])
    engine.dispose()
    cases = cases.rename(columns={"region_code": "case_region"})
    rec = parties.merge(cases, on=["source", "source_id"], how="left")
    region = rec["case_region"].astype("string")
    rec["district"] = region.str[:6].where(region.str.len() >= 6)
    true = pd.read_csv(truth / "parties.csv", dtype=str, keep_default_na=False, na_values=[""])
    true["seq"] = true["seq"].astype(np.int64)
    rec = rec.merge(true, on=["source", "source_id", "seq"], how="left", validate="one_to_one")
    missing = int(rec["person_id"].isna().sum())
    rec = rec.dropna(subset=["person_id"]).reset_index(drop=True)
    return rec, missing


def sample_persons(rec: pd.DataFrame, n: int, seed: int = SEED) -> pd.DataFrame:
    """Every record of ``n`` true persons drawn with a fixed seed from the sorted person ids."""
    persons = np.sort(rec["person_id"].unique())
    if n >= len(persons):
        return rec
    keep = np.random.default_rng(seed).choice(persons, size=n, replace=False)
    return rec.loc[rec["person_id"].isin(set(keep))].reset_index(drop=True)


def _is_gb2312(s: str) -> bool:
    try:
        s.encode("gb2312")
        return True
    except UnicodeEncodeError:
        return False


def profile(rec: pd.DataFrame) -> None:
    """A short look at the records: coverage of each field and the known difficulties."""
    n = len(rec)
    per_person = rec["person_id"].value_counts()
    names = rec["name"].astype("string")
    anonymous = names.fillna("").map(lambda s: bool(ANONYMOUS.match(s)))
    print(f"## Data profile\n\n{n} records (parties), {len(per_person)} true persons; records per person: "
          f"{(per_person == 1).mean():.1%} single, mean {per_person.mean():.2f}, max {per_person.max()}; "
          f"{int((per_person * (per_person - 1) // 2).sum())} true pairs")
    for col in ("name", "id_number", "phone", "address", "district"):
        print(f"- {col}: {rec[col].notna().mean():.1%} present, {rec[col].nunique()} distinct")
    ids = rec["id_number"].notna()
    print(f"- ID numbers with a valid check digit and birth date: {rec.loc[ids, 'id_valid'].mean():.1%} of "
          "those present")
    print(f"- anonymous / surname-only names (王先生 style): {int(anonymous.sum())} "
          f"({anonymous.mean():.1%}); most frequent: "
          + ", ".join(f"{k} {v}" for k, v in names[anonymous].value_counts().head(5).items()))
    spaced = int(names.str.contains(WHITESPACE, regex=True).fillna(False).sum())
    print(f"- names with whitespace: {spaced}; "
          "names outside GB2312 (traditional or rare characters): "
          f"{int((~names.dropna().map(_is_gb2312)).sum())}")
    by_name = rec.loc[~anonymous].groupby("name")["person_id"].nunique().sort_values(ascending=False)
    print("- common names (distinct true persons): "
          + ", ".join(f"{k} {v}" for k, v in by_name.head(5).items())
          + f"; {int((by_name > 1).sum())} names are shared by several persons")
    phones = rec.dropna(subset=["phone"]).groupby("phone")["person_id"].nunique()
    print(f"- phones shared by several true persons (families): {int((phones > 1).sum())} "
          f"(up to {int(phones.max()) if len(phones) else 0} persons)")
    idp = rec.dropna(subset=["id_number"]).groupby("id_number")["person_id"].nunique()
    print(f"- ID numbers shared by several true persons (typos that collide): {int((idp > 1).sum())}")
    if "name_typo" in rec:
        print(f"- truth: misspelt names {int((rec['name_typo'] == 'True').sum())}; ID defects "
              + ", ".join(f"{k} {v}" for k, v in rec["id_spoil"].value_counts().items()))
    multi = rec[rec["person_id"].duplicated(keep=False)].groupby("person_id")
    print(f"- persons with several records written with more than one name: "
          f"{(multi['name'].nunique() > 1).mean():.1%}, more than one address: "
          f"{(multi['address'].nunique() > 1).mean():.1%}, more than one phone: "
          f"{(multi['phone'].nunique() > 1).mean():.1%}\n")


def _nfkc(s: pd.Series) -> pd.Series:
    s = s.astype("string")
    u = s.dropna().unique()
    cleaned = {v: WHITESPACE.sub("", unicodedata.normalize("NFKC", v)) for v in u}
    return s.map(cleaned).replace("", pd.NA)


def splink_input(rec: pd.DataFrame, city_name: str) -> pd.DataFrame:
    """The table Splink links: cleaned fields, one row per record, ``unique_id`` = row position."""
    from pypinyin import lazy_pinyin

    name = _nfkc(rec["name"])
    name = name.mask(name.fillna("").map(lambda v: bool(ANONYMOUS.match(v))) & name.notna())
    distinct = name.dropna().unique()
    pinyin = {v: " ".join(lazy_pinyin(v)) for v in distinct}
    address = _nfkc(rec["address"])
    if city_name:
        address = address.str.removeprefix(city_name).replace("", pd.NA)
    out = pd.DataFrame({
        "unique_id": np.arange(len(rec), dtype=np.int64),
        "name": name,
        "name_pinyin": name.map(pinyin),
        "id_number": _nfkc(rec["id_number"]).str.upper(),
        "phone": _nfkc(rec["phone"]),
        "address": address,
        "district": rec["district"].astype("string"),
    })
    # plain object columns with None: what every Splink backend accepts
    for c in out.columns[1:]:
        out[c] = out[c].astype(object).where(out[c].notna(), None)
    return out


# --- Splink ----------------------------------------------------------------------------------

def settings() -> SettingsCreator:
    """The Splink model: comparisons and the blocking rules that generate the scored pairs.

    Levels that no training session observes between records of one person are left out: Splink would
    score them with its default ``m`` (0.0125 for a middle level when there are five). Jaro–Winkler levels on the pinyin were tried: for two- or
    three-syllable names, JW >= 0.85 holds for 2.6% of random pairs (a shared surname: zhao jing / zhao
    qiang), EM never sees such a pair within one person, and the default ``m`` linked about 1,100 family
    members sharing a phone (赵静 / 赵强). Likewise a phone one digit off (Levenshtein 1) is unseen in
    training (no such typo in the demo data) and would get +16 bits from a default ``m``.
    """
    name = cl.CustomComparison(
        output_column_name="name",
        comparison_description="name: exact, same pinyin",
        comparison_levels=[
            cll.NullLevel("name"),
            cll.ExactMatchLevel("name", term_frequency_adjustments=True),
            cll.ExactMatchLevel("name_pinyin").configure(label_for_charts="same pinyin (homophone)"),
            cll.ElseLevel(),
        ],
    )
    id_number = cl.CustomComparison(
        output_column_name="id_number",
        comparison_levels=[
            cll.NullLevel("id_number"),
            cll.ExactMatchLevel("id_number"),
            cll.DamerauLevenshteinLevel("id_number", 1),   # a typo, a transposition, a wrong check digit
            cll.ElseLevel(),
        ],
    )
    phone = cl.ExactMatch("phone").configure(term_frequency_adjustments=True)
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=[
            name,
            id_number,
            phone,
            cl.JaroWinklerAtThresholds("address", [0.9, 0.8]).configure(term_frequency_adjustments=True),
            cl.ExactMatch("district"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("substr(id_number, 1, 17)"),
            block_on("phone"),
            block_on("name", "district"),
            block_on("name_pinyin", "district"),
            block_on("address"),
        ],
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
        max_iterations=25,
        em_convergence=1e-4,
    )


# EM training sessions by name: each estimates m of every comparison outside its blocking rule
EM_RULES: dict[str, tuple[str, ...]] = {
    "name": ("name", "district"),
    "id": ("substr(id_number, 1, 17)",),
    "phone": ("phone",),
    "address": ("address",),
}
DEFAULT_EM = ("name", "id")


def train(linker: Linker, em: tuple[str, ...] = DEFAULT_EM) -> None:
    """Match prior from deterministic rules, ``u`` by random sampling, ``m`` by EM on each rule of ``em``.

    The default leaves out the session blocked on phone: family members share a phone *and* an address
    and a district, so among phone-blocked pairs EM takes households for matches (the fields are not
    independent given the match status) and learns that a different name or ID number is common
    between records of one person; on the demo city that costs Splink 3.7 points of pairwise precision
    (0.957 instead of 0.994 at 0.9; ``--em phone,name,id``). The phone's ``m`` comes from the other two
    sessions.
    """
    t = linker.training
    t.estimate_probability_two_random_records_match(
        [block_on("id_number"), block_on("name", "phone")], recall=ASSUMED_RECALL)
    t.estimate_u_using_random_sampling(max_pairs=U_MAX_PAIRS, seed=SEED)
    for key in em:
        t.estimate_parameters_using_expectation_maximisation(block_on(*EM_RULES[key]))


def describe_model(model: dict[str, Any]) -> pd.DataFrame:
    """Per comparison level: m, u and the match weight log2(m/u)."""
    rows = []
    for comp in model["comparisons"]:
        for level in comp["comparison_levels"]:
            if level.get("is_null_level"):
                continue
            m, u = level.get("m_probability"), level.get("u_probability")
            weight = float(np.log2(m / u)) if m and u else float("nan")
            rows.append({"comparison": comp["output_column_name"], "level": level.get("label_for_charts", ""),
                         "m": m, "u": u, "weight": weight})
    return pd.DataFrame(rows)


def clusters_at(linker: Linker, predictions: Any, threshold: float, n: int) -> np.ndarray:
    """Cluster label of each record (by ``unique_id`` = row position) at ``threshold``."""
    clustered = linker.clustering.cluster_pairwise_predictions_at_threshold(
        predictions, threshold_match_probability=threshold)
    frame = clustered.as_pandas_dataframe()
    clustered.drop_table_from_database_and_remove_from_cache()
    labels = np.full(n, -1, dtype=np.int64)
    cid = pd.factorize(frame["cluster_id"])[0]
    labels[frame["unique_id"].to_numpy(dtype=np.int64)] = cid
    missing = labels < 0                               # not expected: every node is in the output
    labels[missing] = cid.max(initial=-1) + 1 + np.arange(int(missing.sum()))
    return labels


def score_row(label: str, threshold: float, s: ClusterScores, n: int, clusters: int, persons: int,
              seconds: float, mib: float) -> str:
    return (f"| {label} | {threshold:g} | {n} | {clusters} | {persons} | {s.pair_precision:.4f} | "
            f"{s.pair_recall:.4f} | {s.pair_f1:.4f} | {s.bcubed_precision:.4f} | {s.bcubed_recall:.4f} | "
            f"{s.bcubed_f1:.4f} | {seconds:.0f} | {mib:.0f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--db", default=None, help="database URL (default: RISKWATCH_DATABASE_URL or var/)")
    ap.add_argument("--truth", default="var/demo/truth", help="directory with parties.csv and persons.csv")
    ap.add_argument("--config", default=None, help="configuration directory (for the city name)")
    ap.add_argument("--sample", type=int, default=0, help="keep every record of this many true persons")
    ap.add_argument("--threshold", type=float, default=0.9, help="match probability that makes a link")
    ap.add_argument("--em", default=",".join(DEFAULT_EM),
                    help=f"EM sessions, comma-separated, from {', '.join(EM_RULES)} (blocking rule of each)")
    ap.add_argument("--verbose", action="store_true", help="Splink's own log messages (info level)")
    args = ap.parse_args()
    em = tuple(k.strip() for k in args.em.split(",") if k.strip())
    if not em or any(k not in EM_RULES for k in em):
        ap.error(f"--em: choose among {', '.join(EM_RULES)}")
    logging.basicConfig(level=logging.WARNING, format="%(message)s")

    stages = Stages()
    rec, missing = load_records(args.db, Path(args.truth))
    persons_csv = Path(args.truth) / "persons.csv"
    if persons_csv.is_file():
        n_persons_all = sum(1 for _ in persons_csv.open(encoding="utf-8")) - 1
        print(f"truth: {n_persons_all} persons in persons.csv")
    print(f"{missing} stored parties have no truth row (left out)")
    if args.sample:
        rec = sample_persons(rec, args.sample)
    stages.done("load")
    profile(rec)

    data = splink_input(rec, load_settings(args.config).city_name)
    stages.done("prepare")
    db_api = DuckDBAPI()
    table = db_api.register(data, table_name="parties")
    linker = Linker(table, settings(), log_level=logging.INFO if args.verbose else logging.ERROR)
    blocking = linker.blocking_analysis.count_comparisons_from_blocking_rules(record_sample_proportion=1.0)
    stages.done("blocking analysis")
    print("## Blocking rules for predictions\n\n| rule | new pairs | cumulative |\n|---|---|---|")
    for b in blocking:
        print(f"| `{b['blocking_rule']}` | {b['marginal_comparison_count']} | {b['cumulative_comparison_count']} |")
    print()
    train(linker, em)
    stages.done("train")
    model = linker.misc.save_model_to_json()
    print(f"## Splink {splink.__version__} model\n\nprobability two random records match: "
          f"{model['probability_two_random_records_match']:.3g}")
    print(describe_model(model).to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    print("(weight = log2(m/u); NaN: the level was not observed in training and keeps Splink's default)")

    lowest = min((*SWEEP, args.threshold))
    predictions = linker.inference.predict(threshold_match_probability=lowest)
    n_pairs = int(linker.misc.query_sql(f"select count(*) as n from {predictions.physical_name}",
                                        output_type="pandas")["n"].iloc[0])
    stages.done("predict")
    labels = clusters_at(linker, predictions, args.threshold, len(rec))
    stages.done("cluster")
    truth = rec["person_id"].to_numpy()
    s = cluster_scores(labels, truth)
    stages.done("score")

    print(f"\n{n_pairs} scored pairs with match probability >= {lowest:g}")
    print("\n| stage | wall s | peak MiB |\n|---|---|---|")
    for name, secs, mib in stages.rows:
        print(f"| {name} | {secs:.1f} | {mib:.0f} |")
    run_seconds = stages.total(("prepare", "train", "predict", "cluster"))
    header = ("| system | threshold | records | clusters | true persons | pair P | pair R | pair F1 | "
              "B³ P | B³ R | B³ F1 | time s | peak MiB |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    persons = int(pd.Series(truth).nunique())
    label = f"Splink {splink.__version__} (DuckDB, EM {'+'.join(em)})"
    main_row = score_row(label, args.threshold, s, len(rec),
                         int(np.unique(labels).size), persons, run_seconds, peak_mib())
    print("\nthreshold sweep (same model and predictions; time = prepare + train + predict + cluster, "
          "without loading and the blocking analysis)")
    print(header)
    for t in sorted(set(SWEEP) | {args.threshold}):
        if t == args.threshold:
            print(main_row)
            continue
        lab = clusters_at(linker, predictions, t, len(rec))
        print(score_row(label, t, cluster_scores(lab, truth), len(rec),
                        int(np.unique(lab).size), persons, run_seconds, peak_mib()))
    cmd = "python benchmarks/persons_splink.py" + "".join(f" {a}" for a in sys.argv[1:])
    print(f"\nfor BENCHMARKS.md (`{cmd}`):\n\n{header}\n{main_row}")


if __name__ == "__main__":
    main()
