"""The audit function, its least-privilege role and log group, its run lock, schedules and dead-letter queue."""

from __future__ import annotations

from aws_cdk import ArnFormat, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from cert_audit.config import ALL_CAS
from infra import constants
from infra.config import StackConfig
from infra.inventory import add_inventory
from infra.memory import Memory
from infra.securityhub import add_security_hub
from infra.suppressions import suppressions_parameter

# What the digest rule hands the function: this run notifies whatever changed (the engine's
# per-invocation override of NOTIFY_ON), so the full picture is mailed once a week.
DIGEST_INPUT = {"notify": "always"}


def function_environment(
    config: StackConfig,
    topic_arn: str,
    suppressions_parameter: str | None,
    run_lock_table: str,
    state_table: str,
    report_bucket: str,
) -> dict[str, str]:
    """The function's environment, in the engine's contract (cert_audit.config.load_config).

    The optional checks' variables are left out when off, as the engine reads an absent one."""
    environment = {
        "CA_CERTIFICATE_IDS": ",".join(config.ca_certificate_ids) or ALL_CAS,
        "ALERT_TOPIC_ARN": topic_arn,
        "FLAGGED_STATUSES": ",".join(config.flagged_statuses),
        "NOTIFY_ON": config.notify_on,
        "METRICS_DETAIL": config.metrics_detail,
        "CA_EXPIRY_WARNING_DAYS": str(config.ca_expiry_warning_days),
        "IOT_RATE_LIMIT": str(config.iot_rate_limit),
        "RUN_LOCK_TABLE_NAME": run_lock_table,
        "STATE_TABLE_NAME": state_table,
        "REPORT_BUCKET_NAME": report_bucket,
        "POWERTOOLS_SERVICE_NAME": constants.SERVICE_NAME,
        "POWERTOOLS_METRICS_NAMESPACE": constants.METRICS_NAMESPACE,
        "POWERTOOLS_LOG_LEVEL": constants.LOG_LEVEL,
    }
    if config.max_certificate_age_days is not None:
        environment["MAX_CERTIFICATE_AGE_DAYS"] = str(config.max_certificate_age_days)
    if suppressions_parameter:
        environment["SUPPRESSIONS_PARAMETER"] = suppressions_parameter
    if config.event_bus_name:
        environment["EVENT_BUS_NAME"] = config.event_bus_name
    return environment


class AuditFunction(Construct):
    """The scheduled audit: function, role, log group, run lock table, EventBridge rules and dead-letter queue."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StackConfig,
        topic: sns.ITopic,
        key: kms.IKey,
        memory: Memory,
    ) -> None:
        super().__init__(scope, construct_id)
        # Kept when the stack is deleted: the audit trail of past runs outlives the stack.
        self.log_group = logs.LogGroup(
            self, "LogGroup", retention=constants.LOG_RETENTION, removal_policy=RemovalPolicy.RETAIN
        )
        # Our own role instead of the AWSLambdaBasicExecutionRole managed policy, whose
        # logs permissions cover every log group in the account.
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="IoT certificate audit: list certificates of the audited CAs, publish the report",
        )
        self.role.add_to_policy(_list_statement(config))
        self.role.add_to_policy(_describe_statement(config, Stack.of(self)))
        self.log_group.grant(self.role, "logs:CreateLogStream", "logs:PutLogEvents")
        # Not topic.grant_publish: it also grants kms:GenerateDataKey* (a wildcard action).
        self.role.add_to_policy(
            iam.PolicyStatement(sid="PublishTheReport", actions=["sns:Publish"], resources=[topic.topic_arn])
        )
        # What SNS needs of the caller to publish to a KMS-encrypted topic; no wildcard action.
        key.grant(self.role, "kms:GenerateDataKey", "kms:Decrypt")
        # Only with a suppressions file: the parameter, and the one read Powertools makes of it
        # (not parameter.grant_read, which adds GetParameters and GetParameterHistory).
        self.suppressions = None
        if config.suppressions:
            self.suppressions = suppressions_parameter(self, config.suppressions)
            self.role.add_to_policy(
                iam.PolicyStatement(
                    sid="ReadTheSuppressions",
                    actions=["ssm:GetParameter"],
                    resources=[self.suppressions.parameter_arn],
                )
            )

        self.run_lock = _run_lock_table(self)
        # The lock's two writes only: take it (conditional PutItem) and release it (conditional
        # DeleteItem); not table.grant_write_data, which adds UpdateItem, BatchWriteItem and reads.
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="TakeAndReleaseTheRunLock",
                actions=["dynamodb:PutItem", "dynamodb:DeleteItem"],
                resources=[self.run_lock.table_arn],
            )
        )

        # The open findings: one Scan a run reads them all, BatchWriteItem puts the new ones and
        # deletes the resolved ones. Not table.grant_read_write_data: no GetItem, Query, UpdateItem.
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadAndUpdateTheOpenFindings",
                actions=["dynamodb:Scan", "dynamodb:BatchWriteItem"],
                resources=[memory.state_table.table_arn],
            )
        )
        # The archive: new reports under reports/ only; no read, list or delete (not bucket.grant_put,
        # which also grants s3:Abort* and s3:PutObjectLegalHold/Retention/Tagging/VersionTagging).
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="ArchiveTheReport",
                actions=["s3:PutObject"],
                resources=[memory.report_bucket.arn_for_objects(f"{constants.REPORTS_PREFIX}*")],
            )
        )
        self.event_bus_arn = None
        if config.event_bus_name:
            self.event_bus_arn = Stack.of(self).format_arn(
                service="events",
                resource="event-bus",
                resource_name=config.event_bus_name,
                arn_format=ArnFormat.SLASH_RESOURCE_NAME,
            )
            self.role.add_to_policy(
                iam.PolicyStatement(
                    sid="SendFindingEvents", actions=["events:PutEvents"], resources=[self.event_bus_arn]
                )
            )

        self.dead_letter_queue = sqs.Queue(
            self,
            "DeadLetterQueue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,  # no key policy needed for EventBridge/Lambda to send
            enforce_ssl=True,
            retention_period=constants.DLQ_RETENTION,
        )
        powertools_layer_arn = ssm.StringParameter.value_for_string_parameter(
            self, constants.POWERTOOLS_LAYER_PARAMETER
        )
        self.function = lambda_.Function(
            self,
            "Function",
            description="Audits IoT device certificates of the configured CAs and publishes findings",
            runtime=constants.RUNTIME,
            architecture=constants.ARCHITECTURE,
            handler=constants.HANDLER,
            code=lambda_.Code.from_asset(str(constants.LAMBDA_ASSET_DIR), exclude=constants.ASSET_EXCLUDES),
            layers=[lambda_.LayerVersion.from_layer_version_arn(self, "PowertoolsLayer", powertools_layer_arn)],
            memory_size=constants.MEMORY_MB,
            timeout=constants.TIMEOUT,
            tracing=lambda_.Tracing.ACTIVE,
            log_group=self.log_group,
            role=self.role,
            environment=function_environment(
                config,
                topic.topic_arn,
                self.suppressions.parameter_name if self.suppressions else None,
                self.run_lock.table_name,
                memory.state_table.table_name,
                memory.report_bucket.bucket_name,
            ),
            retry_attempts=constants.ASYNC_RETRY_ATTEMPTS,
            max_event_age=constants.ASYNC_MAX_EVENT_AGE,
            # A destination rather than a function DLQ: the record carries the error and
            # the request, not only the event.
            on_failure=destinations.SqsDestination(self.dead_letter_queue),
        )
        # Security Hub (issue 11): SECURITY_HUB and its two permissions, when on.
        add_security_hub(self.role, self.function, config.security_hub)
        # The certificate inventory (issue 13): its table, permissions and environment (None: off).
        self.inventory_table = add_inventory(self, self.role, self.function, config.inventory)
        # The schedules' target is the state machine (infra/state_machine.py adds it: it needs the function).
        self.rule = events.Rule(
            self,
            "Schedule",
            description="Runs the IoT certificate audit",
            schedule=events.Schedule.expression(config.schedule.expression),
        )
        # The weekly digest: a full audit whose report is published whatever changed, so that with
        # notifyOn=changes an accepted backlog still reaches people once a week.
        self.digest_rule = None
        if config.digest_schedule:
            self.digest_rule = events.Rule(
                self,
                "DigestSchedule",
                description="Runs the IoT certificate audit and publishes the full report (notify: always)",
                schedule=events.Schedule.expression(config.digest_schedule.expression),
            )

    @property
    def schedules(self) -> list[tuple[events.Rule, events.RuleTargetInput | None]]:
        """Each schedule's rule and the input its target gets (the digest's {"notify": "always"})."""
        digest = [(self.digest_rule, events.RuleTargetInput.from_object(DIGEST_INPUT))] if self.digest_rule else []
        return [(self.rule, None), *digest]


def _run_lock_table(scope: Construct) -> dynamodb.Table:
    """The table of the one lock item that keeps two runs from overlapping (RUN_LOCK_TABLE_NAME)."""
    return dynamodb.Table(
        scope,
        "RunLock",
        partition_key=dynamodb.Attribute(name=constants.RUN_LOCK_PARTITION_KEY, type=dynamodb.AttributeType.STRING),
        time_to_live_attribute=constants.RUN_LOCK_TTL_ATTRIBUTE,
        # Two small writes a run: on-demand costs fractions of a cent, provisioned capacity a fixed fee.
        billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
        # DynamoDB's AWS-managed key, stated in the template; it needs no key policy or grant.
        encryption=dynamodb.TableEncryption.AWS_MANAGED,
        # It holds nothing worth keeping: at most a lock that lapses within 15 minutes. Deleting it
        # with the stack leaves nothing behind; a new stack starts unlocked.
        removal_policy=RemovalPolicy.DESTROY,
    )


def _list_statement(config: StackConfig) -> iam.PolicyStatement:
    # ListCertificatesByCA and ListCACertificates accept no resource-level permission
    # (Service Authorization Reference, AWS IoT: no resource type for either action), so
    # "*" is the only resource that works; a cacert ARN here would deny every call.
    # ListCACertificates is granted only when the function must discover the CAs itself.
    actions = ["iot:ListCertificatesByCA"]
    if config.all_cas:
        actions.append("iot:ListCACertificates")
    return iam.PolicyStatement(sid="ListDeviceCertificatesOfCAs", actions=actions, resources=["*"])


def _describe_statement(config: StackConfig, stack: Stack) -> iam.PolicyStatement:
    # DescribeCACertificate (the engine's CA-level checks) does accept the cacert resource
    # type: the named CAs only, or every CA of this account and region when it audits all.
    names = config.ca_certificate_ids or ("*",)
    return iam.PolicyStatement(
        sid="DescribeTheAuditedCAs",
        actions=["iot:DescribeCACertificate"],
        resources=[
            stack.format_arn(
                service="iot", resource="cacert", resource_name=name, arn_format=ArnFormat.SLASH_RESOURCE_NAME
            )
            for name in names
        ],
    )
