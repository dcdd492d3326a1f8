"""signbridge-signature: which signature scheme a captured Sign Customiser delivery uses, and signing by hand.

    signbridge-signature detect --headers headers.txt --body body.json --secret-env SC_SECRET
    signbridge-signature sign --secret S --body body.json > headers.txt
    curl -H @headers.txt -H 'Content-Type: application/json' --data-binary @body.json URL

``detect`` prints the value for the SIGNATURE_SCHEME setting (template parameter SignatureScheme).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from signbridge.signature import SIGNATURE_HEADER, TIMESTAMP_HEADER, SignatureScheme, detect_schemes, sign

DEFAULT_TOLERANCE_SECONDS = 300


def read_headers(path: Path) -> dict[str, str]:
    """A JSON object, or raw HTTP header lines (a request line and a body after a blank line are ignored)."""
    text = path.read_text()
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        data = None
    if isinstance(data, dict):
        return {str(k).lower(): str(v) for k, v in data.items()}
    headers: dict[str, str] = {}
    for line in text.lstrip().splitlines():
        if not line.strip():
            break
        name, colon, value = line.partition(":")
        if colon and " " not in name.strip():
            headers[name.strip().lower()] = value.strip()
    return headers


def body_variants(body: bytes) -> list[tuple[str, bytes]]:
    """Ways the captured body may differ from the bytes that were signed, to explain a mismatch."""
    variants = []
    if body.endswith((b"\n", b"\r")):
        variants.append(("without the trailing newline (added when the capture was saved?)", body.rstrip(b"\r\n")))
    try:
        data = json.loads(body)
    except ValueError:
        return variants
    compact = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    variants += [
        ("re-serialised compactly (the capture is not the raw bytes?)", compact.encode()),
        # PHP's json_encode escapes "/" and non-ASCII by default.
        ("re-serialised as PHP json_encode does", json.dumps(data, separators=(",", ":")).replace("/", "\\/").encode()),
        ("re-serialised with spaces (Python json.dumps)", json.dumps(data).encode()),
    ]
    return [(label, raw) for label, raw in variants if raw != body]


def timestamp_report(timestamp: str, tolerance: int) -> str:
    if not (timestamp.isascii() and timestamp.isdigit()):
        return f"{TIMESTAMP_HEADER}: {timestamp!r} is not Unix seconds: signbridge would answer timestamp_malformed"
    at = datetime.fromtimestamp(int(timestamp), UTC).isoformat()
    age = int(time.time()) - int(timestamp)
    verdict = "within" if abs(age) <= tolerance else "OUTSIDE (signbridge would answer timestamp_stale)"
    return f"{TIMESTAMP_HEADER}: {timestamp} ({at}), {age} s old: {verdict} the {tolerance} s tolerance"


def detect(args: argparse.Namespace) -> int:
    headers = read_headers(args.headers)
    body = args.body.read_bytes()
    secret = secret_from(args)
    missing = [h for h in (TIMESTAMP_HEADER, SIGNATURE_HEADER) if not headers.get(h)]
    if missing:
        print(f"missing header(s): {', '.join(missing)}; found: {', '.join(sorted(headers)) or 'none'}")
        return 1
    print(timestamp_report(headers[TIMESTAMP_HEADER].strip(), args.tolerance))
    matches = detect_schemes(body, headers, secret)
    if matches:
        for scheme in matches:
            print(f"match: {scheme.value}")
        print(f"set SIGNATURE_SCHEME={matches[0].value} (template parameter SignatureScheme)")
        return 0
    print(f"no scheme matches the {len(body)}-byte body with this secret. Tried:")
    for scheme in SignatureScheme:
        print(f"  {scheme.value}")
    near = [(label, s) for label, raw in body_variants(body) for s in detect_schemes(raw, headers, secret)]
    for label, scheme in near:
        print(f"but {scheme.value} matches the body {label}: signbridge verifies the exact bytes received")
    if not near:
        print("hints: is it the right secret (the integration secret for the product callback, the subscription's")
        print("secret for webhooks)? Is the body file the raw bytes as received, not re-formatted or re-encoded?")
    return 1


def sign_headers(args: argparse.Namespace) -> int:
    timestamp = args.timestamp or str(int(time.time()))
    signature = sign(secret_from(args), timestamp, args.body.read_bytes(), SignatureScheme(args.scheme))
    print(f"{TIMESTAMP_HEADER}: {timestamp}")
    print(f"{SIGNATURE_HEADER}: {signature}")
    return 0


def secret_from(args: argparse.Namespace) -> str:
    if args.secret_env is None:
        return str(args.secret)
    value = os.environ.get(args.secret_env)
    if not value:
        raise SystemExit(f"signbridge-signature: environment variable {args.secret_env} is not set")
    return value


def build_parser() -> argparse.ArgumentParser:
    secret = argparse.ArgumentParser(add_help=False)
    source = secret.add_mutually_exclusive_group(required=True)
    source.add_argument("--secret", help="the shared secret (visible in shell history: prefer --secret-env)")
    source.add_argument("--secret-env", metavar="VAR", help="read the secret from this environment variable")

    parser = argparse.ArgumentParser(
        prog="signbridge-signature", description="Sign Customiser signature schemes: detect and sign"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    found = commands.add_parser(
        "detect", parents=[secret], help="which SignatureScheme a captured delivery uses (exit 1: none)"
    )
    found.add_argument("--headers", type=Path, required=True, help="'Name: value' lines or a JSON object")
    found.add_argument("--body", type=Path, required=True, help="the raw body bytes exactly as captured")
    found.add_argument("--tolerance", type=int, default=DEFAULT_TOLERANCE_SECONDS, help="seconds (default 300)")
    found.set_defaults(run=detect)
    signing = commands.add_parser("sign", parents=[secret], help="print the two signature headers for a body")
    signing.add_argument("--body", type=Path, required=True)
    signing.add_argument("--timestamp", help="Unix seconds (default: now)")
    signing.add_argument("--scheme", choices=[s.value for s in SignatureScheme], default=SignatureScheme.DEFAULT.value)
    signing.set_defaults(run=sign_headers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
