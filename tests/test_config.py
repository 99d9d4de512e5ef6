"""Configuration loads, validates, and names the file and key of every error."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from riskwatch.config import DEFAULT_CONFIG_DIR, load_settings
from riskwatch.schema import UNCLASSIFIED, ConfigError, RegionLevel


@pytest.fixture()
def config_copy(tmp_path: Path) -> Path:
    dst = tmp_path / "config"
    shutil.copytree(DEFAULT_CONFIG_DIR, dst)
    return dst


def test_demo_city_is_the_size_the_issue_asks_for() -> None:
    s = load_settings()
    tree = s.regions
    assert len(tree.at_level(RegionLevel.DISTRICT)) == 8
    assert len(tree.at_level(RegionLevel.TOWNSHIP)) == 60
    assert 580 <= len(tree.at_level(RegionLevel.GRID)) <= 650
    leaves = [c for c in s.taxonomy.leaves() if c.code != UNCLASSIFIED]
    assert len(leaves) == 30
    assert s.taxonomy.label("0101") == "劳动社保›欠薪"
    assert {"hotline_12345", "petition_register"} <= set(s.mappings)
    assert s.deadlines.conclude_days == 60 and s.deadlines.register_days == 15
    assert s.deadlines.extension_max_days == 30
    roles = {m.role for m in s.staff}
    assert roles == {"county_leader", "township_leader", "grid_worker", "analyst"}


def test_every_grid_has_a_grid_worker_and_codes_nest() -> None:
    s = load_settings()
    workers = {m.region for m in s.staff if m.role == "grid_worker"}
    for grid in s.regions.at_level(RegionLevel.GRID):
        assert grid.code in workers
        assert grid.code.startswith(grid.parent)
        assert s.regions.ancestors(grid.code)[-1] == s.regions.root


def test_environment_variable_points_at_another_city(config_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = (config_copy / "settings.toml").read_text(encoding="utf-8").replace("临海市", "另一市")
    (config_copy / "settings.toml").write_text(text, encoding="utf-8")
    monkeypatch.setenv("RISKWATCH_CONFIG", str(config_copy))
    assert load_settings().city_name == "另一市"


@pytest.mark.parametrize(
    ("file", "old", "new", "key"),
    [
        ("deadlines.toml", "conclude_days = 60", 'conclude_days = "sixty"', "petition.conclude_days"),
        ("regions.toml", 'level = "district"', 'level = "county"', ".level"),
        ("mappings/hotline_12345.toml", "source_id = ", "sauce_id = ", "fields.sauce_id"),
        ("mappings/hotline_12345.toml", '"已办结" = "closed"', '"已办结" = "done"', "values.status.已办结"),
        ("calendar.toml", 'kind = "lunar"', 'kind = "moon"', ".kind"),
        ("staff.toml", 'role = "grid_worker"', 'role = "boss"', ".role"),
        ("settings.toml", "horizon_weeks = 13", "horizon_weeks = 0", "forecast.horizon_weeks"),
        ("settings.toml", "earliest_received = 2000-01-01", 'earliest_received = "soon"', "ingest.earliest_received"),
        ("settings.toml", '"leaf:district",', "", "forecast.levels"),          # leaf:city without leaf:district
        ("settings.toml", '"all:city",', '"all:county",', "forecast.levels[0]"),
        ("holidays.toml", "# [[year]]", '[[year]]\nyear = 2027\nworkdays = ["2027-02-22"]\n#', "workdays[0]"),
    ],
)
def test_errors_name_file_and_key(config_copy: Path, file: str, old: str, new: str, key: str) -> None:
    path = config_copy / file
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_settings(config_copy)
    assert err.value.file.endswith(file)
    assert key in err.value.key


def test_broken_toml_names_the_file(config_copy: Path) -> None:
    (config_copy / "categories.toml").write_text("[[category]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="categories.toml"):
        load_settings(config_copy)


@pytest.mark.parametrize(("line", "key"), [
    ("match_threshold = 1.5", "persons.match_threshold"),
    ("group_min_size = \"five\"", "persons.group_min_size"),
    ("group_escalation_level = \"township\"", "persons.group_escalation_level"),
    ("min_group = 5", "persons"),
])
def test_bad_persons_settings_name_the_key(config_copy: Path, line: str, key: str) -> None:
    path = config_copy / "settings.toml"
    text = path.read_text(encoding="utf-8")
    key_name = line.split(" = ")[0]
    kept = [ln for ln in text.splitlines() if not ln.startswith(f"{key_name} =")]
    at = kept.index("[persons]")
    path.write_text("\n".join([*kept[:at + 1], line, *kept[at + 1:]]) + "\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_settings(config_copy)
    assert "settings.toml" in str(err.value) and f"{key}:" in str(err.value)


def test_persons_settings_reach_the_code() -> None:
    p = load_settings().persons
    assert (p.match_threshold, p.group_min_size, p.group_escalation_level) == (0.95, 5, "city")
