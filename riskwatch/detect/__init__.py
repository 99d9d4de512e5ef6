"""Spike, rise and level-shift detection on count series, and the signals they become (pure: arrays and
frames in, scores and signal states out).

Detectors score periods *prospectively* (only data before a period is used to judge it) and return
expected count, upper threshold, exceedance probability, a score and an alarm flag, or say that the
history is insufficient: ``farrington`` (Farrington-flexible, Noufaily et al. 2013), ``ears`` (EARS
C1/C2/C3, short histories), ``cusum`` (slow sustained rises), chosen per period by ``combine``.
Signals: ``multiple`` (false discovery rate, one signal per event across the trees), ``signals`` (a
week's findings), ``lifecycle`` (opened / ongoing / closed, level shifts, silences), ``artifacts`` (one
source, batch entry, one unit), ``case_signals`` (escalation, overdue, returned, dissatisfied),
``sentences`` (the Chinese sentence), ``replay`` (one step, and weeks of steps).
"""
