"""signbridge setup, connect and doctor: Given a deployed stack (in moto) and the provider fakes,
Then setup writes the secrets and prints none, connect subscribes once, and doctor is green only
when every wire is right, naming the fix of each red line."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from signbridge_tools import cli
from signbridge_tools.fakes import DropdayFake, OnwardFake, SignCustomiserFake
from tests.conftest import BASE_ENV

STACK = "shop"
API = "https://abc123.execute-api.us-east-1.amazonaws.com/v1"
WEBHOOK_URL = f"{API}/sign-customiser/webhooks"
SECRETS = {
    "SIGNBRIDGE_INTEGRATION_SECRET": "integration-s3cret-value",
    "SIGNBRIDGE_SIGNCUSTOMISER_API_TOKEN": "sc-token-value",
    "SIGNBRIDGE_DROPDAY_API_KEY": "dd-key-value",
    "SIGNBRIDGE_ONWARD_API_KEY": "on-key-value",
}
PARAMETER_NAMES = {
    "IntegrationSecretParam": "/shop/integration-secret",
    "WebhookSecretsParam": "/shop/webhook-secrets",
    "SignCustomiserApiTokenParam": "/shop/signcustomiser-api-token",
    "DropdayApiKeyParam": "/shop/dropday-api-key",
    "OnwardApiKeyParam": "/shop/onward-api-key",
    "PlatformTokenParam": "/shop/platform-token",
}


def stack_template() -> dict[str, Any]:
    """The parameters and outputs the commands read, as the real template names them."""
    plain = [
        "RoutePlatformOrdersTo",
        "ForwardWebhookOrdersTo",
        "PlatformProductUrl",
        "PlatformOrdersSecretParam",
        "SignCustomiserBaseUrl",
        "SignCustomiserIntegrationId",
        "DropdayBaseUrl",
        "DropdayAccountId",
        "OnwardBaseUrl",
        "AlarmTopicArn",
        "TableName",
        "ApiKeyId",
    ]
    parameters = {name: {"Type": "String", "Default": ""} for name in [*PARAMETER_NAMES, *plain]}
    literal = {
        "ApiUrl": API,
        "ApiId": "abc123",
        "StageName": "v1",
        "CreateProductUrl": f"{API}/sign-customiser/products",
        "WebhookUrl": WEBHOOK_URL,
    }
    outputs = {k: {"Value": v} for k, v in literal.items()}
    outputs |= {
        "TableName": {"Value": {"Ref": "TableName"}},
        "ApiKeyId": {"Value": {"Ref": "ApiKeyId"}},
        "DeliveryDLQUrl": {"Value": {"Ref": "DeliveryDLQ"}},
        "OutboxFailedQueueUrl": {"Value": {"Ref": "OutboxFailedQueue"}},
    }
    resources = {"DeliveryDLQ": {"Type": "AWS::SQS::Queue"}, "OutboxFailedQueue": {"Type": "AWS::SQS::Queue"}}
    return {"Parameters": parameters, "Resources": resources, "Outputs": outputs}


@dataclass
class World:
    sc: SignCustomiserFake
    dropday: DropdayFake
    onward: OnwardFake
    tmp: Path

    def ssm(self, parameter: str) -> str | None:
        try:
            answer = boto3.client("ssm").get_parameter(Name=PARAMETER_NAMES[parameter], WithDecryption=True)
        except boto3.client("ssm").exceptions.ParameterNotFound:
            return None
        assert answer["Parameter"]["Type"] == "SecureString"
        return str(answer["Parameter"]["Value"])

    def secrets_file(self, **values: str) -> str:
        path = self.tmp / "secrets.env"
        path.write_text("".join(f"{k}={v}\n" for k, v in (SECRETS | values).items()))
        return str(path)


@pytest.fixture
def world(table: Any, tmp_path: Path) -> Iterator[World]:
    sc = SignCustomiserFake(token=SECRETS["SIGNBRIDGE_SIGNCUSTOMISER_API_TOKEN"])
    dropday = DropdayFake(api_key=SECRETS["SIGNBRIDGE_DROPDAY_API_KEY"], account_id="dd-account")
    onward = OnwardFake(api_key=SECRETS["SIGNBRIDGE_ONWARD_API_KEY"])
    sns, sqs = boto3.client("sns"), boto3.client("sqs")
    topic = sns.create_topic(Name="alarms")["TopicArn"]
    inbox = sqs.create_queue(QueueName="alarm-inbox")["QueueUrl"]
    inbox_arn = sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=inbox_arn)
    key = boto3.client("apigateway").create_api_key(name="platform", enabled=True, value="platform-api-key-0123456789")
    with sc, dropday, onward:
        values = PARAMETER_NAMES | {
            "RoutePlatformOrdersTo": "signcustomiser,dropday,onward",
            "SignCustomiserBaseUrl": sc.url,
            "SignCustomiserIntegrationId": "42",
            "DropdayBaseUrl": dropday.url,
            "DropdayAccountId": "dd-account",
            "OnwardBaseUrl": onward.url,
            "AlarmTopicArn": topic,
            "TableName": BASE_ENV["TABLE_NAME"],
            "ApiKeyId": key["id"],
        }
        boto3.client("cloudformation").create_stack(
            StackName=STACK,
            TemplateBody=json.dumps(stack_template()),
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()],
        )
        yield World(sc, dropday, onward, tmp_path)


def signbridge(*argv: str) -> tuple[int, str]:
    """`signbridge ARGV --stack shop`, as a person runs it: (exit status, everything it printed)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = cli.main([*argv, "--stack", STACK])
    return code, out.getvalue()


def live(world: World) -> None:
    assert signbridge("setup", "--from", world.secrets_file())[0] == 0
    assert signbridge("connect")[0] == 0


def red_lines(output: str) -> list[tuple[str, str]]:
    """Each FAIL line with the fix line under it."""
    lines = output.splitlines()
    return [
        (line.split("FAIL", 1)[1].strip(), lines[i + 1].strip().removeprefix("fix: "))
        for i, line in enumerate(lines)
        if line.strip().startswith("FAIL")
    ]


# --------------------------------------------------------------------------- setup
def test_setup_writes_each_secret_as_a_securestring_and_prints_none(world):
    # When setup reads the merchant's secrets from a file
    code, output = signbridge("setup", "--from", world.secrets_file())
    # Then each lands in the parameter the stack names, as a SecureString
    assert code == 0, output
    assert world.ssm("IntegrationSecretParam") == SECRETS["SIGNBRIDGE_INTEGRATION_SECRET"]
    assert world.ssm("SignCustomiserApiTokenParam") == SECRETS["SIGNBRIDGE_SIGNCUSTOMISER_API_TOKEN"]
    assert world.ssm("DropdayApiKeyParam") == SECRETS["SIGNBRIDGE_DROPDAY_API_KEY"]
    assert world.ssm("OnwardApiKeyParam") == SECRETS["SIGNBRIDGE_ONWARD_API_KEY"]
    assert world.ssm("PlatformTokenParam") is None  # no PlatformProductUrl: not asked for
    # And the output names every parameter but shows no secret
    assert "written    /shop/dropday-api-key  (Dropday API key)" in output
    assert not [value for value in SECRETS.values() if value in output]
    # And it says what to paste where
    assert f"Create Product URL  {API}/sign-customiser/products" in output
    assert f"API URL             {API}" in output
    assert "API key             platform-api-key-0123456789" in output
    assert "`signbridge connect --stack shop`" in output


def test_setup_takes_secrets_from_the_environment_and_keeps_those_not_given_again(world, monkeypatch):
    # Given the secrets in the environment
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    assert signbridge("setup", "--no-input")[0] == 0
    # When it runs again with only a new Dropday key
    for name in SECRETS:
        monkeypatch.delenv(name)
    monkeypatch.setenv("SIGNBRIDGE_DROPDAY_API_KEY", "dd-key-rotated")
    code, output = signbridge("setup", "--no-input")
    # Then that one is written, the others kept, and no value shown
    assert code == 0, output
    assert world.ssm("DropdayApiKeyParam") == "dd-key-rotated"
    assert world.ssm("OnwardApiKeyParam") == SECRETS["SIGNBRIDGE_ONWARD_API_KEY"]
    assert "kept       /shop/onward-api-key  (Onward API key)" in output
    assert "dd-key-rotated" not in output and not [v for v in SECRETS.values() if v in output]


def test_setup_with_nothing_given_and_no_terminal_names_each_missing_secret(world):
    code, output = signbridge("setup", "--no-input")
    assert code == 1
    assert "SIGNBRIDGE_DROPDAY_API_KEY" in output and "Dropday API key" in output
    assert world.ssm("DropdayApiKeyParam") is None


# --------------------------------------------------------------------------- connect
def test_connect_subscribes_order_created_once_and_stores_its_secret(world):
    # Given the secrets are set up
    assert signbridge("setup", "--from", world.secrets_file())[0] == 0
    # When connect runs twice
    first_code, first = signbridge("connect")
    second_code, second = signbridge("connect")
    # Then Sign Customiser has one order:created subscription, to this stack's WebhookUrl
    [subscription] = world.sc.subscriptions
    assert (subscription["topic"], subscription["url"]) == ("order:created", WEBHOOK_URL)
    # And its secret is what the webhooks function reads
    assert world.ssm("WebhookSecretsParam") == subscription["secret"]
    # And each run says what it did; the second created nothing
    assert first_code == second_code == 0
    assert f"created      subscription {subscription['id']}: order:created -> {WEBHOOK_URL}" in first
    assert f"found        subscription {subscription['id']}" in second
    assert "unchanged    /shop/webhook-secrets" in second
    assert subscription["secret"] not in first + second


def test_connect_dry_run_creates_and_writes_nothing(world):
    assert signbridge("setup", "--from", world.secrets_file())[0] == 0
    code, output = signbridge("connect", "--dry-run")
    assert code == 0, output
    assert f"would create subscription order:created -> {WEBHOOK_URL}" in output
    assert "dry run: nothing changed" in output
    assert world.sc.subscriptions == []
    assert world.ssm("WebhookSecretsParam") is None


def test_connect_adds_the_new_secret_beside_the_old_one(world):
    # Given a secret of an older subscription in the parameter (a rotation under way)
    assert signbridge("setup", "--from", world.secrets_file())[0] == 0
    boto3.client("ssm").put_parameter(
        Name=PARAMETER_NAMES["WebhookSecretsParam"], Value="old-secret", Type="SecureString"
    )
    # When connect subscribes this stack
    code, output = signbridge("connect")
    # Then both secrets verify webhooks, the new one first
    assert code == 0, output
    [subscription] = world.sc.subscriptions
    assert world.ssm("WebhookSecretsParam") == f"{subscription['secret']},old-secret"
    assert "beside 1 older one(s)" in output


def test_connect_with_a_refused_token_says_which_parameter_to_fix(world):
    assert signbridge("setup", "--from", world.secrets_file())[0] == 0
    world.sc.token = "revoked-in-sign-customiser"
    code, output = signbridge("connect")
    assert code == 1
    assert "Sign Customiser refused the API token in /shop/signcustomiser-api-token (HTTP 401)" in output
    assert world.sc.subscriptions == []


# --------------------------------------------------------------------------- doctor
def test_doctor_is_green_after_setup_and_connect(world):
    live(world)
    code, output = signbridge("doctor", "--colour", "never")
    assert code == 0, output
    assert red_lines(output) == []
    assert "ok    Dropday API key accepted (GET /api/v1/orders?per_page=1)" in output
    assert "ok    order:created subscription 1 points at this stack" in output
    assert output.rstrip().endswith("checks passed")
    # And it only read: Dropday and Onward received no order
    assert world.dropday.all_orders == [] and world.onward.all_orders == []


def test_doctor_with_a_revoked_dropday_key_is_red_naming_setup(world):
    live(world)
    world.dropday.api_key = "the-merchant-rotated-it"  # the stored key is now revoked
    code, output = signbridge("doctor", "--colour", "never")
    assert code == 1
    assert red_lines(output) == [
        (
            "Dropday API key refused (HTTP 401) with account id dd-account",
            "put a current one in /shop/dropday-api-key with `signbridge setup --stack shop` (the API key of your Dropday account)",
        )
    ]
    assert output.rstrip().endswith("no-go: 1 of 18 check(s) failed")


def test_doctor_with_a_missing_subscription_is_red_naming_connect(world):
    live(world)
    [subscription] = world.sc.subscriptions
    world.sc._subscriptions.clear()  # deleted in Sign Customiser
    code, output = signbridge("doctor", "--colour", "never")
    assert code == 1
    assert red_lines(output) == [
        (
            f"no order:created webhook subscription points at this stack ({WEBHOOK_URL})",
            "`signbridge connect --stack shop`",
        )
    ]
    assert subscription["secret"] not in output


def test_doctor_with_a_missing_parameter_is_red_naming_setup(world):
    live(world)
    boto3.client("ssm").delete_parameter(Name=PARAMETER_NAMES["OnwardApiKeyParam"])
    code, output = signbridge("doctor", "--colour", "never")
    assert code == 1
    assert red_lines(output) == [
        (
            "parameter /shop/onward-api-key (Onward API key) missing",
            "`signbridge setup --stack shop` (it asks for it: the API key of your Onward account)",
        ),
        ("Onward API key not checked: no value in /shop/onward-api-key", "`signbridge setup --stack shop`"),
    ]


def test_doctor_is_red_while_the_dlq_holds_a_message_and_the_alarms_reach_no_one(world):
    live(world)
    outputs = boto3.client("cloudformation").describe_stacks(StackName=STACK)["Stacks"][0]["Outputs"]
    dlq = next(o["OutputValue"] for o in outputs if o["OutputKey"] == "DeliveryDLQUrl")
    boto3.client("sqs").send_message(QueueUrl=dlq, MessageBody='{"order_id": "A-1", "destination": "dropday"}')
    sns = boto3.client("sns")
    for topic in sns.list_topics()["Topics"]:
        for s in sns.list_subscriptions_by_topic(TopicArn=topic["TopicArn"])["Subscriptions"]:
            sns.unsubscribe(SubscriptionArn=s["SubscriptionArn"])
    code, output = signbridge("doctor", "--colour", "never")
    assert code == 1
    reds = dict(red_lines(output))
    assert reds["delivery DLQ holds 1 message(s)"] == (
        "`signbridge dlq list --stack shop`, then `signbridge dlq redrive`"
    )
    [(alarm, fix)] = [(w, f) for w, f in reds.items() if w.startswith("alarm topic")]
    assert alarm.endswith("has no subscriber: the alarms notify no one")
    assert "AlarmEmail=<you@example.com>" in fix
