"""Settings: one clear line per problem, secrets never echoed, file and environment combined."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.settings import (
    DEFAULT_DATA_DIR,
    SettingsError,
    SmtpSecurity,
    load_settings,
    resolve_data_dir,
    settings_file_from_environment,
)

SECRET = "s3cr3t-" + "k" * 40
VALID = {
    "archive_bucket": "acme-isms-archive",
    "drafts_bucket": "acme-isms-drafts",
    "smtp_sender": "ISMS <isms@acme.example>",
    "public_base_url": "https://isms.acme.example/",
    "link_secret": SECRET,
}
EMPTY = Path(__file__).parent.parent / "data" / "empty.env"


def _problems(**values: object) -> list[str]:
    with pytest.raises(SettingsError) as caught:
        load_settings(settings_file=EMPTY, **values)
    return caught.value.problems


def test_valid_settings_have_sane_defaults() -> None:
    settings = load_settings(settings_file=EMPTY, **VALID)
    assert settings.temporal_address == "localhost:7233"
    assert settings.temporal_task_queue == "isms-cycle"
    assert settings.retention_years == 7
    assert settings.smtp_security is SmtpSecurity.STARTTLS
    assert settings.public_base_url == "https://isms.acme.example"  # trailing slash dropped
    assert SECRET not in repr(settings)


def test_every_missing_setting_gets_its_own_line() -> None:
    problems = _problems()
    assert len(problems) == 5
    assert problems[0].startswith("ISMS_ARCHIVE_BUCKET: missing (")
    assert {p.split(":")[0] for p in problems} == {
        "ISMS_ARCHIVE_BUCKET",
        "ISMS_DRAFTS_BUCKET",
        "ISMS_SMTP_SENDER",
        "ISMS_PUBLIC_BASE_URL",
        "ISMS_LINK_SECRET",
    }


def test_each_invalid_value_names_the_variable_and_the_rule() -> None:
    problems = _problems(
        **{
            **VALID,
            "temporal_address": "no-port",
            "archive_bucket": "Bad_Bucket",
            "retention_years": 1,
            "smtp_port": 70000,
            "public_base_url": "ftp://x",
            "smtp_sender": "not an address",
        }
    )
    joined = "\n".join(problems)
    assert len(problems) == 6, joined
    assert "ISMS_TEMPORAL_ADDRESS: must be host:port" in joined
    assert "ISMS_ARCHIVE_BUCKET: must be a valid S3 bucket name" in joined
    assert "ISMS_RETENTION_YEARS: Input should be greater than or equal to 3" in joined
    assert "ISMS_SMTP_PORT: Input should be less than or equal to 65535" in joined
    assert "ISMS_PUBLIC_BASE_URL: must be an http:// or https:// URL (got 'ftp://x')" in joined
    assert "ISMS_SMTP_SENDER: must be an email address" in joined


def test_a_short_secret_is_refused_without_echoing_it() -> None:
    problems = _problems(**{**VALID, "link_secret": "hunter2"})
    assert len(problems) == 1
    assert problems[0].startswith("ISMS_LINK_SECRET: must be at least 32 characters; generate one with")
    assert "hunter2" not in problems[0]


def test_pairs_must_be_complete_and_buckets_distinct() -> None:
    assert _problems(**VALID, s3_access_key_id="AK") == [
        "ISMS_S3_ACCESS_KEY_ID and ISMS_S3_SECRET_ACCESS_KEY must be set together"
    ]
    assert _problems(**{**VALID, "drafts_bucket": VALID["archive_bucket"]})[0].startswith(
        "ISMS_DRAFTS_BUCKET must differ from ISMS_ARCHIVE_BUCKET"
    )


def test_file_is_read_and_environment_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings_file = tmp_path / "isms.env"
    lines = [f"ISMS_{name.upper()}={value!r}" for name, value in VALID.items()]
    settings_file.write_text("\n".join([*lines, "ISMS_SMTP_PORT=2525"]) + "\n")
    assert load_settings(settings_file=settings_file).smtp_port == 2525

    monkeypatch.setenv("ISMS_SMTP_PORT", "587")
    assert load_settings(settings_file=settings_file).smtp_port == 587

    monkeypatch.setenv("ISMS_SETTINGS_FILE", str(settings_file))
    assert load_settings().archive_bucket == "acme-isms-archive"


def test_a_missing_settings_file_is_one_clear_line(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(settings_file=tmp_path / "nope.env")
    assert caught.value.problems == [f"ISMS_SETTINGS_FILE: no such file {tmp_path / 'nope.env'}"]


def test_the_data_folder_is_the_option_else_the_environment_else_the_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ISMS_DATA_DIR", raising=False)
    monkeypatch.delenv("ISMS_SETTINGS_FILE", raising=False)
    assert resolve_data_dir() == DEFAULT_DATA_DIR == Path(".isms-data")
    monkeypatch.setenv("ISMS_DATA_DIR", str(tmp_path / "from-env"))
    assert resolve_data_dir() == tmp_path / "from-env"
    assert resolve_data_dir(tmp_path / "option") == tmp_path / "option"

    assert settings_file_from_environment() is None  # no isms.env in the folder yet
    (tmp_path / "from-env").mkdir()
    (tmp_path / "from-env" / "isms.env").write_text("ISMS_SMTP_PORT=2525\n")
    assert settings_file_from_environment() == tmp_path / "from-env" / "isms.env"
    assert settings_file_from_environment(data_dir=tmp_path / "option") is None
    monkeypatch.setenv("ISMS_SETTINGS_FILE", str(EMPTY))
    assert settings_file_from_environment() == EMPTY  # a named file wins over the data folder

    settings = load_settings(settings_file=EMPTY, **VALID)
    assert settings.signing_dir == tmp_path / "from-env" / "signing"
