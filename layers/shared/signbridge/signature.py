"""Verification of Sign Customiser's signed deliveries (product callback and webhooks).

Sign Customiser sends ``x-webhook-timestamp`` (Unix seconds) and ``x-webhook-signature``
(an HMAC-SHA256 of the payload). It does not publish the exact string that is signed nor the
digest's encoding, so the scheme is a setting; ``signbridge-signature detect`` tells which
scheme a captured real delivery uses.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from enum import StrEnum

from signbridge.errors import SignatureInvalid, SignatureMissing, TimestampMalformed, TimestampStale, problem

TIMESTAMP_HEADER = "x-webhook-timestamp"
SIGNATURE_HEADER = "x-webhook-signature"


class SignatureScheme(StrEnum):
    """``<what is signed>:<digest encoding>``."""

    TIMESTAMP_DOT_BODY_HEX = "timestamp.body:hex"
    TIMESTAMP_DOT_BODY_BASE64 = "timestamp.body:base64"
    TIMESTAMP_BODY_HEX = "timestampbody:hex"
    TIMESTAMP_BODY_BASE64 = "timestampbody:base64"
    BODY_HEX = "body:hex"
    BODY_BASE64 = "body:base64"

    DEFAULT = TIMESTAMP_DOT_BODY_HEX

    def message(self, timestamp: str, body: bytes) -> bytes:
        signed = self.value.split(":", 1)[0]
        if signed == "timestamp.body":
            return timestamp.encode() + b"." + body
        if signed == "timestampbody":
            return timestamp.encode() + body
        return body

    def encode_digest(self, digest: bytes) -> str:
        if self.value.endswith(":base64"):
            return base64.b64encode(digest).decode()
        return digest.hex()


def sign(secret: str, timestamp: str, body: bytes, scheme: SignatureScheme = SignatureScheme.DEFAULT) -> str:
    digest = hmac.new(secret.encode(), scheme.message(timestamp, body), hashlib.sha256).digest()
    return scheme.encode_digest(digest)


def _header(headers: Mapping[str, str] | None, name: str) -> str | None:
    for key, value in (headers or {}).items():
        if key.lower() == name:
            return value
    return None


def _normalise(signature: str) -> str:
    # Tolerate the "sha256=" prefix some senders put in front of the digest.
    signature = signature.strip()
    return signature[7:] if signature.lower().startswith("sha256=") else signature


def verify_signature(
    body: bytes,
    headers: Mapping[str, str] | None,
    secrets: Iterable[str],
    *,
    now: float,
    tolerance_seconds: int,
    scheme: SignatureScheme = SignatureScheme.DEFAULT,
) -> None:
    """Raise a ``SignatureError`` unless ``body`` was signed by one of ``secrets`` recently.

    Every active secret is tried (rotation without downtime); the comparison is constant-time
    and nothing about the expected value is revealed.
    """
    timestamp = _header(headers, TIMESTAMP_HEADER)
    signature = _header(headers, SIGNATURE_HEADER)
    missing = [name for name, value in ((TIMESTAMP_HEADER, timestamp), (SIGNATURE_HEADER, signature)) if not value]
    if missing:
        raise SignatureMissing("Missing signature header(s).", details=[problem(h, "missing") for h in missing])
    assert timestamp is not None and signature is not None
    timestamp = timestamp.strip()
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
        raise TimestampMalformed(
            f"{TIMESTAMP_HEADER} must be Unix seconds.", details=[problem(TIMESTAMP_HEADER, "not Unix seconds")]
        )
    skew = now - int(timestamp)
    if abs(skew) > tolerance_seconds:
        raise TimestampStale(
            f"{TIMESTAMP_HEADER} is outside the accepted window of {tolerance_seconds} s.",
            details=[problem(TIMESTAMP_HEADER, "outside the tolerance", tolerance_seconds=tolerance_seconds)],
        )
    presented = _normalise(signature).encode()
    matched = False
    for secret in secrets:
        # No early exit: every secret costs the same, whichever one matches.
        expected = sign(secret, timestamp, body, scheme).encode()
        matched |= hmac.compare_digest(expected, presented)
    if not matched:
        raise SignatureInvalid(
            "The signature does not match the body.", details=[problem(SIGNATURE_HEADER, "does not match the body")]
        )


def detect_schemes(body: bytes, headers: Mapping[str, str], secret: str) -> list[SignatureScheme]:
    """Every scheme under which ``secret`` produces the delivery's signature (timestamp not checked)."""
    timestamp = (_header(headers, TIMESTAMP_HEADER) or "").strip()
    presented = _normalise(_header(headers, SIGNATURE_HEADER) or "")
    # Iterating an Enum skips aliases, so DEFAULT is not tried twice.
    return [s for s in SignatureScheme if hmac.compare_digest(sign(secret, timestamp, body, s), presented)]
