"""Grade risk items red / yellow / blue by rules from ``config/grading.toml`` (pure: frames in, frames out)."""

from riskwatch.grade.grading import GRADED_COLUMNS, grade_items
from riskwatch.grade.rules import FACTORS, GradingRules, RulesError, rules_from_dict

__all__ = ["FACTORS", "GRADED_COLUMNS", "GradingRules", "RulesError", "grade_items", "rules_from_dict"]
