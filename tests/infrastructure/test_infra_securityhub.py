"""Security Hub in the template (issue 11): off by default; on (`-c securityHub=true`), the function's
SECURITY_HUB, BatchImportFindings on the account's default product only, BatchUpdateFindings on the
region's hub only, and an alarm on the findings it could not import."""

from __future__ import annotations

import pytest

from cert_audit.config import ConfigError
from infra.config import load_stack_config

TOPIC = "AlertingAlertTopicC513ED25"
FUNCTION = "AuditFunctionD052CD6C"
PARTS = ["arn:", {"Ref": "AWS::Partition"}, ":securityhub:", {"Ref": "AWS::Region"}, ":", {"Ref": "AWS::AccountId"}]


@pytest.fixture(scope="module")
def synth(synthesized):
    return synthesized({"securityHub": "true"})


@pytest.fixture(scope="module")
def default(synthesized):
    return synthesized()


def _statements(synth) -> dict[str, dict]:
    """Every statement of every policy of the stack, by Sid."""
    return {
        statement.get("Sid"): statement
        for policy in synth.resources("AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    }


def _variables(synth) -> dict:
    return synth.template_json["Resources"][FUNCTION]["Properties"]["Environment"]["Variables"]


def test_security_hub_is_off_by_default_with_no_permission_and_no_alarm(default):
    assert "SECURITY_HUB" not in _variables(default)
    assert not [sid for sid in _statements(default) if sid and "SecurityHub" in sid]
    assert not [
        alarm
        for alarm in default.resources("AWS::CloudWatch::Alarm").values()
        if alarm["Properties"].get("MetricName") == "SecurityHubFailedFindings"
    ]


def test_on_the_function_imports_into_the_default_product_only_and_updates_on_the_hub_only(synth):
    # Then the function is told, and may import into its account's default product of its region only
    assert _variables(synth)["SECURITY_HUB"] == "true"
    statements = _statements(synth)
    product = {"Fn::Join": ["", [*PARTS, ":product/", {"Ref": "AWS::AccountId"}, "/default"]]}
    assert statements["ImportFindingsIntoSecurityHub"] == {
        "Sid": "ImportFindingsIntoSecurityHub",
        "Action": "securityhub:BatchImportFindings",
        "Effect": "Allow",
        "Resource": product,
    }
    # And may set findings' workflow on this region's hub only
    assert statements["SetTheWorkflowOfSuppressedFindings"] == {
        "Sid": "SetTheWorkflowOfSuppressedFindings",
        "Action": "securityhub:BatchUpdateFindings",
        "Effect": "Allow",
        "Resource": {"Fn::Join": ["", [*PARTS, ":hub/default"]]},
    }
    # And nothing else of Security Hub
    actions = [
        action
        for statement in statements.values()
        for action in ([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])
    ]
    assert sorted(a for a in actions if a.startswith("securityhub:")) == [
        "securityhub:BatchImportFindings",
        "securityhub:BatchUpdateFindings",
    ]


def test_on_an_alarm_tells_of_findings_not_imported(synth):
    alarm = synth.alarm("SecurityHubFailedFindings")
    assert alarm["Dimensions"] == [{"Name": "service", "Value": "iot-cert-audit"}]
    assert (alarm["ComparisonOperator"], alarm["Threshold"], alarm["Statistic"]) == ("GreaterThanThreshold", 0, "Sum")
    assert alarm["AlarmActions"] == [{"Ref": TOPIC}]
    assert "source securityHub" in alarm["AlarmDescription"]


@pytest.mark.parametrize(("value", "on"), [(True, True), ("true", True), ("false", False), (None, False)])
def test_the_context_key_takes_true_or_false(value, on):
    assert load_stack_config({"securityHub": value}).security_hub is on


def test_a_bad_value_stops_synth_naming_the_key():
    with pytest.raises(ConfigError, match=r"securityHub: 'yes' is not allowed; choose true or false"):
        load_stack_config({"securityHub": "yes"})
