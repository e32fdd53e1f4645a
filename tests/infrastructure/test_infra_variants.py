"""The template for a configured deployment (`-c` strings), and bad context stopping synth early."""

from __future__ import annotations

import json

import pytest
from aws_cdk import App

from cert_audit.config import ConfigError
from infra.application import build

CA_A = "a" * 64
CA_B = "0123456789abcdef" * 4
TOPIC = "AlertingAlertTopicC513ED25"

# As `cdk deploy -c key=value` hands them over: strings, lists comma-separated.
COMMAND_LINE = {
    "caCertificateIds": f"{CA_A.upper()}, {CA_B}",
    "alertEmails": "ops@example.com,sec@example.org",
    "schedule": "cron(0/30 * * * ? *)",
    "flaggedStatuses": "revoked",
    "notifyOn": "always",
    "alarmOnFindings": "true",
    "metricsDetail": "totals",
    "runbookUrl": "https://wiki.example.com/iot-audit#runbook",
    "caExpiryWarningDays": "30",
    "maxCertificateAgeDays": "365",
    "iotRateLimit": "8",
    # the digest a quarter hour after a half-hourly run: the default (Mondays 08:00) would start with one
    "digestSchedule": "cron(15 8 ? * MON *)",
}


@pytest.fixture(scope="module")
def synth(synthesize):
    return synthesize(COMMAND_LINE)


def test_function_environment_carries_the_configured_cas_statuses_and_choices(synth):
    variables = synth.only("AWS::Lambda::Function")["Properties"]["Environment"]["Variables"]
    assert variables["CA_CERTIFICATE_IDS"] == f"{CA_A},{CA_B}"
    assert variables["FLAGGED_STATUSES"] == "REVOKED"
    assert variables["NOTIFY_ON"] == "always"
    assert variables["METRICS_DETAIL"] == "totals"
    assert variables["CA_EXPIRY_WARNING_DAYS"] == "30"
    assert variables["MAX_CERTIFICATE_AGE_DAYS"] == "365"
    assert variables["IOT_RATE_LIMIT"] == "8"
    assert "SUPPRESSIONS_PARAMETER" not in variables  # no suppressionsFile given


def test_listing_the_cas_is_not_granted_when_the_cas_are_named(synth):
    statements = synth.only("AWS::IAM::Policy")["Properties"]["PolicyDocument"]["Statement"]
    (iot,) = [statement for statement in statements if statement.get("Sid") == "ListDeviceCertificatesOfCAs"]
    assert iot == {
        "Sid": "ListDeviceCertificatesOfCAs",
        "Action": "iot:ListCertificatesByCA",
        "Effect": "Allow",
        "Resource": "*",
    }


def test_describing_cas_is_granted_on_the_named_cas_only(synth, cacert_arn):
    statements = synth.only("AWS::IAM::Policy")["Properties"]["PolicyDocument"]["Statement"]
    (describe,) = [statement for statement in statements if statement.get("Sid") == "DescribeTheAuditedCAs"]
    assert describe["Action"] == "iot:DescribeCACertificate"
    expected = [cacert_arn(CA_A), cacert_arn(CA_B)]
    assert sorted(describe["Resource"], key=json.dumps) == sorted(expected, key=json.dumps)


def test_one_email_subscription_per_address(synth):
    subscriptions = sorted(
        (
            resource["Properties"]["Endpoint"],
            resource["Properties"]["Protocol"],
            json.dumps(resource["Properties"]["TopicArn"]),
        )
        for resource in synth.resources("AWS::SNS::Subscription").values()
    )
    topic = json.dumps({"Ref": TOPIC})
    assert subscriptions == [("ops@example.com", "email", topic), ("sec@example.org", "email", topic)]


def test_cron_schedule_is_used_and_sets_the_heartbeat_window(synth):
    # Given runs every 30 minutes, and the digest between two of them
    expressions = {rule["Properties"]["ScheduleExpression"] for rule in synth.resources("AWS::Events::Rule").values()}
    assert expressions == {"cron(0/30 * * * ? *)", "cron(15 8 ? * MON *)"}
    heartbeat = synth.alarm("AuditRuns")

    # Then 90 minutes without a completed run (> 2 x 30 min + the 15-minute timeout) alarms
    assert (heartbeat["Period"], heartbeat["EvaluationPeriods"]) == (1800, 3)


def test_findings_alarm_when_asked_for(synth):
    findings = synth.alarm("Findings")
    assert findings["Dimensions"] == [{"Name": "service", "Value": "iot-cert-audit"}]
    assert (findings["ComparisonOperator"], findings["Threshold"]) == ("GreaterThanThreshold", 0)
    assert findings["TreatMissingData"] == "notBreaching"
    assert findings["AlarmActions"] == [{"Ref": TOPIC}]
    (alarms,) = [widget for widget in synth.dashboard_widgets() if widget["type"] == "alarm"]
    # no CA expiry alarm with totals; the findings alarm added, the failed-events alarm (events on by default)
    # and the failed-executions alarm
    assert len(alarms["properties"]["alarms"]) == 8


def test_dashboard_with_totals_only_has_no_per_ca_graphs_and_links_the_runbook(synth):
    # Given METRICS_DETAIL=totals: the engine emits no per-CA metric
    widgets = synth.dashboard_widgets()

    # Then no graph searches per-CA metrics that would stay empty
    assert "CaCertificateId" not in json.dumps([widget for widget in widgets if widget["type"] == "metric"])

    # And the run totals by finding type and the suppressed findings are still shown, side by side
    assert [
        (widget["properties"]["title"], widget["width"])
        for widget in widgets
        if widget["properties"].get("title", "").startswith(("Findings by type", "Suppressed"))
    ] == [("Findings by type, all CAs", 12), ("Suppressed findings (accepted, not alerted)", 12)]

    # And the explanation links the runbook URL that was given
    (text,) = [widget for widget in widgets if widget["type"] == "text"]
    assert "[Runbook](https://wiki.example.com/iot-audit#runbook)" in text["properties"]["markdown"]


def test_no_ca_expiry_alarm_without_the_per_ca_metric_it_reads(synth):
    # Given METRICS_DETAIL=totals: no CaDaysToExpiry is emitted, so an alarm on it would never see data
    # Then there is none (the CA_CERTIFICATE_EXPIRING finding still reaches the email), and the dashboard
    # does not list it among the alarms
    assert synth.query_alarms() == []
    (text,) = [widget for widget in synth.dashboard_widgets() if widget["type"] == "text"]
    assert "days of expiry" not in text["properties"]["markdown"]


@pytest.mark.parametrize("schedule", ["rate(5 minutes)", "cron(0/10 * * * ? *)"])
def test_a_schedule_closer_than_the_function_timeout_stops_synth(schedule):
    # Given a schedule that can start a run while the last one (up to 15 minutes) still runs
    app = App(context={"schedule": schedule})

    # When the stack is built / Then synth stops, naming the key, the value and the fix
    with pytest.raises(ConfigError, match=r"schedule: .* shorter than the function's 15 minutes timeout") as error:
        build(app)
    assert "at least 15 minutes apart, e.g. rate(15 minutes)" in str(error.value)
    assert app.node.children == []


def test_bad_context_stops_before_any_construct_is_built():
    # Given an app whose context has a schedule EventBridge would reject
    app = App(context={"schedule": "rate(5 minute)"})

    # When the stack is built
    with pytest.raises(ConfigError, match=r"schedule: 'rate\(5 minute\)' is not a valid EventBridge"):
        build(app)

    # Then nothing was added to the app
    assert app.node.children == []
