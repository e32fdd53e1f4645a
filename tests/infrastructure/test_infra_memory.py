"""The audit's memory in the template (issue 10): the open-findings table, the report archive, finding events,
the weekly digest, and the alarms and graphs of what changed."""

from __future__ import annotations

import json

import pytest

from tests.infrastructure.conftest import QUIET, widget

TOPIC = "AlertingAlertTopicC513ED25"
FUNCTION = "AuditFunctionD052CD6C"
DLQ = "AuditDeadLetterQueue5CD9B28D"
RULE = "AuditScheduleE3EE46A1"
DIGEST_RULE = "AuditDigestScheduleB72CACE8"
STATE_MACHINE = "WorkflowStateMachine8F1B1C15"
STATE_TABLE = "MemoryStateTableB8484361"
REPORT_BUCKET = "MemoryReportBucket3C9E49C7"
# As `-c key=value` hands them over: a month of reports, a bus of one's own, the alarm on new severe findings.
CONFIGURED = {
    "reportRetentionDays": "30",
    "eventBusName": "iot-audit",
    "alarmOnNewFindings": "true",
    "digestSchedule": "cron(30 7 ? * FRI *)",
}


@pytest.fixture(scope="module")
def synth(synthesized):
    return synthesized()


@pytest.fixture(scope="module")
def quiet(synthesized):
    return synthesized(QUIET)


@pytest.fixture(scope="module")
def configured(synthesized):
    return synthesized(CONFIGURED)


def _variables(synth) -> dict:
    return synth.template_json["Resources"][FUNCTION]["Properties"]["Environment"]["Variables"]


def _statement(synth, sid: str) -> dict | None:
    statements = synth.only("AWS::IAM::Policy")["Properties"]["PolicyDocument"]["Statement"]
    found = [statement for statement in statements if statement.get("Sid") == sid]
    return found[0] if found else None


def test_state_table_is_keyed_by_finding_id_on_demand_recoverable_encrypted_and_retained(synth):
    table = synth.template_json["Resources"][STATE_TABLE]
    properties = table["Properties"]

    # Then the engine's items fit it: findingId, a string, is the whole key
    assert properties["KeySchema"] == [{"AttributeName": "findingId", "KeyType": "HASH"}]
    assert properties["AttributeDefinitions"] == [{"AttributeName": "findingId", "AttributeType": "S"}]
    # And it costs nothing between runs, can be restored to any second of the last 35 days, is encrypted
    assert properties["BillingMode"] == "PAY_PER_REQUEST"
    assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert properties["SSESpecification"] == {"SSEEnabled": True}
    # And neither deleting the stack nor replacing the table loses when each finding was first seen
    assert (table["DeletionPolicy"], table["UpdateReplacePolicy"]) == ("Retain", "Retain")
    # And the function is told its name and may only scan it and batch-write to it
    assert _variables(synth)["STATE_TABLE_NAME"] == {"Ref": STATE_TABLE}
    assert _statement(synth, "ReadAndUpdateTheOpenFindings") == {
        "Sid": "ReadAndUpdateTheOpenFindings",
        "Action": ["dynamodb:BatchWriteItem", "dynamodb:Scan"],
        "Effect": "Allow",
        "Resource": {"Fn::GetAtt": [STATE_TABLE, "Arn"]},
    }


def test_report_bucket_is_encrypted_private_tls_only_versioned_and_retained(synth):
    bucket = synth.template_json["Resources"][REPORT_BUCKET]
    properties = bucket["Properties"]

    # Then objects are encrypted at rest and no ACL or policy can make them public
    (rule,) = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    assert properties["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert properties["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    # And a report written twice (a retried invocation keeps its auditId) keeps its first version
    assert properties["VersioningConfiguration"] == {"Status": "Enabled"}
    assert (bucket["DeletionPolicy"], bucket["UpdateReplacePolicy"]) == ("Retain", "Retain")

    # And any request without TLS is denied, on the bucket and on every object
    (statement,) = synth.only("AWS::S3::BucketPolicy")["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Effect"] == "Deny" and statement["Action"] == "s3:*"
    assert statement["Principal"] == {"AWS": "*"}
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert statement["Resource"] == [
        {"Fn::GetAtt": [REPORT_BUCKET, "Arn"]},
        {"Fn::Join": ["", [{"Fn::GetAtt": [REPORT_BUCKET, "Arn"]}, "/*"]]},
    ]


def test_reports_expire_after_a_year_current_and_noncurrent_versions_alike(synth):
    rules = synth.template_json["Resources"][REPORT_BUCKET]["Properties"]["LifecycleConfiguration"]["Rules"]
    (expire,) = [rule for rule in rules if "ExpirationInDays" in rule and rule["Prefix"] == "reports/"]

    # Then each report under reports/ expires 365 days after it was written, and so does an older version
    assert expire["Prefix"] == "reports/"
    assert expire["Status"] == "Enabled"
    assert expire["ExpirationInDays"] == 365
    assert expire["NoncurrentVersionExpiration"] == {"NoncurrentDays": 365}
    # And the delete markers that expiry leaves in a versioned bucket are removed too
    (markers,) = [rule for rule in rules if rule.get("ExpiredObjectDeleteMarker") and rule["Prefix"] == "reports/"]
    assert (markers["Prefix"], markers["Status"]) == ("reports/", "Enabled")


def test_report_retention_comes_from_the_context(configured):
    rules = configured.template_json["Resources"][REPORT_BUCKET]["Properties"]["LifecycleConfiguration"]["Rules"]
    (expire,) = [rule for rule in rules if "ExpirationInDays" in rule and rule["Prefix"] == "reports/"]
    assert (expire["ExpirationInDays"], expire["NoncurrentVersionExpiration"]) == (30, {"NoncurrentDays": 30})


def test_function_may_write_reports_under_reports_only(synth):
    # Given the bucket's name in the function's environment
    assert _variables(synth)["REPORT_BUCKET_NAME"] == {"Ref": REPORT_BUCKET}

    # Then the one S3 permission is PutObject under reports/: no read, list, delete, or other prefix
    assert _statement(synth, "ArchiveTheReport") == {
        "Sid": "ArchiveTheReport",
        "Action": "s3:PutObject",
        "Effect": "Allow",
        "Resource": {"Fn::Join": ["", [{"Fn::GetAtt": [REPORT_BUCKET, "Arn"]}, "/reports/*"]]},
    }
    # (the function's other S3 statement is a state-machine run's parts, under parts/: test_infra_state_machine)
    policy = json.dumps(synth.only("AWS::IAM::Policy"))
    assert policy.count('"s3:') == 1 + 3


def test_digest_rule_runs_weekly_with_notify_always_and_the_schedules_retries(synth):
    resources = synth.template_json["Resources"]
    digest = resources[DIGEST_RULE]["Properties"]
    main = resources[RULE]["Properties"]

    # Then it fires Mondays at 08:00 UTC and starts the state machine (issue 12) with {"notify": "always"},
    # the request each of the run's invocations gets
    assert digest["ScheduleExpression"] == "cron(0 8 ? * MON *)"
    assert digest["State"] == "ENABLED"
    (target,) = digest["Targets"]
    assert target["Arn"] == {"Ref": STATE_MACHINE}
    assert json.loads(target["Input"]) == {"notify": "always"}
    # And a digest EventBridge cannot deliver is retried and dead-lettered exactly like a scheduled run
    (main_target,) = main["Targets"]
    assert (
        target["RetryPolicy"]
        == main_target["RetryPolicy"]
        == {
            "MaximumRetryAttempts": 2,
            "MaximumEventAgeInSeconds": 3600,
        }
    )
    assert target["DeadLetterConfig"] == main_target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [DLQ, "Arn"]}}
    # And both start it under the same role
    assert target["RoleArn"] == main_target["RoleArn"]


def test_digest_schedule_comes_from_the_context(configured):
    (digest,) = [
        rule["Properties"]
        for rule in configured.resources("AWS::Events::Rule").values()
        if "Input" in rule["Properties"]["Targets"][0]
    ]
    assert digest["ScheduleExpression"] == "cron(30 7 ? * FRI *)"


def test_events_go_to_the_default_bus_only(synth):
    # Given the default eventBusName
    assert _variables(synth)["EVENT_BUS_NAME"] == "default"

    # Then PutEvents is granted on that bus of this account and region, and on nothing else
    statement = _statement(synth, "SendFindingEvents")
    assert statement["Action"] == "events:PutEvents"
    assert statement["Resource"]["Fn::Join"][1][-1] == ":event-bus/default"
    assert {"Ref": "AWS::AccountId"} in statement["Resource"]["Fn::Join"][1]


def test_events_go_to_the_named_bus(configured):
    assert _variables(configured)["EVENT_BUS_NAME"] == "iot-audit"
    assert _statement(configured, "SendFindingEvents")["Resource"]["Fn::Join"][1][-1] == ":event-bus/iot-audit"


def test_failed_events_alarm_when_events_are_on(synth):
    alarm = synth.alarm("FailedEvents")
    assert (alarm["Namespace"], alarm["Statistic"]) == ("IoTCertificateAudit", "Sum")
    assert alarm["Dimensions"] == [{"Name": "service", "Value": "iot-cert-audit"}]
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 0)
    assert alarm["AlarmActions"] == [{"Ref": TOPIC}]


def test_without_digest_and_events_there_is_one_rule_no_bus_and_no_events_alarm(quiet):
    # Given digestSchedule "" and eventBusName null
    # Then only the audit's own schedule invokes the function
    (rule,) = quiet.resources("AWS::Events::Rule").values()
    assert "Input" not in rule["Properties"]["Targets"][0]
    assert rule["Properties"]["Targets"][0]["Arn"] == {"Ref": STATE_MACHINE}
    # And the function is not told of a bus, may not put events, and no alarm waits for failed ones
    variables = _variables(quiet)
    assert "EVENT_BUS_NAME" not in variables
    assert "events:" not in json.dumps(quiet.only("AWS::IAM::Policy"))
    assert not [
        alarm
        for alarm in quiet.resources("AWS::CloudWatch::Alarm").values()
        if alarm["Properties"].get("MetricName") == "FailedEvents"
    ]
    # And the memory stays: the table and the archive do not depend on either
    assert {"STATE_TABLE_NAME", "REPORT_BUCKET_NAME"} <= set(variables)


def test_no_new_findings_alarm_by_default(synth):
    assert "NewFindings" not in json.dumps(synth.resources("AWS::CloudWatch::Alarm"))


def test_new_findings_alarm_sums_the_new_critical_and_high_findings(configured):
    # Given alarmOnNewFindings=true
    (alarm,) = [
        properties for properties in configured.query_alarms() if "NewFindings" in json.dumps(properties["Metrics"])
    ]

    # Then it adds NewFindings of the CRITICAL and of the HIGH findings, by service and Severity
    metrics = {metric["Id"]: metric for metric in alarm["Metrics"]}
    (expression,) = [metric for metric in alarm["Metrics"] if "Expression" in metric]
    assert expression["ReturnData"] is True
    terms = {term.strip() for term in expression["Expression"].split("+")}
    severities = {}
    for term in terms:
        stat = metrics[term]["MetricStat"]
        assert metrics[term]["ReturnData"] is False
        assert (stat["Metric"]["Namespace"], stat["Metric"]["MetricName"]) == ("IoTCertificateAudit", "NewFindings")
        assert (stat["Stat"], stat["Period"]) == ("Sum", 300)
        dimensions = {dimension["Name"]: dimension["Value"] for dimension in stat["Metric"]["Dimensions"]}
        assert dimensions.pop("service") == "iot-cert-audit"
        severities[dimensions.pop("Severity")] = dimensions
    assert severities == {"CRITICAL": {}, "HIGH": {}}
    # And fires on one, notifying the topic, and is quiet between runs
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 0)
    assert alarm["TreatMissingData"] == "notBreaching"
    assert alarm["AlarmActions"] == [{"Ref": TOPIC}]


def test_dashboard_shows_open_new_and_resolved_findings_over_time(synth):
    graph = widget(synth.dashboard_widgets(), "Open findings, and what changed each run")["properties"]
    lines = {line[1]: (dict(zip(line[2:-1:2], line[3:-1:2], strict=True)), line[-1]) for line in graph["metrics"]}
    assert set(lines) == {"OpenFindings", "NewFindings", "ResolvedFindings"}
    for name, (dimensions, _) in lines.items():
        assert dimensions == {"service": "iot-cert-audit"}, name
    assert lines["OpenFindings"][1]["stat"] == "Maximum"
    assert lines["NewFindings"][1]["stat"] == lines["ResolvedFindings"][1]["stat"] == "Sum"
    assert lines["NewFindings"][1]["yAxis"] == "right"


def test_dashboard_explains_the_digest_and_the_events_when_they_are_on(synth, quiet):
    def explanation(template) -> str:
        (text,) = [item for item in template.dashboard_widgets() if item["type"] == "text"]
        return text["properties"]["markdown"]

    assert "when a finding is new or resolved" in explanation(synth)
    assert "`cron(0 8 ? * MON *)` as a digest" in explanation(synth)
    assert "EventBridge bus `default`" in explanation(synth)
    assert "digest" not in explanation(quiet) and "EventBridge" not in explanation(quiet)
