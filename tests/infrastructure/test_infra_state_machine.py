"""Issue 12 in the template: the state machine the schedules start, its roles, the parts of a run in the
report bucket, its alarm and dashboard row, and the maxContinuations context."""

from __future__ import annotations

import json

import pytest
from aws_cdk import App

from cert_audit.config import ConfigError
from infra.application import build
from infra.workflow import definition

STATE_MACHINE = "WorkflowStateMachine8F1B1C15"
FUNCTION = "AuditFunctionD052CD6C"
REPORT_BUCKET = "MemoryReportBucket3C9E49C7"


@pytest.fixture(scope="module")
def synth(synthesized):
    return synthesized()


def test_the_state_machine_runs_exactly_the_tested_definition_on_the_function(synth):
    machine = synth.only("AWS::StepFunctions::StateMachine")["Properties"]
    # Then it is the definition the integration tests execute, with the function's ARN substituted
    assert json.loads(machine["DefinitionString"]) == definition("${AuditFunctionArn}", 20)
    assert machine["DefinitionSubstitutions"] == {"AuditFunctionArn": {"Fn::GetAtt": [FUNCTION, "Arn"]}}
    assert machine["StateMachineType"] == "STANDARD"
    # And every execution event is logged (without the payloads) and traced
    assert machine["LoggingConfiguration"]["Level"] == "ALL"
    assert machine["LoggingConfiguration"]["IncludeExecutionData"] is False
    assert machine["TracingConfiguration"] == {"Enabled": True}


def test_its_role_invokes_the_function_and_nothing_else(synth):
    roles = synth.resources("AWS::IAM::Role")
    (role,) = [r for r in roles.values() if "states.amazonaws.com" in json.dumps(r["Properties"])]
    (policy,) = role["Properties"]["Policies"]
    statements = {statement["Sid"]: statement for statement in policy["PolicyDocument"]["Statement"]}
    assert statements["InvokeTheAuditFunction"] == {
        "Sid": "InvokeTheAuditFunction",
        "Action": "lambda:InvokeFunction",
        "Effect": "Allow",
        "Resource": {"Fn::GetAtt": [FUNCTION, "Arn"]},  # unqualified: no version or alias wildcard
    }
    # the logging and tracing actions AWS accepts on "*" only, and nothing else
    assert set(statements) == {"InvokeTheAuditFunction", "DeliverTheExecutionLogs", "TraceTheExecutions"}
    assert all(action.startswith("logs:") for action in statements["DeliverTheExecutionLogs"]["Action"])
    assert all(action.startswith("xray:") for action in statements["TraceTheExecutions"]["Action"])


def test_the_schedules_may_start_it_and_nothing_else(synth):
    roles = synth.resources("AWS::IAM::Role")
    (role,) = [r for r in roles.values() if "events.amazonaws.com" in json.dumps(r["Properties"])]
    (policy,) = role["Properties"]["Policies"]
    assert policy["PolicyDocument"]["Statement"] == [
        {
            "Sid": "StartAnAuditRun",
            "Action": "states:StartExecution",
            "Effect": "Allow",
            "Resource": {"Ref": STATE_MACHINE},
        }
    ]


def test_a_runs_parts_live_under_parts_and_expire_after_a_day(synth):
    rules = synth.template_json["Resources"][REPORT_BUCKET]["Properties"]["LifecycleConfiguration"]["Rules"]
    parts = [rule for rule in rules if rule["Prefix"] == "parts/"]
    assert {rule["Id"] for rule in parts} == {"ExpireRunParts", "RemoveExpiredPartMarkers"}
    (expire,) = [rule for rule in parts if "ExpirationInDays" in rule]
    assert (expire["ExpirationInDays"], expire["NoncurrentVersionExpiration"]) == (1, {"NoncurrentDays": 1})
    statements = synth.only("AWS::IAM::Policy")["Properties"]["PolicyDocument"]["Statement"]
    (keep,) = [statement for statement in statements if statement.get("Sid") == "KeepTheRunsParts"]
    assert keep["Action"] == ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"]
    assert keep["Resource"] == {"Fn::Join": ["", [{"Fn::GetAtt": [REPORT_BUCKET, "Arn"]}, "/parts/*"]]}


def test_a_failed_execution_alarms_and_the_dashboard_shows_the_runs(synth):
    alarm = synth.alarm("ExecutionsFailed")
    assert alarm["Namespace"] == "AWS/States" and alarm["Statistic"] == "Sum"
    assert alarm["Dimensions"] == [{"Name": "StateMachineArn", "Value": {"Ref": STATE_MACHINE}}]
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 0)
    titles = {widget["properties"].get("title") for widget in synth.dashboard_widgets()}
    assert {
        "Audit runs (state machine executions)",
        "Continuations per run (invocations after the first)",
        "Run duration, first invocation to report",
    } <= titles


def test_the_function_can_still_be_invoked_directly(synth):
    # Its asynchronous retry and on-failure destination stay, for a quick single-invocation run
    config = synth.only("AWS::Lambda::EventInvokeConfig")["Properties"]
    assert config["MaximumRetryAttempts"] == 1 and "OnFailure" in config["DestinationConfig"]
    outputs = synth.template_json["Outputs"]
    assert outputs["StateMachineArn"]["Value"] == {"Ref": STATE_MACHINE}
    assert "FunctionName" in outputs


def test_max_continuations_comes_from_the_context(synthesize):
    machine = synthesize({"maxContinuations": "3"}).only("AWS::StepFunctions::StateMachine")["Properties"]
    assert json.loads(machine["DefinitionString"]) == definition("${AuditFunctionArn}", 3)


@pytest.mark.parametrize("value", ["-1", "1001", "many", "true", "2.5"])
def test_a_bad_max_continuations_stops_synth_naming_the_key_and_the_range(value):
    app = App(context={"maxContinuations": value})
    with pytest.raises(ConfigError, match=r"maxContinuations: .* is not allowed; give a whole number from 0 to 1000"):
        build(app)
    assert app.node.children == []
