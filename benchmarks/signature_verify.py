"""Signature verification: verify_signature with one active secret and with three (rotation),
against a bare HMAC-SHA256 of the same signed bytes compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
import random
import time

from benchmarks._common import Headline, best_per_call, say, table
from signbridge.signature import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign, verify_signature

SIZES = {"4 KiB": 4 * 1024, "256 KiB": 256 * 1024}
SECRETS = ["whsec-current", "whsec-previous", "whsec-oldest"]


def run() -> list[Headline]:
    say("2. Signature verification (HMAC-SHA256 over timestamp.body, hex), µs per call, best of 7")
    rows, headlines = [], []
    rng = random.Random(7)  # noqa: S311 - reproducible bodies, not crypto
    for label, size in SIZES.items():
        body = rng.randbytes(size)
        timestamp = str(int(time.time()))
        signature = sign(SECRETS[0], timestamp, body)  # signed with the newest secret, tried first
        headers = {TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: signature}
        now = float(timestamp)
        key, prefix = SECRETS[0].encode(), timestamp.encode() + b"."

        def bare(key: bytes = key, prefix: bytes = prefix, body: bytes = body, signature: str = signature) -> bool:
            mac = hmac.new(key, prefix, hashlib.sha256)
            mac.update(body)
            return hmac.compare_digest(mac.hexdigest(), signature)

        def one(body: bytes = body, headers: dict[str, str] = headers, now: float = now) -> None:
            verify_signature(body, headers, SECRETS[:1], now=now, tolerance_seconds=300)

        def three(body: bytes = body, headers: dict[str, str] = headers, now: float = now) -> None:
            verify_signature(body, headers, SECRETS, now=now, tolerance_seconds=300)

        assert bare()
        best = best_per_call({"bare": bare, "one": one, "three": three})
        for name, side in (
            ("bare hmac + compare_digest", "bare"),
            ("verify_signature, 1 secret", "one"),
            ("verify_signature, 3 secrets", "three"),
        ):
            rows.append([label, name, f"{best[side] * 1e6:.1f}", f"{best[side] / best['bare']:.2f}x"])
        headlines.append(
            Headline(
                f"verify_signature, {label} body, 1 / 3 secrets",
                f"{best['one'] * 1e6:.1f} / {best['three'] * 1e6:.1f} µs",
                f"{best['bare'] * 1e6:.1f} µs bare HMAC",
                f"{best['one'] / best['bare']:.2f}x / {best['three'] / best['bare']:.2f}x the time",
            )
        )
    say(table(["body", "side", "µs/call", "vs bare"], rows, left=2))
    say("   every active secret is tried (no early exit), so 3 secrets cost about 3 HMACs")
    say()
    return headlines
