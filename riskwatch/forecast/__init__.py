"""Forecasts of case volumes by category and area (pure: frames in, frames out).

Modules: ``base`` (the contract every model follows), ``features`` (calendar regressors per period),
``models`` and ``prophet_model`` (the model families), ``history`` (level shifts and outliers in a
history), ``series`` (count series from cases, as of a date), ``nowcast`` (late-entry correction),
``backtest`` (rolling-origin scores and model choice), ``reconcile`` (coherent forecasts across the
trees), ``engine`` (all series, in worker processes). Prophet is imported only where it is used.
"""
