"""signbridge-signature: Given a captured delivery, Then detect names the scheme it was signed with."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from signbridge.signature import SignatureScheme, sign, verify_signature
from signbridge_tools import signature_cli
from tests.support.events import fixture_bytes, signed_headers

SECRET = "captured-secret"


@pytest.fixture
def body_file(tmp_path: Path) -> Path:
    path = tmp_path / "body.json"
    path.write_bytes(fixture_bytes("providers/signcustomiser_webhook_order_created.json"))
    return path


def write_raw_headers(path: Path, headers: dict[str, str]) -> Path:
    lines = ["POST /v1/sign-customiser/webhooks HTTP/1.1", "Host: example.com", "Content-Type: application/json"]
    path.write_text("\r\n".join(lines + [f"{k}: {v}" for k, v in headers.items()]) + "\r\n\r\n{ignored body}")
    return path


def detect(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = signature_cli.main(["detect", *argv])
    return code, capsys.readouterr().out


def test_detect_names_the_scheme_a_raw_header_capture_was_signed_with(body_file, tmp_path, capsys):
    headers = signed_headers(SECRET, body_file.read_bytes(), scheme=SignatureScheme.TIMESTAMP_BODY_BASE64)
    header_file = write_raw_headers(tmp_path / "headers.txt", headers)

    code, out = detect(capsys, "--headers", str(header_file), "--body", str(body_file), "--secret", SECRET)

    assert code == 0
    assert [line for line in out.splitlines() if line.startswith("match:")] == ["match: timestampbody:base64"]
    assert "set SIGNATURE_SCHEME=timestampbody:base64" in out
    assert "s old: within the 300 s tolerance" in out


def test_detect_reads_json_headers_and_a_secret_from_the_environment(body_file, tmp_path, monkeypatch, capsys):
    headers = signed_headers(SECRET, body_file.read_bytes(), scheme=SignatureScheme.BODY_HEX)
    header_file = tmp_path / "headers.json"
    header_file.write_text(json.dumps({k.upper(): v for k, v in headers.items()}))
    monkeypatch.setenv("SC_SECRET", SECRET)

    code, out = detect(capsys, "--headers", str(header_file), "--body", str(body_file), "--secret-env", "SC_SECRET")

    assert code == 0
    assert "match: body:hex" in out


def test_wrong_secret_matches_nothing_and_lists_what_was_tried(body_file, tmp_path, capsys):
    header_file = write_raw_headers(tmp_path / "headers.txt", signed_headers(SECRET, body_file.read_bytes()))

    code, out = detect(capsys, "--headers", str(header_file), "--body", str(body_file), "--secret", "another")

    assert code == 1
    assert "no scheme matches" in out
    assert all(scheme.value in out for scheme in SignatureScheme)
    assert "right secret" in out


def test_a_reserialised_body_is_recognised_as_such(body_file, tmp_path, capsys):
    compact = json.dumps(json.loads(body_file.read_bytes()), separators=(",", ":")).encode()
    header_file = write_raw_headers(tmp_path / "headers.txt", signed_headers(SECRET, compact))

    code, out = detect(capsys, "--headers", str(header_file), "--body", str(body_file), "--secret", SECRET)

    assert code == 1
    assert "but timestamp.body:hex matches the body re-serialised compactly" in out


def test_a_stale_timestamp_is_reported_but_the_scheme_still_detected(body_file, tmp_path, capsys):
    stale = signed_headers(SECRET, body_file.read_bytes(), timestamp=int(time.time()) - 3600)
    header_file = write_raw_headers(tmp_path / "headers.txt", stale)

    code, out = detect(capsys, "--headers", str(header_file), "--body", str(body_file), "--secret", SECRET)

    assert code == 0
    assert "OUTSIDE" in out and "timestamp_stale" in out
    assert "match: timestamp.body:hex" in out


def test_missing_headers_are_named(body_file, tmp_path, capsys):
    header_file = tmp_path / "headers.txt"
    header_file.write_text("Content-Type: application/json\n")

    code, out = detect(capsys, "--headers", str(header_file), "--body", str(body_file), "--secret", SECRET)

    assert code == 1
    assert "missing header(s): x-webhook-timestamp, x-webhook-signature" in out


def test_sign_prints_headers_that_verify(body_file, capsys):
    code = signature_cli.main(
        ["sign", "--secret", SECRET, "--body", str(body_file), "--timestamp", "1700000000", "--scheme", "body:base64"]
    )

    out = capsys.readouterr().out
    assert code == 0
    headers = dict(line.split(": ", 1) for line in out.splitlines())
    assert headers == {
        "x-webhook-timestamp": "1700000000",
        "x-webhook-signature": sign(SECRET, "1700000000", body_file.read_bytes(), SignatureScheme.BODY_BASE64),
    }
    verify_signature(
        body_file.read_bytes(),
        headers,
        [SECRET],
        now=1700000000,
        tolerance_seconds=300,
        scheme=SignatureScheme.BODY_BASE64,
    )
