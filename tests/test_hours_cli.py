"""``sportello hours`` and ``sportello away preview`` against a configuration file."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from sportello.cli import app

CONFIG = """
[database]
url = "sqlite:///{db}"

[business_hours]
timezone = "Europe/Rome"
holidays = "IT"
mon = ["09:00-18:00"]
tue = ["09:00-18:00"]
closures = ["2026-12-24T13:00/2026-12-27T00:00"]

[[away_messages]]
channels = ["whatsapp"]
text.it = "Ciao {name}, siamo chiusi: ti rispondiamo da {next_open}."
text.en = "Hi {name}, we are closed: we will answer from {next_open}."
"""


def _config(tmp_path: Path) -> Path:
    path = tmp_path / "sportello.toml"
    path.write_text(CONFIG.replace("{db}", str(tmp_path / "cli.db")), encoding="utf-8")
    return path


def test_preview_explains_what_would_be_sent(tmp_path: Path) -> None:
    config = str(_config(tmp_path))
    runner = CliRunner()
    christmas = ["away", "preview", "--channel", "whatsapp", "--at", "2026-12-25T10:00+01:00"]
    result = runner.invoke(app, [*christmas, "--name", "Giulia", "--config", config])
    assert result.exit_code == 0, result.output
    assert "holiday:   Christmas Day" in result.output
    assert "next open: 2026-12-28T09:00:00+01:00" in result.output
    assert (
        "would send: Ciao Giulia, siamo chiusi: ti rispondiamo da lunedì 28 dicembre alle 09:00."
        in result.output
    )
    monday = ["away", "preview", "--channel", "whatsapp", "--at", "2026-12-21T10:00+01:00"]
    result = runner.invoke(app, [*monday, "--config", config])
    assert "nothing would be sent: open" in result.output
    result = runner.invoke(app, [*christmas[:3], "telegram", *christmas[4:], "--config", config])
    assert "nothing would be sent: no away rule covers telegram" in result.output
    result = runner.invoke(app, [*christmas[:5], "2026-12-25T10:00", "--config", config])
    assert result.exit_code != 0 and "no UTC offset" in result.output


def test_set_replaces_stored_sections_and_show_prints_them(tmp_path: Path) -> None:
    config = str(_config(tmp_path))
    runner = CliRunner()
    hours = tmp_path / "hours.toml"
    hours.write_text('[business_hours]\ntimezone = "Europe/Rome"\nsun = ["10:00-12:00"]\n')
    result = runner.invoke(app, ["hours", "set", "--file", str(hours), "--config", config])
    assert result.exit_code == 0 and "stored: business_hours" in result.output
    at = "2026-12-20T11:00+01:00"  # a Sunday
    result = runner.invoke(app, ["hours", "show", "--at", at, "--config", config])
    shown = json.loads(result.output)
    assert shown["business_hours"]["sun"] == ["10:00-12:00"] and shown["status"]["open"] is True
    assert shown["away_messages"][0]["channels"] == ["whatsapp"]  # seeded, untouched
    hours.write_text('[business_hours]\nmon = ["9-18"]\n')
    result = runner.invoke(app, ["hours", "set", "--file", str(hours), "--config", config])
    assert result.exit_code == 2 and "business_hours.mon" in result.output


def test_set_stores_the_assignment_rule_and_names_a_bad_value(tmp_path: Path) -> None:
    config = str(_config(tmp_path))
    runner = CliRunner()
    rule = tmp_path / "assignment.toml"
    rule.write_text('[assignment]\nmode = "balanced"\nmax_open_per_agent = 6\n')
    result = runner.invoke(app, ["hours", "set", "--file", str(rule), "--config", config])
    assert result.exit_code == 0 and "stored: assignment" in result.output
    shown = json.loads(runner.invoke(app, ["hours", "show", "--config", config]).output)
    assert shown["assignment"] == {"mode": "balanced", "max_open_per_agent": 6}
    rule.write_text("[assignment]\nmax_open_per_agent = -1\n")
    result = runner.invoke(app, ["hours", "set", "--file", str(rule), "--config", config])
    assert result.exit_code == 2 and "assignment.max_open_per_agent" in result.output
