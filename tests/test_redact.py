"""Secrets never leave the process: the shapes of credentials we mask, and what we leave be."""

from __future__ import annotations

import pytest

from observability.redact import redact_patterns, redact_url

SECRETS = [
    ("postgres://etl:s3cr3t-pw@db.internal:5432/sales", "s3cr3t-pw"),
    ("https://user:p%40ss@api.example.com/v1", "p%40ss"),
    ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig", "eyJhbGciOiJIUzI1NiJ9"),
    ("headers={'Authorization': 'Basic dXNlcjpwYXNzd29yZA=='}", "dXNlcjpwYXNzd29yZA=="),
    ("login failed: password=hunter2 for user bob", "hunter2"),
    ("connect(passwd='a b c') refused", "a b c"),
    ('{"api_key": "AIzaSyD-1234567890abcdef", "region": "eu"}', "AIzaSyD-1234567890abcdef"),
    ("GET /v1/items?access_token=ya29.a0AfH6SMC&page=2", "ya29.a0AfH6SMC"),
    ("client_secret: 9f8e7d6c5b4a", "9f8e7d6c5b4a"),
    ("token=abc123def456", "abc123def456"),
    ("aws key AKIAIOSFODNN7EXAMPLE leaked", "AKIAIOSFODNN7EXAMPLE"),
    ("slack xoxb-1234567890-abcdefghij", "xoxb-1234567890-abcdefghij"),
    ("-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----", "MIIEow"),
    ("X-Goog-Signature: 0a1b2c3d4e5f", "0a1b2c3d4e5f"),
]


@pytest.mark.parametrize(("text", "secret"), SECRETS)
def test_secret_is_masked(text: str, secret: str) -> None:
    redacted = redact_patterns(text)
    assert secret not in redacted
    assert "***" in redacted


@pytest.mark.parametrize(
    "text",
    [
        "task failed after 3 retries",
        "Author: Jane Doe",
        "could not parse row 17: unexpected token ']'",
        "ZeroDivisionError: division by zero",
        "connection reset by peer (attempt 1)",
        "réseau indisponible — 接続できません",
    ],
)
def test_ordinary_text_is_untouched(text: str) -> None:
    assert redact_patterns(text) == text


def test_redaction_keeps_the_surrounding_text() -> None:
    assert redact_patterns("password=hunter2 user=bob") == "password=*** user=bob"
    assert redact_patterns("token=abc&page=2") == "token=***&page=2"


@pytest.mark.parametrize(
    ("url", "target", "host"),
    [
        (
            "https://u:p@api.stripe.com:8443/v1/charges?key=1#f",
            "https://api.stripe.com:8443/v1/charges",
            "api.stripe.com:8443",
        ),
        ("http://127.0.0.1:8099/v1/charges", "http://127.0.0.1:8099/v1/charges", "127.0.0.1:8099"),
        (
            "https://bigquery.googleapis.com",
            "https://bigquery.googleapis.com",
            "bigquery.googleapis.com",
        ),
    ],
)
def test_called_url_loses_credentials_and_query(url: str, target: str, host: str) -> None:
    assert redact_url(url) == (target, host)
