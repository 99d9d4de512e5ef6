"""Spike and rise detection on count series (pure: arrays and frames in, scores out).

Each detector scores periods *prospectively* (only data before a period is used to judge it) and returns
expected count, upper threshold, exceedance probability, a score and an alarm flag, or says that the
history is insufficient. Modules: ``ears`` (EARS C1/C2/C3, short histories), ``cusum`` (slow sustained
rises), ``farrington`` (Farrington-flexible, Noufaily et al. 2013).
"""
