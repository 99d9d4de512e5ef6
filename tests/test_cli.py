"""Every command has help and is documented in the README."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from riskwatch.cli import cli

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def all_commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    out = []
    for name, cmd in group.commands.items():
        full = f"{prefix}{name}"
        if isinstance(cmd, click.Group):
            out.extend(all_commands(cmd, full + " "))
        else:
            out.append((full, cmd))
    return out


@pytest.mark.parametrize(("name", "cmd"), all_commands(cli), ids=lambda x: x if isinstance(x, str) else "")
def test_command_has_help_and_is_in_readme(name: str, cmd: click.Command) -> None:
    result = CliRunner().invoke(cli, [*name.split(), "--help"])
    assert result.exit_code == 0, result.output
    assert (cmd.help or "").strip(), f"{name} has no help text"
    assert f"riskwatch {name}" in README, f"`riskwatch {name}` is not documented in README.md"


def test_bad_month_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--db", f"sqlite:///{tmp_path}/x.db", "stats", "--month", "2024-13"])
    assert result.exit_code == 2
    assert "--month" in result.output
