"""`signbridge setup --stack NAME`: the stack's secrets into SSM, then what to paste where.

Each secret the deployment reads (its destinations' credentials, the Integration Secret, the
optional platform ones) comes from a ``--from`` file, else the environment (the variable named in
``deployment.SECRETS``), else a prompt that does not echo. A secret already in SSM and not given
again is kept. Values are never printed, logged or put in an error: only their names are.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from signbridge_tools.console import ConsoleError, Target

from .deployment import Deployment, Secret, describe, read_deployment, say_next

Ask = Callable[[str], str]


def read_secrets_file(path: Path) -> dict[str, str]:
    """``NAME=value`` lines (``#`` comments and blank lines allowed; quotes around a value dropped)."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConsoleError(f"Cannot read {path}: {exc.strerror}.") from None
    found: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.removeprefix("export ").partition("=")
        if not sep:
            raise ConsoleError(f"{path}, line {number}: expected NAME=value.")  # the line may hold a secret
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        found[name.strip()] = value
    return found


def choose_value(secret: Secret, given: Mapping[str, str], exists: bool, ask: Ask | None) -> str | None:
    """The new value, or None to leave the parameter as it is."""
    if value := given.get(secret.variable, "").strip():
        return value
    if ask is None:
        return None
    hint = " (Enter keeps the current one)" if exists else " (Enter leaves it unset)" if secret.optional else ""
    return ask(f"{secret.label} [{secret.where}]{hint}: ").strip() or None


def write_secrets(deployment: Deployment, given: Mapping[str, str], ask: Ask | None) -> list[str]:
    """One line per secret saying what happened to it; ConsoleError when a required one is still missing."""
    lines, missing = [], []
    for secret in deployment.secrets:
        name = deployment.ssm_name(secret.parameter)
        current = deployment.read_secret(name)
        value = choose_value(secret, given, current is not None, ask)
        if value is None:
            if current is not None:
                lines.append(f"kept       {name}  ({secret.label})")
            elif secret.optional:
                lines.append(f"not set    {name}  ({secret.label}, optional)")
            else:
                missing.append(secret)
        elif value == current:
            lines.append(f"unchanged  {name}  ({secret.label})")
        else:
            deployment.write_secret(name, value, f"signbridge: {secret.label}")
            lines.append(f"written    {name}  ({secret.label})")
    if missing:
        for line in lines:
            print(line)
        names = "\n".join(f"  {s.variable:<36} {s.label}: {s.where}" for s in missing)
        raise ConsoleError(
            "Still missing (nothing was asked: no terminal). Give each in a --from file or the environment:\n" + names
        )
    return lines


def paste_where(deployment: Deployment) -> list[str]:
    integration_id = deployment.parameters.get("SignCustomiserIntegrationId", "")
    id_line = (
        f"  Integration id      {integration_id} (the stack's SignCustomiserIntegrationId; it must match that page)"
        if integration_id
        else "  Integration id      (empty) redeploy with SignCustomiserIntegrationId=<the id on that page>"
    )
    return [
        "",
        "Sign Customiser, your custom integration's page:",
        f"  Create Product URL  {deployment.url('CreateProductUrl')}",
        id_line,
        f"  Webhooks            `signbridge connect --stack {deployment.name}` subscribes order:created to",
        f"                      {deployment.webhook_url}",
        "",
        "Your platform (its developer calls these; header x-api-key):",
        f"  API URL             {deployment.api_url}   (POST /orders, GET /orders/{{order_id}}, "
        "POST /orders/{order_id}/events)",
        f"  API key             {deployment.api_key()}",
        "",
        f"Next: {say_next(deployment, 'connect', 'doctor')}.",
    ]


def run_setup(args: argparse.Namespace, target: Target) -> int:
    deployment = read_deployment(args, target)
    given: dict[str, str] = {}
    for secret in deployment.secrets:  # the environment first, a file over it
        if value := os.environ.get(secret.variable):
            given[secret.variable] = value
    if args.from_file:
        given |= read_secrets_file(args.from_file)
    ask: Ask | None = getpass.getpass if sys.stdin.isatty() and not args.no_input else None
    print(f"Secrets of stack {deployment.name} (SSM SecureString parameters):")
    for line in write_secrets(deployment, given, ask):
        print(line)
    routed = ", ".join(str(d) for d in deployment.destinations)
    print(
        f"Destinations: {routed} (RoutePlatformOrdersTo {describe(deployment.parameters.get('RoutePlatformOrdersTo'))})"
    )
    for line in paste_where(deployment):
        print(line)
    return 0


def add_parser(commands: argparse._SubParsersAction, where: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "setup",
        parents=[where],
        help="write the stack's secrets to SSM and print what to paste where",
        description="Asks for each secret the stack reads (the Sign Customiser Integration Secret and API "
        "token, each destination's key), or takes it from --from FILE (NAME=value lines) or the environment "
        "(SIGNBRIDGE_INTEGRATION_SECRET, SIGNBRIDGE_SIGNCUSTOMISER_API_TOKEN, SIGNBRIDGE_DROPDAY_API_KEY, "
        "SIGNBRIDGE_ONWARD_API_KEY, ...), and writes them as SecureString parameters under the names the "
        "stack was deployed with. A secret already there and not given again is kept. Never prints a secret.",
    )
    parser.add_argument("--from", dest="from_file", type=Path, metavar="FILE", help="NAME=value lines")
    parser.add_argument("--no-input", action="store_true", help="never prompt (fail on a missing secret)")
    parser.set_defaults(run=run_setup)
