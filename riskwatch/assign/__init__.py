"""Owners, deadlines and the life of graded risk items (pure)."""

from riskwatch.assign.lifecycle import (
    EVENT_COLUMNS,
    LEDGER_COLUMNS,
    ActionError,
    LedgerPolicy,
    Status,
    act,
    empty_ledger,
    ledger_as_of,
    needs_owner,
    record_owners,
    run_ledger,
)
from riskwatch.assign.owners import ASSIGNED_COLUMNS, ROLE_LABELS, ROLE_OF_GRADE, assign_owners
from riskwatch.assign.step import INFO_COLUMNS, ITEM_COLUMNS, ledger_step, name_owners, open_load

__all__ = ["ASSIGNED_COLUMNS", "EVENT_COLUMNS", "INFO_COLUMNS", "ITEM_COLUMNS", "LEDGER_COLUMNS", "ROLE_LABELS",
           "ROLE_OF_GRADE", "ActionError", "LedgerPolicy", "Status", "act", "assign_owners", "empty_ledger",
           "ledger_as_of", "ledger_step", "name_owners", "needs_owner", "open_load", "record_owners", "run_ledger"]
