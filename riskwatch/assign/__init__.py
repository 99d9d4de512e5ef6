"""Owners and deadlines for graded risk items (pure)."""

from riskwatch.assign.owners import ASSIGNED_COLUMNS, ROLE_LABELS, ROLE_OF_GRADE, assign_owners

__all__ = ["ASSIGNED_COLUMNS", "ROLE_LABELS", "ROLE_OF_GRADE", "assign_owners"]
