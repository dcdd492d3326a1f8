"""template.yaml after the SAM transform (samtranslator, as CloudFormation receives it): Given the
translated template, Then each function's role names only its own resources and nothing is on "*"
but the actions AWS takes no resource for, the dashboard names the API as CloudWatch files its
metrics, and every alarm notifies the topic the parameters choose."""

from __future__ import annotations

import json
import re
import subprocess
from functools import cache
from typing import Any

import pytest

from tests.support.template import ROOT

SAM_PYTHON = ROOT / ".venv-sam" / "bin" / "python"
TRANSLATE = ROOT / "local" / "translate-template.py"

# Actions AWS authorizes only on "*": they act on no resource an ARN could name.
ALLOWED_ON_ANY_RESOURCE = frozenset({"xray:PutTraceSegments", "xray:PutTelemetryRecords", "cloudwatch:PutMetricData"})

# What each function's role may name: the template's resources (Ref/GetAtt) and the parameters
# that name its secrets. Anything else in a statement, or anything missing, fails.
ROLE_NAMES = {
    "ProductsFunction": {"Table", "ProductsLogGroup", "IntegrationSecretParam", "PlatformTokenParam"},
    "WebhooksFunction": {"Table", "WebhooksLogGroup", "WebhookSecretsParam"},
    "OrdersFunction": {"Table", "OrdersLogGroup", "PlatformOrdersSecretParam"},
    "OutboxFunction": {"Table", "DeliveryQueue", "OutboxFailedQueue", "OutboxLogGroup"},
    "ForwarderFunction": {
        "Table",
        "DeliveryQueue",
        "DeliveryDLQ",
        "ForwarderLogGroup",
        "SignCustomiserApiTokenParam",
        "DropdayApiKeyParam",
        "OnwardApiKeyParam",
    },
    "SweeperFunction": {
        "Table",
        "DeliveryQueue",
        "SweeperLogGroup",
        "SignCustomiserApiTokenParam",
        "DropdayApiKeyParam",
        "OnwardApiKeyParam",
    },
}


@cache
def translated() -> dict[str, Any]:
    if not SAM_PYTHON.exists():
        pytest.fail(f"no {SAM_PYTHON} (SAM CLI's virtualenv, which has samtranslator): run `bash local/stack.sh venvs`")
    done = subprocess.run([str(SAM_PYTHON), str(TRANSLATE)], capture_output=True, text=True, cwd=ROOT, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return dict(json.loads(done.stdout))


def resources(kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in translated()["Resources"].items() if r["Type"] == kind}


def statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    """A policy document's statements, both branches of a conditional one included."""
    found: list[dict[str, Any]] = []
    listed = document["Statement"]
    for statement in listed if isinstance(listed, list) else [listed]:
        if "Fn::If" in statement:
            found += [s for s in statement["Fn::If"][1:] if s != {"Ref": "AWS::NoValue"}]
        else:
            found.append(statement)
    return found


def role_statements(role: str) -> list[dict[str, Any]]:
    """Every statement the role gets: its inline policies and the policies attached to it."""
    documents = [p["PolicyDocument"] for p in resources("AWS::IAM::Role")[role]["Properties"].get("Policies", [])]
    documents += [
        p["Properties"]["PolicyDocument"]
        for p in resources("AWS::IAM::Policy").values()
        if {"Ref": role} in p["Properties"]["Roles"]
    ]
    return [s for d in documents for s in statements(d)]


def function_role(function: str) -> str:
    role = resources("AWS::Lambda::Function")[function]["Properties"]["Role"]
    assert set(role) == {"Fn::GetAtt"}, f"{function}'s role is not one of the template's: {role}"
    return str(role["Fn::GetAtt"][0])


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def names_in(value: Any) -> set[str]:
    """Logical ids and parameters a value refers to (Ref, GetAtt, ${...} in Sub), pseudo-parameters aside."""
    if isinstance(value, list):
        return set().union(*(names_in(v) for v in value)) if value else set()
    if not isinstance(value, dict):
        return set()
    if "Ref" in value:
        return set() if value["Ref"].startswith("AWS::") else {value["Ref"]}
    if "Fn::GetAtt" in value:
        return {value["Fn::GetAtt"][0]}
    if "Fn::Sub" in value:
        text, variables = (value["Fn::Sub"], {}) if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"]
        referred = {m.split(".")[0] for m in re.findall(r"\$\{([^}!]+)\}", text) if not m.startswith("AWS::")}
        return (referred - set(variables)) | names_in(list(variables.values()))
    return names_in(list(value.values()))


# ---------------------------------------------------------------- least privilege


def test_every_function_has_a_role_of_its_own():
    roles = {function: function_role(function) for function in resources("AWS::Lambda::Function")}

    assert sorted(roles) == sorted(ROLE_NAMES)
    assert len(set(roles.values())) == len(roles)


def test_no_role_attaches_a_managed_policy():
    """SAM's own roles attach AWSLambdaBasicExecutionRole (logs on "*"), AWSXrayWriteOnlyAccess and,
    for the stream and queue event sources, AWSLambdaDynamoDBExecutionRole and
    AWSLambdaSQSQueueExecutionRole (every stream and queue on "*"). None is attached here."""
    attached = {name: r["Properties"].get("ManagedPolicyArns") for name, r in resources("AWS::IAM::Role").items()}

    assert attached == dict.fromkeys(attached)
    assert resources("AWS::IAM::ManagedPolicy") == {}


def test_nothing_is_allowed_on_every_resource_but_what_aws_requires_there():
    checked, on_any = 0, set()
    for function in ROLE_NAMES:
        for statement in role_statements(function_role(function)):
            checked += 1
            assert statement["Effect"] == "Allow" and "NotResource" not in statement and "NotAction" not in statement
            if "*" in as_list(statement["Resource"]):
                on_any |= set(as_list(statement["Action"]))

    assert checked >= 3 * len(ROLE_NAMES)
    assert on_any <= ALLOWED_ON_ANY_RESOURCE, on_any - ALLOWED_ON_ANY_RESOURCE


def test_no_action_is_a_wildcard():
    for function in ROLE_NAMES:
        for statement in role_statements(function_role(function)):
            for action in as_list(statement["Action"]):
                assert "*" not in action, f"{function}: {action}"


@pytest.mark.parametrize("function", sorted(ROLE_NAMES))
def test_each_role_names_its_own_table_queues_log_group_and_secrets(function):
    named = names_in([s["Resource"] for s in role_statements(function_role(function))])

    assert named == ROLE_NAMES[function]


def scoped(function: str, action: str) -> list[Any]:
    return [
        resource
        for statement in role_statements(function_role(function))
        if action in as_list(statement["Action"])
        for resource in as_list(statement["Resource"])
    ]


@pytest.mark.parametrize("action", ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"])
def test_the_queue_poller_reads_the_delivery_queue_only(action):
    assert scoped("ForwarderFunction", action) == [{"Fn::GetAtt": ["DeliveryQueue", "Arn"]}]


@pytest.mark.parametrize(
    "action", ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"]
)
def test_the_stream_poller_reads_the_tables_stream_only(action):
    assert scoped("OutboxFunction", action) == [{"Fn::Sub": "${Table.Arn}/stream/*"}]


def test_the_state_index_is_the_sweepers_alone():
    index = {"Fn::Sub": "${Table.Arn}/index/ByDeliveryState"}
    readers = {f for f in ROLE_NAMES if index in scoped(f, "dynamodb:Query")}

    assert readers == {"SweeperFunction"}


def test_each_function_writes_to_its_own_log_group():
    for function in ROLE_NAMES:
        group = function.replace("Function", "LogGroup")
        assert scoped(function, "logs:PutLogEvents") == [{"Fn::GetAtt": [group, "Arn"]}]
        assert scoped(function, "logs:CreateLogStream") == [{"Fn::GetAtt": [group, "Arn"]}]
        assert scoped(function, "logs:CreateLogGroup") == []


def test_every_traced_function_may_send_its_traces():
    for function in ROLE_NAMES:
        assert resources("AWS::Lambda::Function")[function]["Properties"]["TracingConfig"] == {"Mode": "Active"}
        assert scoped(function, "xray:PutTraceSegments") == ["*"]


# ---------------------------------------------------------------- dashboard

SUBSTITUTED = {"AWS::StackName": "signbridge-stack", "AWS::Region": "us-east-1", "StageName": "v1"}


def substitute(text: str) -> str:
    return re.sub(r"\$\{([^}]+)\}", lambda m: SUBSTITUTED.get(m.group(1), f"<{m.group(1)}>"), text)


def resolved(value: Any) -> Any:
    if isinstance(value, dict) and "Ref" in value:
        return SUBSTITUTED.get(value["Ref"], f"<{value['Ref']}>")
    if isinstance(value, dict) and "Fn::Sub" in value:
        return substitute(value["Fn::Sub"])
    return value


def api_metric_rows() -> list[list[Any]]:
    body = resources("AWS::CloudWatch::Dashboard")["Dashboard"]["Properties"]["DashboardBody"]
    widgets = json.loads(resolved(body))["widgets"]
    rows = [row for widget in widgets for row in widget["properties"].get("metrics", [])]
    return [row for row in rows if row and row[0] == "AWS/ApiGateway"]


def test_the_api_widgets_name_the_api_as_cloudwatch_files_its_metrics():
    """API Gateway files a REST API's metrics under its name (dimension ApiName), not its id."""
    api = resources("AWS::ApiGateway::RestApi")["Api"]["Properties"]
    rows = api_metric_rows()

    assert len(rows) >= 2
    for row in rows:
        dimensions = dict(zip(row[2::2], row[3::2], strict=False))
        assert dimensions["ApiName"] == resolved(api["Name"]) == "signbridge-stack"
        assert dimensions["Stage"] == "v1"


# ---------------------------------------------------------------- alarms

OPS_TOPIC = "arn:aws:sns:us-east-1:123456789012:ops"
ALARMS = {
    "DeliveryDLQAlarm",
    "OutboxFailedAlarm",
    "DestinationAuthAlarm",
    "CancelByHandAlarm",
    "DeliveryBlockedAlarm",
    "WebhookOrderNotForwardedAlarm",
    "WebhookOrderMoneyUnexplainedAlarm",
    "DeliveriesHeldAlarm",
    "DeliveriesAwaitingOperatorAlarm",
    "InDoubtCheckFailedAlarm",
    "SupplierProblemAlarm",
    "OrderLostAtDestinationAlarm",
    "OldestUnsettledAlarm",
    "DeliveryRejectedAlarm",
    "DeliveryMappingFailedAlarm",
    "DeliveryExhaustedAlarm",
    "DeliveryErroredAlarm",
    "SweeperErrorsAlarm",
    "ForwarderErrorsAlarm",
}


def holds(condition: Any, parameters: dict[str, str]) -> bool:
    """A template condition, evaluated for the given parameter values."""
    (function, argument), *_ = condition.items()
    if function == "Condition":
        return holds(translated()["Conditions"][argument], parameters)
    if function == "Fn::Not":
        return not holds(argument[0], parameters)
    if function == "Fn::And":
        return all(holds(c, parameters) for c in argument)
    if function == "Fn::Or":
        return any(holds(c, parameters) for c in argument)
    if function == "Fn::Equals":
        a, b = (parameters[v["Ref"]] if isinstance(v, dict) else v for v in argument)
        return bool(a == b)
    raise AssertionError(f"unexpected condition function {function}")


def alarm_targets(alarm: dict[str, Any], parameters: dict[str, str]) -> list[str]:
    """The alarm's actions for these parameters: AlarmTopicArn's value, or "AlarmTopic" (the stack's)."""

    def pick(value: Any) -> Any:
        if isinstance(value, dict) and "Fn::If" in value:
            name, yes, no = value["Fn::If"]
            return pick(yes if holds({"Condition": name}, parameters) else no)
        if isinstance(value, list):
            return [pick(v) for v in value]
        if value == {"Ref": "AWS::NoValue"}:
            return []
        if isinstance(value, dict) and "Ref" in value:
            return parameters.get(value["Ref"], value["Ref"])
        return value

    return list(pick(alarm["Properties"].get("AlarmActions", {"Ref": "AWS::NoValue"})))


def test_the_alarms_are_the_ones_operators_and_tests_know():
    assert set(resources("AWS::CloudWatch::Alarm")) == ALARMS


@pytest.mark.parametrize(
    ("topic", "email", "targets", "creates_topic"),
    [
        ("", "", [], False),
        ("", "ops@example.com", ["AlarmTopic"], True),
        (OPS_TOPIC, "", [OPS_TOPIC], False),
        (OPS_TOPIC, "ops@example.com", [OPS_TOPIC], False),
    ],
)
def test_every_alarm_notifies_the_topic_the_parameters_choose(topic, email, targets, creates_topic):
    parameters = {"AlarmTopicArn": topic, "AlarmEmail": email}

    for name, alarm in resources("AWS::CloudWatch::Alarm").items():
        assert alarm_targets(alarm, parameters) == targets, name
    for made in ("AlarmTopic", "AlarmEmailSubscription"):
        condition = translated()["Resources"][made]["Condition"]
        assert holds({"Condition": condition}, parameters) is creates_topic


def test_the_stacks_topic_mails_the_alarm_email():
    subscription = translated()["Resources"]["AlarmEmailSubscription"]["Properties"]

    assert subscription == {"TopicArn": {"Ref": "AlarmTopic"}, "Protocol": "email", "Endpoint": {"Ref": "AlarmEmail"}}


@pytest.mark.parametrize("name", sorted(ALARMS))
def test_each_alarm_says_in_one_sentence_what_happened_and_what_to_do(name):
    text = resources("AWS::CloudWatch::Alarm")[name]["Properties"]["AlarmDescription"]
    outside_code = re.sub(r"`[^`]*`", "`…`", text)

    assert isinstance(text, str) and len(text) <= 1024
    assert outside_code.endswith(".") and ". " not in outside_code.rstrip(".")
    assert ": " in outside_code  # what happened: what to do
    assert "README" not in text
