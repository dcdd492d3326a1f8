"""What the going-live commands know of a deployed stack: its template parameters and outputs, the
URLs Sign Customiser and the platform are given, and the secrets it reads from SSM.

The secrets' SSM names are the stack's own parameter values (``IntegrationSecretParam`` and the
rest), so a deployment that renamed them is set up where its functions will look. On MiniStack
(an ``--endpoint-url`` or ``AWS_ENDPOINT_URL``), the API is served under
``{endpoint}/_aws/execute-api/{ApiId}/{StageName}`` rather than at the output's AWS host name.
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from signbridge.destinations import Destination
from signbridge_tools.console import LOCAL_STACK_FILE, ConsoleError, Target

# The webhook-secrets parameter is written by `connect` (the secrets come from the subscriptions).
WEBHOOK_SECRETS = "WebhookSecretsParam"


@dataclass(frozen=True)
class Secret:
    """One SecureString the stack reads: the template parameter naming it, what it is, the
    variable (in the environment or a --from file) that may carry it, and where to find it."""

    parameter: str
    label: str
    variable: str
    where: str
    destination: Destination | None = None
    optional: bool = False


SECRETS = (
    Secret(
        "IntegrationSecretParam",
        "Sign Customiser Integration Secret",
        "SIGNBRIDGE_INTEGRATION_SECRET",
        "Sign Customiser: your custom integration's page, Integration Secret",
    ),
    Secret(
        "SignCustomiserApiTokenParam",
        "Sign Customiser API token",
        "SIGNBRIDGE_SIGNCUSTOMISER_API_TOKEN",
        "an API token of your Sign Customiser account",
        Destination.SIGN_CUSTOMISER,
    ),
    Secret(
        "DropdayApiKeyParam",
        "Dropday API key",
        "SIGNBRIDGE_DROPDAY_API_KEY",
        "the API key of your Dropday account",
        Destination.DROPDAY,
    ),
    Secret(
        "OnwardApiKeyParam",
        "Onward API key",
        "SIGNBRIDGE_ONWARD_API_KEY",
        "the API key of your Onward account",
        Destination.ONWARD,
    ),
    Secret(
        "PlatformTokenParam",
        "platform token for the product callback",
        "SIGNBRIDGE_PLATFORM_TOKEN",
        "your platform: the token its product endpoint expects (Bearer)",
        optional=True,
    ),
    Secret(
        "PlatformOrdersSecretParam",
        "platform orders signing secret",
        "SIGNBRIDGE_PLATFORM_ORDERS_SECRET",
        "a secret you choose and give your platform developer (POST /orders is signed with it)",
    ),
)


@dataclass(frozen=True)
class Deployment:
    name: str
    parameters: dict[str, str]
    outputs: dict[str, str]
    target: Target
    local_api: str | None  # the API's base URL on MiniStack; None on AWS

    # ---- URLs
    def url(self, output: str) -> str:
        value = self.outputs.get(output)
        if not value:
            raise ConsoleError(f"Stack {self.name} has no output {output}: deploy the current template.")
        if self.local_api is None:
            return value
        return self.local_api + value.removeprefix(self.outputs.get("ApiUrl", ""))

    @property
    def api_url(self) -> str:
        return self.url("ApiUrl")

    @property
    def webhook_url(self) -> str:
        return self.url("WebhookUrl")

    # ---- what it is configured to do
    @property
    def destinations(self) -> list[Destination]:
        """Where orders go: the platform's routes, webhook orders' routes, and Sign Customiser
        (whose token `connect` needs in any case)."""
        named = ",".join(
            [self.parameters.get("RoutePlatformOrdersTo", ""), self.parameters.get("ForwardWebhookOrdersTo", "")]
        )
        found = {Destination(n.strip()) for n in named.split(",") if n.strip() in set(Destination)}
        return [d for d in Destination if d in found or d is Destination.SIGN_CUSTOMISER]

    def needs(self, secret: Secret) -> bool:
        if not self.parameters.get(secret.parameter):  # e.g. PlatformOrdersSecretParam left empty
            return False
        if secret.parameter == "PlatformTokenParam":
            return bool(self.parameters.get("PlatformProductUrl"))
        return secret.destination is None or secret.destination in self.destinations

    @property
    def secrets(self) -> list[Secret]:
        return [s for s in SECRETS if self.needs(s)]

    def ssm_name(self, parameter: str) -> str:
        return self.parameters[parameter]

    # ---- SSM
    def read_secret(self, name: str) -> str | None:
        """The SecureString's value, or None when it does not exist; other failures raise."""
        try:
            answer = self.target.client("ssm").get_parameter(Name=name, WithDecryption=True)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ParameterNotFound":
                return None
            raise
        return str(answer["Parameter"]["Value"])

    def write_secret(self, name: str, value: str, description: str) -> None:
        self.target.client("ssm").put_parameter(
            Name=name, Value=value, Type="SecureString", Overwrite=True, Description=description
        )

    def api_key(self) -> str:
        key_id = self.outputs.get("ApiKeyId")
        if not key_id:
            raise ConsoleError(f"Stack {self.name} has no output ApiKeyId: deploy the current template.")
        return str(self.target.client("apigateway").get_api_key(apiKey=key_id, includeValue=True)["value"])


def stack_name(args: argparse.Namespace) -> str:
    if args.stack:
        return str(args.stack)
    if args.local and LOCAL_STACK_FILE.is_file():
        return str(json.loads(LOCAL_STACK_FILE.read_text())["stack_name"])
    raise ConsoleError("Which stack? Pass --stack NAME (the name you gave `sam deploy`).")


def read_deployment(args: argparse.Namespace, target: Target) -> Deployment:
    name = stack_name(args)
    try:
        [stack] = target.client("cloudformation").describe_stacks(StackName=name)["Stacks"]
    except ClientError as exc:
        raise ConsoleError(f"No stack {name!r} here ({exc.response.get('Error', {}).get('Message', exc)}).") from None
    parameters = {p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])}
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    endpoint = target.endpoint_url or os.environ.get("AWS_ENDPOINT_URL")
    local_api = None
    if endpoint and outputs.get("ApiId"):
        local_api = f"{endpoint.rstrip('/')}/_aws/execute-api/{outputs['ApiId']}/{outputs.get('StageName', 'v1')}"
    return Deployment(name, parameters, outputs, target, local_api)


def say_next(deployment: Deployment, *commands: str) -> str:
    where = f"--stack {deployment.name}"
    return ", then ".join(f"`signbridge {c} {where}`" for c in commands)


def describe(value: Any) -> str:
    """A value a person may read (never a secret)."""
    return "(empty)" if value in (None, "") else str(value)
