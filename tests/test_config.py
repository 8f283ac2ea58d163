"""Configuration: TOML, environment overrides, and clear refusals that never leak secrets."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sportello.config.settings import ConfigError, load_settings

EXAMPLE = Path(__file__).resolve().parent.parent / "config" / "sportello.example.toml"


def test_missing_file_means_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SPORTELLO_CONFIG", raising=False)
    settings = load_settings(tmp_path / "absent.toml")
    assert settings.database.url == "sqlite:///./var/sportello.db"
    assert settings.api.tokens == []
    assert settings.server.port == 8000
    assert settings.channels.telegram.api_base_url == "https://api.telegram.org"
    assert settings.channels.telegram.mode == "webhook"
    assert settings.channels.x.mode == "polling" and settings.channels.x.poll_interval_s == 60
    assert not settings.channels.telegram.enabled


def test_the_example_file_loads() -> None:
    settings = load_settings(EXAMPLE)
    assert settings.business_hours is not None
    assert settings.business_hours.timezone == "Europe/Rome"
    assert settings.away_messages[0].text["it"].startswith("Ciao {name}")


def test_environment_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "s.toml"
    path.write_text('[channels.telegram]\nbot_token = "from-file"\nwebhook_secret = "file"\n')
    monkeypatch.setenv("SPORTELLO_CHANNELS__TELEGRAM__WEBHOOK_SECRET", "from-env")
    monkeypatch.setenv("SPORTELLO_API__TOKENS", '["a", "b"]')
    settings = load_settings(path)
    telegram = settings.channels.telegram
    assert telegram.bot_token is not None and telegram.webhook_secret is not None
    assert telegram.bot_token.get_secret_value() == "from-file"
    assert telegram.webhook_secret.get_secret_value() == "from-env"
    assert [t.get_secret_value() for t in settings.api.tokens] == ["a", "b"]


def test_config_env_variable_names_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "s.toml"
    path.write_text("[server]\nport = 9123\n")
    monkeypatch.setenv("SPORTELLO_CONFIG", str(path))
    assert load_settings().server.port == 9123


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        ('[channels.telegram]\nmode = "carrier-pigeon"\n', "channels.telegram.mode"),
        ("[server]\nport = 70000\n", "server.port"),
        ('[database]\nurl = "mysql://x"\n', "database.url"),
        ('[business_hours]\ntimezone = "Mars/Olympus"\n', "business_hours.timezone"),
        ('[business_hours]\nmon = ["9-18"]\n', "business_hours.mon"),
        ('[[away_messages]]\ncooldown = "soon"\n', "away_messages.0.cooldown"),
        ("[nonsense]\nx = 1\n", "nonsense"),
    ],
)
def test_bad_values_name_the_key(tmp_path: Path, toml: str, key: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError) as error:
        load_settings(path)
    assert key in str(error.value)


def test_errors_never_echo_a_secret(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[channels.telegram]\nbot_token = "TOP-SECRET-123"\nmode = "nope"\n')
    with pytest.raises(ConfigError) as error:
        load_settings(path)
    assert "TOP-SECRET-123" not in str(error.value)
    assert "TOP-SECRET-123" not in repr(load_settings(None).model_copy())


def test_broken_toml_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("[server\nport = 1\n")
    with pytest.raises(ConfigError, match="invalid configuration file"):
        load_settings(path)


def test_daemon_refuses_to_start_on_a_bad_value(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[channels.x]\npoll_interval_s = -5\nbearer_token = "SECRET-XYZ"\n')
    result = subprocess.run(
        [sys.executable, "-m", "sportello.cli", "run", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "channels.x.poll_interval_s" in result.stderr
    assert "SECRET-XYZ" not in result.stderr + result.stdout


def test_help_lists_every_subcommand() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sportello.cli", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0
    for command in ("run", "demo"):
        assert command in result.stdout
