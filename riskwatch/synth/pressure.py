"""The hidden grievance process behind repeat petitions and escalation (the generator's knobs; pure numpy).

Every matter (one person's or one group's grievance) carries a *pressure* that nothing in the exports
shows. It starts at the grievance's size, a hidden lognormal draw, and moves between visits:

- it decays with the time since the last visit (``DECAY_DAYS``);
- it rises with what the records do show of the last case as it stood at the next visit: no reply yet,
  and more so when past its deadline; a dissatisfied, merely basic or missing evaluation; a case
  concluded unresolved, late, or after returned orders. A satisfied, resolved reply relieves it;
- the grievance itself pushes at every visit (``DRIFT`` times its size): big grievances keep coming back
  whatever the replies say.

Whether a petitioner comes back at all is drawn from the pressure and a hidden per-person persistence
(``return_probability``); the gap to the next visit shortens as pressure grows (``gap_days``). The level a
petition reaches (0 district, 1 city, 2 province, 3 national) is an ordered-logit draw on a hidden
per-person temperament, the pressure, an approaching sensitive period and, more weakly, the highest level
the matter reached before (``level_from_score``). Because temperament and grievance are hidden, some
first-ever petitions go straight to the province: escalations no record foreshadows.

No counting rule decides a level (there is no "every third visit one level up"): a grading rule can
only read the same records a real office has. ``synth.matters`` (solo petitioners) and ``synth.groups``
use these functions; the knobs live here and never in ``config/``.
"""

from __future__ import annotations

from typing import TypeAlias

import numpy as np

Num: TypeAlias = "np.ndarray | float"
Flag: TypeAlias = "np.ndarray | bool"

# --- hidden draws ------------------------------------------------------------------------------------
GRIEVANCE_MU, GRIEVANCE_SIGMA = -1.0, 0.7     # lognormal size of a grievance: the pressure it starts with
PERSIST_MU, PERSIST_SIGMA = -3.1, 1.0         # lognormal persistence of a person (how readily they return)
PERSIST_MAX = 2.0                             # ... at most this (the busiest come about every two weeks)
TEMPER_SD = 0.7                               # normal temperament of a person (how high they go)

# --- pressure at the next visit ----------------------------------------------------------------------
DECAY_DAYS = 240.0         # e-folding time of pressure between visits
DRIFT = 0.25               # the grievance's own push at every visit, times its size
NO_REPLY = 0.3             # the last case had no reply yet
OVERDUE_NO_REPLY = 1.0     # ... and its deadline had passed (逾期)
DISSATISFIED = 1.2         # 不满意
BASIC = 0.2                # 基本满意
UNRATED = 0.3              # 未评价
UNRESOLVED = 0.8           # concluded, not resolved
LATE_REPLY = 0.5           # concluded after its deadline
PER_RETURN = 0.4           # each returned order (退单) of the last case
RELIEF = 0.5               # satisfied and resolved: pressure times this

# --- coming back -------------------------------------------------------------------------------------
RETURN_BASE = 1.2          # q = 1 - exp(-persistence * (RETURN_BASE + pressure))
GAP_MEDIAN_DAYS = 80.0     # median gap to the next visit at zero pressure
GAP_PRESSURE = 0.15       # the median shrinks by exp(-GAP_PRESSURE * pressure)
GAP_PERSIST = 2.0          # ... and by 1 / (1 + GAP_PERSIST * persistence): the persistent come often
GAP_SIGMA = 0.8            # lognormal spread of the gap
MIN_GAP_DAYS = 1.0
SENSITIVE_PULL = 0.5       # chance (times p / (p + 2)) a return is pulled into an upcoming sensitive lead-in

# --- level reached -----------------------------------------------------------------------------------
LEVEL_PRESSURE = 4.2       # times log1p(pressure)
LEVEL_SENSITIVE = 0.9      # the visit falls in a sensitive period or its lead-in
LEVEL_STICK = 0.7          # times the highest level the matter reached before
LEVEL_CUTS = (4.3, 6.7, 9.6)  # ordered-logit cut points: city, province, national
LEVEL_NOISE = 0.7          # scale of the logistic noise
LATER_BASE, LATER_PRESSURE = 0.02, 0.15   # raised one level while open: base + this * p / (p + 3)


def grievance(rng: np.random.Generator, n: int) -> np.ndarray:
    """Hidden size of ``n`` grievances (the pressure each starts with)."""
    return rng.lognormal(GRIEVANCE_MU, GRIEVANCE_SIGMA, n)


def persistence(rng: np.random.Generator, n: int) -> np.ndarray:
    """Hidden persistence of ``n`` persons."""
    return np.minimum(rng.lognormal(PERSIST_MU, PERSIST_SIGMA, n), PERSIST_MAX)


def temperament(rng: np.random.Generator, n: int) -> np.ndarray:
    """Hidden temperament of ``n`` persons."""
    return rng.normal(0.0, TEMPER_SD, n)


def next_pressure(p: Num, gap_days: Num, size: Num, replied: Flag, overdue: Flag, dissatisfied: Flag,
                  basic: Flag, unrated: Flag, unresolved: Flag, late: Flag, returned: Num) -> Num:
    """Pressure at the next visit, from the pressure at the last one and how the last case stood then.

    ``replied``: the last case was concluded before the next visit (its evaluation, resolution, lateness
    and returned orders count only then); ``overdue``: not concluded and past its deadline. Works on
    numbers and on numpy arrays alike (flags as bools).
    """
    reply = (DISSATISFIED * dissatisfied + BASIC * basic + UNRATED * unrated + UNRESOLVED * unresolved
             + LATE_REPLY * late + PER_RETURN * returned)
    calm = 1 - (dissatisfied | basic | unrated | unresolved | late)
    relief = 1 - (1 - RELIEF) * replied * calm
    waiting = NO_REPLY + OVERDUE_NO_REPLY * overdue
    return (p * np.exp(-gap_days / DECAY_DAYS) * relief + DRIFT * size + replied * reply
            + (1 - replied) * waiting)


def return_probability(p: Num, persist: Num) -> Num:
    """Chance that a petitioner comes back (once more) on a matter at pressure ``p``."""
    return 1.0 - np.exp(-persist * (RETURN_BASE + p))


def gap_median(p: Num, persist: Num) -> Num:
    """Median days to the next visit: shorter under higher pressure and for a persistent petitioner."""
    return GAP_MEDIAN_DAYS * np.exp(-GAP_PRESSURE * p) / (1.0 + GAP_PERSIST * persist)


def gap_days(rng: np.random.Generator, p: np.ndarray, persist: np.ndarray) -> np.ndarray:
    """Days to the next visit (lognormal around ``gap_median``)."""
    med = gap_median(np.asarray(p, dtype=float), persist)
    return np.maximum(MIN_GAP_DAYS, med * np.exp(rng.normal(0.0, GAP_SIGMA, np.shape(p))))


def pull_probability(p: Num) -> Num:
    """Chance a return is pulled into an upcoming sensitive period's lead-in (stability windows)."""
    return SENSITIVE_PULL * p / (p + 2.0)


def level_score(temper: Num, p: Num, sensitive: Flag, prev_max: Num, offset: float = 0.0) -> Num:
    """The latent score an ordered logit turns into a level."""
    return offset + temper + LEVEL_PRESSURE * np.log1p(p) + LEVEL_SENSITIVE * sensitive + LEVEL_STICK * prev_max


def level_from_score(score: Num, u: Num) -> Num:
    """Level 0-3 (an int, or an int array) from a latent score and a uniform draw ``u`` (logistic noise)."""
    u = np.clip(u, 1e-12, 1 - 1e-12)
    s = score + LEVEL_NOISE * np.log(u / (1 - u))
    return (s > LEVEL_CUTS[0]) * 1 + (s > LEVEL_CUTS[1]) + (s > LEVEL_CUTS[2])


def later_probability(p: Num) -> Num:
    """Chance an open petition is raised one level before it is concluded (the petitioner goes higher
    while waiting)."""
    return LATER_BASE + LATER_PRESSURE * p / (p + 3.0)
