"""The template synthesized with cdk.json's defaults: every resource and the properties that matter."""

from __future__ import annotations

import json
import re

import pytest
from aws_cdk.assertions import Match

from cert_audit import observability
from cert_audit.config import KNOWN_STATUSES
from cert_audit.findings import FINDING_TYPES
from infra import constants
from tests.infrastructure.conftest import widget

TOPIC = "AlertingAlertTopicC513ED25"
KEY = "AlertingTopicKey5E199376"
DLQ = "AuditDeadLetterQueue5CD9B28D"
LOG_GROUP = "AuditLogGroup4CD660E1"
FUNCTION = "AuditFunctionD052CD6C"
RULE = "AuditScheduleE3EE46A1"
STATE_MACHINE = "WorkflowStateMachine8F1B1C15"
EVENTS_ROLE = "WorkflowEventsRole94452613"
RUN_LOCK = "AuditRunLock1335D21E"
STATE_TABLE = "MemoryStateTableB8484361"
REPORT_BUCKET = "MemoryReportBucket3C9E49C7"
DIGEST_RULE = "AuditDigestScheduleB72CACE8"
INVENTORY_TABLE = "AuditInventoryTableD4B97AA9"


@pytest.fixture(scope="module")
def synth(synthesized):
    return synthesized()


def test_stack_has_exactly_these_resources(synth):
    # Then nothing is missing and nothing unexpected is created
    counts: dict[str, int] = {}
    for resource in synth.template_json["Resources"].values():
        counts[resource["Type"]] = counts.get(resource["Type"], 0) + 1
    assert counts == {
        "AWS::KMS::Key": 1,
        "AWS::SNS::Topic": 1,
        "AWS::SNS::TopicPolicy": 1,
        "AWS::Logs::LogGroup": 2,  # the function's and the state machine's
        "AWS::IAM::Role": 3,  # the function's, the state machine's, the schedules' (to start it)
        "AWS::IAM::Policy": 1,  # the function's (the other two roles' policies are inline)
        "AWS::SQS::Queue": 1,
        "AWS::SQS::QueuePolicy": 1,
        "AWS::Lambda::Function": 1,
        "AWS::Lambda::EventInvokeConfig": 1,
        "AWS::StepFunctions::StateMachine": 1,  # the rules start it; it invokes the function (issue 12)
        "AWS::Events::Rule": 2,  # the audit's schedule and the weekly digest
        "AWS::DynamoDB::Table": 3,  # the run lock, the open findings and the certificate inventory
        "AWS::S3::Bucket": 1,  # the report archive
        "AWS::S3::BucketPolicy": 1,  # its TLS-only statement
        # scan errors, function errors, heartbeat, CA expiry, DLQ, topic deliveries, failed events, failed
        # executions (findings and new severe findings are opt-in)
        "AWS::CloudWatch::Alarm": 8,
        "AWS::CloudWatch::Dashboard": 1,
    }


def test_stateful_resources_keep_their_logical_ids(synth):
    # A changed logical ID makes CloudFormation replace the resource: a new topic loses its
    # confirmed subscriptions, a new key cannot decrypt, a new log group loses history, a new
    # lock table would let a run start beside one holding the old table's lock, a new state table
    # would report the whole backlog as new, and a new bucket would leave the archive behind.
    resources = synth.template_json["Resources"]
    assert resources[TOPIC]["Type"] == "AWS::SNS::Topic"
    assert resources[KEY]["Type"] == "AWS::KMS::Key"
    assert resources[DLQ]["Type"] == "AWS::SQS::Queue"
    assert resources[LOG_GROUP]["Type"] == "AWS::Logs::LogGroup"
    assert resources[RUN_LOCK]["Type"] == "AWS::DynamoDB::Table"
    assert resources[STATE_TABLE]["Type"] == "AWS::DynamoDB::Table"
    assert resources[REPORT_BUCKET]["Type"] == "AWS::S3::Bucket"


def test_function_runs_the_handler_on_the_newest_powertools_runtime(synth):
    function = synth.template_json["Resources"][FUNCTION]["Properties"]
    assert function["Handler"] == "cert_audit.handler.lambda_handler"
    assert function["Runtime"] == "python3.14"
    assert function["Architectures"] == ["arm64"]
    assert function["MemorySize"] == 2048
    assert function["Timeout"] == 900
    assert function["TracingConfig"] == {"Mode": "Active"}
    assert function["LoggingConfig"] == {"LogGroup": {"Ref": LOG_GROUP}}
    assert function["Role"] == {"Fn::GetAtt": ["AuditRole362A2808", "Arn"]}


def test_powertools_layer_is_resolved_from_its_public_ssm_parameter_at_deploy_time(synth):
    # Given the function's one layer
    (layer,) = synth.template_json["Resources"][FUNCTION]["Properties"]["Layers"]

    # Then it is a CloudFormation parameter of SSM type whose default is the public path
    parameter = synth.template_json["Parameters"][layer["Ref"]]
    assert parameter == {
        "Type": "AWS::SSM::Parameter::Value<String>",
        "Default": "/aws/service/powertools/python/arm64/python3.14/3.37.0",
    }


def test_layer_version_is_the_powertools_version_the_tests_run_against(request):
    requirements = (request.config.rootpath / "requirements.txt").read_text()
    pinned = re.search(r"^aws-lambda-powertools(?:\[[^]]*\])?==([\d.]+)$", requirements, re.MULTILINE).group(1)
    assert pinned == constants.POWERTOOLS_VERSION
    assert constants.POWERTOOLS_LAYER_PARAMETER.endswith(f"/python3.14/{pinned}")


def test_function_environment_follows_the_engine_contract(synth):
    assert synth.template_json["Resources"][FUNCTION]["Properties"]["Environment"]["Variables"] == {
        "CA_CERTIFICATE_IDS": "*",
        "ALERT_TOPIC_ARN": {"Ref": TOPIC},
        "FLAGGED_STATUSES": "INACTIVE,REGISTER_INACTIVE,REVOKED",
        "NOTIFY_ON": "changes",
        "METRICS_DETAIL": "ca",
        "CA_EXPIRY_WARNING_DAYS": "90",
        "IOT_RATE_LIMIT": "5",
        "RUN_LOCK_TABLE_NAME": {"Ref": RUN_LOCK},
        "STATE_TABLE_NAME": {"Ref": STATE_TABLE},
        "REPORT_BUCKET_NAME": {"Ref": REPORT_BUCKET},
        "EVENT_BUS_NAME": "default",
        "POWERTOOLS_SERVICE_NAME": "iot-cert-audit",
        "POWERTOOLS_METRICS_NAMESPACE": "IoTCertificateAudit",
        "POWERTOOLS_LOG_LEVEL": "INFO",
        # the certificate inventory and its checks (issue 13), in the CAs' scope
        "AUDIT_SCOPE": "ca",
        "DEVICE_EXPIRY_WARNING_DAYS": "30",
        "INVENTORY_RATE_LIMIT": "5",
        "INVENTORY_TIME_BUDGET_SECONDS": "300",
        "MIN_EC_KEY_BITS": "256",
        "MIN_RSA_KEY_BITS": "2048",
        "WEAK_SIGNATURE_HASHES": "SHA1,MD5",
        "INVENTORY_TABLE_NAME": {"Ref": INVENTORY_TABLE},
    }


def test_service_name_and_namespace_are_the_engines_defaults():
    # The alarms read metrics under these names; they must be the ones the engine writes.
    assert constants.SERVICE_NAME == observability.DEFAULT_SERVICE
    assert constants.METRICS_NAMESPACE == observability.DEFAULT_NAMESPACE


def test_asset_ships_the_package_without_caches_or_dev_only_modules(synth):
    # Given the function's code asset in the cloud assembly
    (asset,) = [path for path in synth.outdir.iterdir() if path.name.startswith("asset.") and path.is_dir()]
    shipped = {str(path.relative_to(asset)) for path in asset.rglob("*")}

    # Then the handler is there, and nothing that imports moto or was built locally
    assert "cert_audit/handler.py" in shipped
    assert not {"cert_audit/emulator.py", "cert_audit/demo.py", "requirements.txt"} & shipped
    assert not [path for path in shipped if "__pycache__" in path or path.endswith(".pyc") or "egg-info" in path]


def test_schedule_starts_the_state_machine_daily_with_retries_and_a_dead_letter_queue(synth):
    rule = synth.template_json["Resources"][RULE]["Properties"]
    assert rule["ScheduleExpression"] == "rate(1 day)"
    assert rule["State"] == "ENABLED"
    (target,) = rule["Targets"]
    # Issue 12: the state machine, which invokes the function until the run is done
    assert target["Arn"] == {"Ref": STATE_MACHINE}
    assert target["RoleArn"] == {"Fn::GetAtt": [EVENTS_ROLE, "Arn"]}
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 3600}
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [DLQ, "Arn"]}}
    assert "Input" not in target  # the scheduled event audits the configured CAs
    # And EventBridge no longer invokes the function itself
    synth.template.resource_count_is("AWS::Lambda::Permission", 0)


def test_failed_async_invocations_go_to_the_same_dead_letter_queue(synth):
    synth.template.has_resource_properties(
        "AWS::Lambda::EventInvokeConfig",
        {
            "FunctionName": {"Ref": FUNCTION},
            "MaximumRetryAttempts": 1,
            "DestinationConfig": {"OnFailure": {"Destination": {"Fn::GetAtt": [DLQ, "Arn"]}}},
        },
    )


def test_async_events_older_than_an_hour_are_dead_lettered_not_run(synth):
    # Given Lambda's default of 6 hours, a throttled daily audit could start near the next one
    (invoke_config,) = synth.resources("AWS::Lambda::EventInvokeConfig").values()

    # Then an event waits at most an hour, long enough for the retry of a run that hit the 15-minute timeout
    age = invoke_config["Properties"]["MaximumEventAgeInSeconds"]
    assert age == 3600
    assert age > constants.TIMEOUT.to_seconds() + 2 * 60


def test_function_can_deploy_in_an_account_with_the_minimum_concurrency_quota(synth):
    # Given a new account whose concurrency quota is 10, all of which Lambda keeps unreserved
    # Then the function reserves none (a reservation of 1 fails the deploy); the run lock keeps runs apart
    assert "ReservedConcurrentExecutions" not in synth.template_json["Resources"][FUNCTION]["Properties"]


def test_run_lock_table_holds_one_expiring_lock_encrypted_on_demand_and_goes_with_the_stack(synth):
    table = synth.template_json["Resources"][RUN_LOCK]
    properties = table["Properties"]

    # Then the engine's lock item {lockId, owner, expiresAt} fits it: lockId the string key, expiresAt the TTL
    assert properties["KeySchema"] == [{"AttributeName": "lockId", "KeyType": "HASH"}]
    assert properties["AttributeDefinitions"] == [{"AttributeName": "lockId", "AttributeType": "S"}]
    assert properties["TimeToLiveSpecification"] == {"AttributeName": "expiresAt", "Enabled": True}
    # And it costs nothing between runs, is encrypted at rest, and holds nothing worth retaining
    assert properties["BillingMode"] == "PAY_PER_REQUEST"
    assert properties["SSESpecification"] == {"SSEEnabled": True}
    assert (table["DeletionPolicy"], table["UpdateReplacePolicy"]) == ("Delete", "Delete")
    # And the function is told its name
    variables = synth.template_json["Resources"][FUNCTION]["Properties"]["Environment"]["Variables"]
    assert variables["RUN_LOCK_TABLE_NAME"] == {"Ref": RUN_LOCK}


def test_dead_letter_queue_is_encrypted_requires_tls_and_admits_only_the_rules(synth):
    queue = synth.template_json["Resources"][DLQ]["Properties"]
    assert queue["SqsManagedSseEnabled"] is True
    assert queue["MessageRetentionPeriod"] == 14 * 24 * 3600
    statements = synth.only("AWS::SQS::QueuePolicy")["Properties"]["PolicyDocument"]["Statement"]
    assert {
        "Action": "sqs:*",
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        "Effect": "Deny",
        "Principal": {"AWS": "*"},
        "Resource": {"Fn::GetAtt": [DLQ, "Arn"]},
    } in statements
    # And the two schedules' rules may send to it, each under its own ARN, and nothing else may
    allows = [statement for statement in statements if statement["Effect"] == "Allow"]
    assert {json.dumps(allow["Condition"]) for allow in allows} == {
        json.dumps({"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": [rule, "Arn"]}}}) for rule in (RULE, DIGEST_RULE)
    }
    for allow in allows:
        assert allow["Principal"] == {"Service": "events.amazonaws.com"}
        assert allow["Action"] == "sqs:SendMessage"


def test_log_group_has_retention_and_outlives_the_stack(synth):
    log_group = synth.template_json["Resources"][LOG_GROUP]
    assert log_group["Properties"]["RetentionInDays"] == 90
    assert log_group["DeletionPolicy"] == "Retain"


def test_topic_is_encrypted_with_a_rotated_customer_key_cloudwatch_may_use(synth):
    # Given the key
    key = synth.template_json["Resources"][KEY]
    assert key["Properties"]["EnableKeyRotation"] is True
    assert key["DeletionPolicy"] == "Retain"

    # Then CloudWatch alarms of this account and region, and only those, may encrypt messages for the topic
    alarm_arns = ["arn:", {"Ref": "AWS::Partition"}, ":cloudwatch:", {"Ref": "AWS::Region"}, ":"]
    assert {
        "Sid": "AllowCloudWatchAlarmsToPublishToTheEncryptedTopic",
        "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
        "Effect": "Allow",
        "Principal": {"Service": "cloudwatch.amazonaws.com"},
        "Resource": "*",
        "Condition": {
            "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
            "ArnLike": {"aws:SourceArn": {"Fn::Join": ["", [*alarm_arns, {"Ref": "AWS::AccountId"}, ":alarm:*"]]}},
        },
    } in key["Properties"]["KeyPolicy"]["Statement"]

    # And the topic uses that key
    assert synth.template_json["Resources"][TOPIC]["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": [KEY, "Arn"]}


def test_topic_requires_tls_and_admits_only_this_accounts_alarms(synth):
    statements = synth.only("AWS::SNS::TopicPolicy")["Properties"]["PolicyDocument"]["Statement"]
    (deny,) = [statement for statement in statements if statement["Effect"] == "Deny"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert deny["Action"] == "sns:Publish"
    (allow,) = [statement for statement in statements if statement["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert allow["Action"] == "sns:Publish"
    assert allow["Resource"] == {"Ref": TOPIC}
    assert allow["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert "ArnLike" in allow["Condition"]


def test_key_and_topic_admit_cloudwatch_under_the_same_conditions(synth):
    # A condition on one and not the other would leave a confused-deputy path through the weaker one
    (topic_allow,) = [
        statement
        for statement in synth.only("AWS::SNS::TopicPolicy")["Properties"]["PolicyDocument"]["Statement"]
        if statement["Effect"] == "Allow"
    ]
    (key_allow,) = [
        statement
        for statement in synth.template_json["Resources"][KEY]["Properties"]["KeyPolicy"]["Statement"]
        if statement["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    ]
    assert key_allow["Condition"] == topic_allow["Condition"]


def test_no_email_subscription_without_alert_emails(synth):
    synth.template.resource_count_is("AWS::SNS::Subscription", 0)


def test_role_has_exactly_the_least_privilege_statements(synth, cacert_arn):
    # Given the role's only policy (and no managed policy)
    role = synth.template_json["Resources"]["AuditRole362A2808"]["Properties"]
    assert "ManagedPolicyArns" not in role
    statements = synth.only("AWS::IAM::Policy")["Properties"]["PolicyDocument"]["Statement"]

    # Then these statements, and only these, are granted
    assert statements == [
        {
            # "*": neither action accepts a resource-level permission (Service Authorization Reference)
            "Sid": "ListDeviceCertificatesOfCAs",
            "Action": ["iot:ListCACertificates", "iot:ListCertificatesByCA"],
            "Effect": "Allow",
            "Resource": "*",
        },
        {
            # the CA-level checks; with caCertificateIds "*", every CA of this account and region
            "Sid": "DescribeTheAuditedCAs",
            "Action": "iot:DescribeCACertificate",
            "Effect": "Allow",
            "Resource": cacert_arn("*"),
        },
        {
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [LOG_GROUP, "Arn"]},
        },
        {"Sid": "PublishTheReport", "Action": "sns:Publish", "Effect": "Allow", "Resource": {"Ref": TOPIC}},
        {
            "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [KEY, "Arn"]},
        },
        {
            # the run lock: take it, release it; on that table only
            "Sid": "TakeAndReleaseTheRunLock",
            "Action": ["dynamodb:DeleteItem", "dynamodb:PutItem"],
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [RUN_LOCK, "Arn"]},
        },
        {
            # the open findings: read them all, put the new, delete the resolved; on that table only
            "Sid": "ReadAndUpdateTheOpenFindings",
            "Action": ["dynamodb:BatchWriteItem", "dynamodb:Scan"],
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [STATE_TABLE, "Arn"]},
        },
        {
            # the archive: write under reports/ of the stack's bucket, nothing else
            "Sid": "ArchiveTheReport",
            "Action": "s3:PutObject",
            "Effect": "Allow",
            "Resource": {"Fn::Join": ["", [{"Fn::GetAtt": [REPORT_BUCKET, "Arn"]}, "/reports/*"]]},
        },
        {
            # one event per change, to the default bus of this account and region only
            "Sid": "SendFindingEvents",
            "Action": "events:PutEvents",
            "Effect": "Allow",
            "Resource": {
                "Fn::Join": [
                    "",
                    [
                        "arn:",
                        {"Ref": "AWS::Partition"},
                        ":events:",
                        {"Ref": "AWS::Region"},
                        ":",
                        {"Ref": "AWS::AccountId"},
                        ":event-bus/default",
                    ],
                ]
            },
        },
        {"Action": ["xray:PutTelemetryRecords", "xray:PutTraceSegments"], "Effect": "Allow", "Resource": "*"},
        {
            "Action": ["sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:SendMessage"],
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [DLQ, "Arn"]},
        },
        {
            # the certificate inventory (issue 13): describe device certificates of this account and region
            "Sid": "DescribeDeviceCertificates",
            "Action": "iot:DescribeCertificate",
            "Effect": "Allow",
            "Resource": {
                "Fn::Join": [
                    "",
                    [
                        "arn:",
                        {"Ref": "AWS::Partition"},
                        ":iot:",
                        {"Ref": "AWS::Region"},
                        ":",
                        {"Ref": "AWS::AccountId"},
                        ":cert/*",
                    ],
                ]
            },
        },
        {
            # the things and policies still attached to flagged certificates (no resource type fits)
            "Sid": "ListCertificateAttachments",
            "Action": ["iot:ListAttachedPolicies", "iot:ListPrincipalThingsV2"],
            "Effect": "Allow",
            "Resource": "*",
        },
        {
            # the inventory's cache: one Scan a run, new and refreshed entries written
            "Sid": "ReadAndFillTheInventory",
            "Action": ["dynamodb:BatchWriteItem", "dynamodb:Scan"],
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [INVENTORY_TABLE, "Arn"]},
        },
        {
            # a state-machine run's parts (issue 12): its findings between invocations, under parts/ only
            "Sid": "KeepTheRunsParts",
            "Action": ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"],
            "Effect": "Allow",
            "Resource": {"Fn::Join": ["", [{"Fn::GetAtt": [REPORT_BUCKET, "Arn"]}, "/parts/*"]]},
        },
    ]
    actions = [
        action
        for statement in statements
        for action in ([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])
    ]
    assert not [action for action in actions if "*" in action]


@pytest.mark.parametrize(
    "metric_name",
    ["ScanErrors", "Errors", "ApproximateNumberOfMessagesVisible", "NumberOfNotificationsFailed", "FailedEvents"],
)
def test_failure_alarms_fire_on_anything_above_zero_and_notify_the_topic(synth, metric_name):
    alarm = synth.alarm(metric_name)
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert alarm["Threshold"] == 0
    assert alarm["EvaluationPeriods"] == 1
    assert alarm["Period"] == 300
    assert alarm["TreatMissingData"] == "notBreaching"
    assert alarm["AlarmActions"] == [{"Ref": TOPIC}]


def test_alarms_read_the_right_metrics(synth):
    assert synth.alarm("ScanErrors")["Namespace"] == "IoTCertificateAudit"
    assert synth.alarm("ScanErrors")["Dimensions"] == [{"Name": "service", "Value": "iot-cert-audit"}]
    assert synth.alarm("ScanErrors")["Statistic"] == "Sum"
    assert synth.alarm("Errors")["Namespace"] == "AWS/Lambda"
    assert synth.alarm("Errors")["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": FUNCTION}}]
    dlq = synth.alarm("ApproximateNumberOfMessagesVisible")
    assert dlq["Namespace"] == "AWS/SQS"
    assert dlq["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [DLQ, "QueueName"]}}]
    deliveries = synth.alarm("NumberOfNotificationsFailed")
    assert (deliveries["Namespace"], deliveries["Statistic"]) == ("AWS/SNS", "Sum")
    assert deliveries["Dimensions"] == [{"Name": "TopicName", "Value": {"Fn::GetAtt": [TOPIC, "TopicName"]}}]


def test_heartbeat_alarm_breaches_when_no_run_completes_for_two_days(synth):
    # Given a daily schedule, each run taking up to 15 minutes
    alarm = synth.alarm("AuditRuns")

    # Then silence for 49 hours (more than 2 x 24 h + 15 min) raises the alarm
    assert alarm["Namespace"] == "IoTCertificateAudit"
    assert alarm["Dimensions"] == [{"Name": "service", "Value": "iot-cert-audit"}]
    assert (alarm["Statistic"], alarm["Period"], alarm["EvaluationPeriods"]) == ("Sum", 3600, 49)
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("LessThanThreshold", 1)
    assert alarm["TreatMissingData"] == "breaching"
    assert alarm["AlarmActions"] == [{"Ref": TOPIC}]


def test_findings_alarm_is_off_by_default(synth):
    assert not [
        alarm
        for alarm in synth.resources("AWS::CloudWatch::Alarm").values()
        if alarm["Properties"].get("MetricName") == "Findings"
    ]


def test_dashboard_shows_findings_certificates_errors_duration_runs_alarms_and_latest_scans(synth):
    # Given the dashboard's widgets
    widgets = synth.dashboard_widgets()
    by_title = {widget["properties"].get("title"): widget for widget in widgets}
    text = " ".join(json.dumps(widget) for widget in widgets)

    # Then a text widget explains the audit and points to the runbook
    (explanation,) = [widget for widget in widgets if widget["type"] == "text"]
    assert "REVOKED" in explanation["properties"]["markdown"]
    assert "#runbook" in explanation["properties"]["markdown"]
    assert "a CA certificate within 90 days of expiry" in explanation["properties"]["markdown"]

    # And findings and certificates are shown per CA (SEARCH) and in total
    assert "SEARCH('{IoTCertificateAudit,CaCertificateId} MetricName=\\\"Findings\\\"', 'Maximum', 86400)" in text
    assert "SEARCH('{IoTCertificateAudit,CaCertificateId,Status} MetricName=\\\"Certificates\\\"'" in text
    by_status = json.dumps(by_title["Certificates by status, all CAs"])
    assert all(f'Status=\\"{status}\\"' in by_status for status in KNOWN_STATUSES)
    for title in (
        "Findings (flagged certificates) by CA",
        "Certificates by CA and status",
        "Certificates scanned per run",
        "Scan errors (CAs that could not be scanned)",
        "Run duration",
        "Completed runs",
    ):
        assert title in by_title

    # And every alarm's state is on it
    (alarms,) = [widget for widget in widgets if widget["type"] == "alarm"]
    assert len(alarms["properties"]["alarms"]) == 8

    # And the latest "CA scanned" line of each CA, from the function's log group
    (logs,) = [widget for widget in widgets if widget["type"] == "log"]
    query = logs["properties"]["query"]
    assert LOG_GROUP in query
    assert 'filter message = "CA scanned"' in query and "dedup caCertificateId" in query


def test_latest_scans_table_shows_the_error_code_and_the_suppressed_findings(synth):
    # Given the Logs Insights query of the table
    (logs,) = [widget for widget in synth.dashboard_widgets() if widget["type"] == "log"]
    fields = re.search(r"fields ([^|]*)", logs["properties"]["query"]).group(1)
    columns = [column.strip() for column in fields.split(",")]

    # Then the error column is error.code: Logs Insights flattens the JSON object `error` ({code, message}),
    # so a bare `error` column stays empty even for a CA that failed
    assert "error.code" in columns and "error" not in columns
    # And the findings beside the ones suppressions accepted (the log line's findings are after suppressions)
    assert {"caCertificateId", "findings", "suppressedFindings"} <= set(columns)


def test_ca_expiry_alarm_fires_when_any_cas_days_to_expiry_reach_the_warning(synth):
    # Given the one alarm on a query: SEARCH is not allowed in alarms, a Metrics Insights query is
    (alarm,) = synth.query_alarms()

    # Then it takes the lowest CaDaysToExpiry over every CA, an hour at a time (within the 3 hours it may read)
    assert alarm["Metrics"] == [
        {
            "Expression": 'SELECT MIN(CaDaysToExpiry) FROM SCHEMA("IoTCertificateAudit", CaCertificateId)',
            "Id": "expr_1",
            "Label": "Lowest days to expiry",
            "Period": 3600,
            "ReturnData": True,
        }
    ]
    # And fires at 90 days left or fewer (expired CAs report negative days), like the engine's finding
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("LessThanOrEqualToThreshold", 90)
    assert alarm["EvaluationPeriods"] == 1
    # And keeps the last run's verdict between daily runs instead of going to INSUFFICIENT_DATA
    assert alarm["TreatMissingData"] == "ignore"
    assert alarm["AlarmActions"] == [{"Ref": TOPIC}]


def test_no_suppressions_parameter_and_no_ssm_read_without_a_suppressions_file(synth):
    assert synth.resources("AWS::SSM::Parameter") == {}
    assert "SuppressionsParameter" not in synth.template_json["Outputs"]
    statements = synth.only("AWS::IAM::Policy")["Properties"]["PolicyDocument"]["Statement"]
    assert not [statement for statement in statements if "ssm:" in json.dumps(statement["Action"])]


def test_dashboard_shows_findings_by_type_suppressed_findings_and_days_to_expiry(synth):
    widgets = synth.dashboard_widgets()

    # Then one line per finding type, from the run totals (service + FindingType)
    by_type = widget(widgets, "Findings by type, all CAs")["properties"]["metrics"]
    assert [(line[:2], dict(zip(line[2:6:2], line[3:6:2], strict=True))) for line in by_type] == [
        (["IoTCertificateAudit", "Findings"], {"service": "iot-cert-audit", "FindingType": kind})
        for kind in FINDING_TYPES
    ]
    assert [line[6]["label"] for line in by_type] == list(FINDING_TYPES)

    # And the suppressed findings of each run
    (suppressed,) = widget(widgets, "Suppressed findings (accepted, not alerted)")["properties"]["metrics"]
    assert suppressed[:4] == ["IoTCertificateAudit", "SuppressedFindings", "service", "iot-cert-audit"]

    # And each CA's days to expiry, found by SEARCH, against the warning threshold
    expiry = widget(widgets, "CA certificates: days to expiry")["properties"]
    (search,) = expiry["metrics"]
    assert search[0]["expression"] == (
        "SEARCH('{IoTCertificateAudit,CaCertificateId} MetricName=\"CaDaysToExpiry\"', 'Minimum', 86400)"
    )
    (warning,) = expiry["annotations"]["horizontal"]
    assert (warning["value"], warning["label"]) == (90, "Warning at 90 days")


def test_outputs_give_the_topic_the_function_the_tables_the_bucket_and_the_dashboard_url(synth):
    outputs = synth.template_json["Outputs"]
    assert outputs["StateTableName"]["Value"] == {"Ref": STATE_TABLE}
    assert outputs["ReportBucketName"]["Value"] == {"Ref": REPORT_BUCKET}
    assert outputs["AlertTopicArn"]["Value"] == {"Ref": TOPIC}
    assert outputs["FunctionName"]["Value"] == {"Ref": FUNCTION}
    assert outputs["RunLockTableName"]["Value"] == {"Ref": RUN_LOCK}  # the runbook's stuck-lock step needs it
    url = json.dumps(outputs["DashboardUrl"]["Value"])
    assert "console.aws.amazon.com/cloudwatch/home?region=" in url
    assert "#dashboards:name=" in url and "MonitoringDashboard0C3675C6" in url


def test_template_parameters_are_only_the_layer_and_bootstrap_version(synth):
    # No other synth-time lookup or user parameter sneaks in
    assert len(synth.template_json["Parameters"]) == 2
    synth.template.has_parameter("BootstrapVersion", {"Type": "AWS::SSM::Parameter::Value<String>"})
    synth.template.has_parameter("*", {"Default": Match.string_like_regexp("^/aws/service/powertools/")})
