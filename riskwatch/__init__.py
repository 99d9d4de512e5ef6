"""riskwatch: risk early warning for petition (信访) and hotline (12345) work."""

__version__ = "0.1.0"
