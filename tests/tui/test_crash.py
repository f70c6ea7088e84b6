"""A crash inside the TUI is logged with its traceback, and no credential reaches the log."""

from __future__ import annotations

import logging

import pytest

from mlops_tui.tui.crash import REDACTED, exception_text, log_exception, scrub

JWT = ("eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.eyJzdWIiOiJzeXN0ZW06c2E6ZGVmYXVsdCJ9."
       "c2lnbmF0dXJlLXNpZ25hdHVyZS1zaWduYXR1cmU")
KEY_B64 = "LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVktLS0tLQpNSUlFcEFJQkFBS0NBUUVBdTFTVTFM"


@pytest.mark.parametrize("text, secret", [
    ("Authorization: Bearer abc.def-ghi", "abc.def-ghi"),
    ("{'Authorization': 'Basic dXNlcjpwYXNz', 'Accept': 'json'}", "dXNlcjpwYXNz"),
    ("headers={'authorization': 'Bearer s3cr3t'}", "s3cr3t"),
    ("calling with Bearer sometoken123", "sometoken123"),
    ("GET /api/v1/pods?token=s3cr3t&watch=1", "s3cr3t"),
    ("password=hunter2 user=bob", "hunter2"),
    ("passwd: 'hunter2'", "hunter2"),
    ("MLOPS_TUI_PROMETHEUS_TOKEN=abc123", "abc123"),
    ('{"token": "abc", "kind": "ExecCredential"}', "abc"),
    ("bearer_token: xyz987", "xyz987"),
    (f"client-key-data: {KEY_B64}", KEY_B64),
    (f"  client-certificate-data: {KEY_B64}", KEY_B64),
    ("https://bob:pa55w0rd@prometheus:9090/api/v1/query", "pa55w0rd"),
    (f"id-token: {JWT}", JWT),
    (f"a JWT in a message: {JWT} (expired)", JWT),
    (f"exec plugin printed {KEY_B64} to stderr", KEY_B64),
    ("-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEAu1SU1L\n-----END RSA PRIVATE KEY-----",
     "MIIEpAIBAAKCAQEAu1SU1L"),
])
def test_secrets_are_scrubbed(text, secret):
    out = scrub(text)
    assert secret not in out and REDACTED in out


@pytest.mark.parametrize("text", [
    'File "/work/main/.venv/lib/python3.11/site-packages/textual/app.py", line 3, in run',
    'File "/home/user/projects/some_long_project_name_here_really/module.py", line 9',
    "image registry/triton@sha256:" + "ab12" * 16,
    "containerd://" + "0123456789abcdef" * 4,
    "KeyError: 'metadata'",
    "token_file=/etc/mlops/token",
    "ValueError: replicas must be at most 10000",
])
def test_ordinary_text_stays_readable(text):
    assert scrub(text) == text


def _fail_with_a_secret() -> None:
    try:
        raise ConnectionError("401 from https://api:6443 with Authorization: Bearer tok-SECRET")
    except ConnectionError as exc:
        raise RuntimeError("token=SECRET2 while listing pods") from exc


def test_log_exception_writes_the_scrubbed_traceback(caplog):
    try:
        _fail_with_a_secret()
    except RuntimeError as exc:
        error = exc
    with caplog.at_level(logging.ERROR, logger="mlops_tui"):
        log_exception(error)
    assert len(caplog.records) == 1
    record = caplog.records[0]
    assert record.name == "mlops_tui" and record.levelno == logging.ERROR
    text = record.getMessage()
    assert "Traceback (most recent call last)" in text and "_fail_with_a_secret" in text
    assert "ConnectionError" in text and "RuntimeError" in text  # the cause is kept
    assert "tok-SECRET" not in text and "SECRET2" not in text
    assert exception_text(error) in text


def test_log_exception_never_raises(monkeypatch):
    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(logging.getLogger("mlops_tui"), "error", broken)
    log_exception(ValueError("x"))  # no exception escapes
