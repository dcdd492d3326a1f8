"""From a fresh deployment on the local stack to a green `signbridge doctor`, with `signbridge
setup` and `signbridge connect` only, as a merchant goes live.

The stack is deployed beside the `make dev` one (its own name and its own SSM parameter names, so
the two never share a secret), against the same provider fakes, and deleted afterwards.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest

from signbridge_tools import dev

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def fresh(stack: dict[str, Any]) -> Iterator[dict[str, Any]]:
    name = f"signbridge-golive-{uuid.uuid4().hex[:8]}"
    prefix = f"/{name}"
    names = {
        "IntegrationSecretParam": f"{prefix}/integration-secret",
        "WebhookSecretsParam": f"{prefix}/webhook-secrets",
        "SignCustomiserApiTokenParam": f"{prefix}/signcustomiser-api-token",
        "DropdayApiKeyParam": f"{prefix}/dropday-api-key",
        "OnwardApiKeyParam": f"{prefix}/onward-api-key",
        "PlatformTokenParam": f"{prefix}/platform-token",
    }
    outputs = dev.deploy(stack["fakes"], stack_name=name, extra=names)
    api = f"{dev.ENDPOINT}/_aws/execute-api/{outputs['ApiId']}/{outputs['StageName']}"
    try:
        yield {"name": name, "names": names, "outputs": outputs}
    finally:
        sc = stack["fakes"]["signcustomiser"]  # the shared fake stops sending to the deleted stack
        token = {"Authorization": f"Bearer {sc['token']}"}
        for s in httpx.get(f"{sc['control_url']}/subscriptions", timeout=10).json()["subscriptions"]:
            if s["url"].startswith(api):
                httpx.delete(f"{sc['url']}/api/v2/webhooks/{s['id']}", headers=token, timeout=10)
        ssm = boto3.client("ssm", endpoint_url=dev.ENDPOINT, region_name=dev.REGION, **aws_keys())
        for parameter in names.values():
            with contextlib.suppress(ssm.exceptions.ParameterNotFound):
                ssm.delete_parameter(Name=parameter)
        env = {**os.environ, **dev.AWS_ENV, "STACK_NAME": name}
        subprocess.run(["bash", "local/stack.sh", "delete"], cwd=dev.ROOT, env=env, capture_output=True, check=False)


def aws_keys() -> dict[str, str]:
    return {"aws_access_key_id": "test", "aws_secret_access_key": "test"}


def signbridge(*args: str) -> tuple[int, str]:
    done = dev.console(*args)
    return done.returncode, done.stdout + done.stderr


def test_a_fresh_deployment_goes_live_with_setup_and_connect_only(stack, fresh, tmp_path: Path):
    sc = stack["fakes"]["signcustomiser"]
    given = {
        "SIGNBRIDGE_INTEGRATION_SECRET": f"integration-{uuid.uuid4().hex}",
        "SIGNBRIDGE_SIGNCUSTOMISER_API_TOKEN": sc["token"],
        "SIGNBRIDGE_DROPDAY_API_KEY": stack["fakes"]["dropday"]["api_key"],
        "SIGNBRIDGE_ONWARD_API_KEY": stack["fakes"]["onward"]["api_key"],
    }
    secrets = tmp_path / "secrets.env"
    secrets.write_text("".join(f"{k}={v}\n" for k, v in given.items()))
    name = fresh["name"]

    # Given a deployment nothing was set up for: doctor is no-go, naming setup and connect
    code, before = signbridge("doctor", "--stack", name, "--colour", "never")
    assert code == 1
    assert f"fix: `signbridge setup --stack {name}`" in before
    assert f"fix: `signbridge connect --stack {name}`" in before

    # When the merchant runs setup, then connect
    setup_code, setup = signbridge("setup", "--stack", name, "--from", str(secrets), "--no-input")
    connect_code, connect = signbridge("connect", "--stack", name)

    # Then each says what it did, and no secret is shown
    assert setup_code == 0, setup
    assert connect_code == 0, connect
    assert not [v for v in given.values() if v in setup + connect]
    api = f"{dev.ENDPOINT}/_aws/execute-api/{fresh['outputs']['ApiId']}/{fresh['outputs']['StageName']}"
    assert f"Create Product URL  {api}/sign-customiser/products" in setup
    assert "created      subscription" in connect

    # And the secrets landed where the stack reads them
    ssm = boto3.client("ssm", endpoint_url=dev.ENDPOINT, region_name=dev.REGION, **aws_keys())

    def stored(parameter: str) -> str:
        return str(ssm.get_parameter(Name=fresh["names"][parameter], WithDecryption=True)["Parameter"]["Value"])

    assert stored("IntegrationSecretParam") == given["SIGNBRIDGE_INTEGRATION_SECRET"]
    assert stored("DropdayApiKeyParam") == given["SIGNBRIDGE_DROPDAY_API_KEY"]
    # And Sign Customiser sends order:created to this stack, signed with the secret now stored
    subscriptions = httpx.get(f"{sc['control_url']}/subscriptions", timeout=10).json()["subscriptions"]
    ours = [s for s in subscriptions if s["url"] == f"{api}/sign-customiser/webhooks"]
    assert [s["topic"] for s in ours] == ["order:created"]
    assert stored("WebhookSecretsParam") == ours[0]["secret"]

    # And doctor is green, every line ok, exit status 0
    code, after = signbridge("doctor", "--stack", name, "--colour", "never")
    assert code == 0, after
    assert "FAIL" not in after
    assert after.rstrip().splitlines()[-1].startswith("go: all ")

    # And connect again changes nothing
    code, again = signbridge("connect", "--stack", name)
    assert code == 0, again
    assert "created      subscription" not in again and "unchanged" in again
    assert len(httpx.get(f"{sc['control_url']}/subscriptions", timeout=10).json()["subscriptions"]) == len(
        subscriptions
    )
