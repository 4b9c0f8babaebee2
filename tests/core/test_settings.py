import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from app.core.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
ENV_EXAMPLE = ROOT / ".env.example"
README = ROOT / "README.md"
EVERY_SETTING = {name.upper() for name in Settings.model_fields}


def test_env_example_lists_every_setting():
    listed = set(re.findall(r"^([A-Z_]+)=", ENV_EXAMPLE.read_text(), re.MULTILINE))
    assert listed == EVERY_SETTING


def test_the_readme_settings_table_lists_every_setting():
    section = README.read_text().split("\n## Settings\n", 1)[1].split("\n## ", 1)[0]
    first_cells = [line.split("|")[1] for line in section.splitlines() if line.startswith("| `")]
    listed = {name for cell in first_cells for name in re.findall(r"`([A-Z_]+)`", cell)}
    assert listed == EVERY_SETTING


@pytest.mark.parametrize("secret", [None, "too-short"])
def test_production_refuses_a_missing_or_short_jwt_secret(secret):
    with pytest.raises(ValidationError, match="JWT_SECRET"):
        Settings(_env_file=None, app_env="production", jwt_secret=secret)


def test_development_keeps_one_generated_secret_across_restarts(tmp_path):
    secret_file = tmp_path / "secret"
    first = Settings(_env_file=None).signing_secret(secret_file)
    assert len(first) >= 32
    assert Settings(_env_file=None).signing_secret(secret_file) == first
    assert secret_file.stat().st_mode & 0o077 == 0


def test_a_malformed_trusted_proxy_is_refused_naming_trusted_proxies():
    with pytest.raises(ValidationError) as refused:
        Settings(_env_file=None, trusted_proxies="10.0.0.0/33")
    assert refused.value.errors()[0]["loc"] == ("trusted_proxies",)


@pytest.mark.parametrize("level", ["info", "Info", "INFO"])
def test_log_level_ignores_case(level):
    assert Settings(_env_file=None, log_level=level).log_level == "INFO"
