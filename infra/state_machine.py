"""The state machine that runs an audit to its end (issue 12): the schedules start it, it invokes the
function until every CA is done (infra/workflow.py has its definition), and one report comes out.

What it adds to the stack, each scoped to its one use:
- the Standard state machine, logging every event to its own log group (execution data left out:
  the checkpoint is small but names CAs) and traced with X-Ray; its role may invoke the audit
  function and nothing else (plus the log delivery and X-Ray calls AWS requires on "*");
- the function's role may put, get and delete objects under parts/ of the report bucket only (the
  findings of a run's invocations before its last), and a lifecycle rule expires any part a failed
  run left behind a day later;
- the audit's schedule and the weekly digest start it instead of invoking the function (the same
  inputs, retries and dead-letter queue). The function is still invoked directly for a quick
  single-invocation run; its own asynchronous retry and on-failure destination are unchanged.

Why no two runs scan the same account and region at once: the runs of one execution are one loop,
one invocation at a time; a second execution, or a direct invocation, meets the run lock, which a
state-machine run holds from its first invocation to its last (handler.py), waits, and ends skipped
(SkippedRuns). A check of the running executions in the definition would see only executions, not
direct invocations, and two executions started together would each see the other.
"""

from __future__ import annotations

import json

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from cert_audit.continuation import PARTS_PREFIX
from infra import constants
from infra.config import StackConfig
from infra.workflow import definition

# A part outlives its run only when the run failed before deleting it: a day is long enough to look
# at it, short enough not to keep findings twice.
PARTS_RETENTION = Duration.days(1)
FUNCTION_ARN_VARIABLE = "AuditFunctionArn"


class AuditStateMachine(Construct):
    """The state machine, its role and log group, the parts' permissions and lifecycle, and the schedules'
    targets."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StackConfig,
        function: lambda_.IFunction,
        function_role: iam.IRole,
        report_bucket: s3.Bucket,
        dead_letter_queue: sqs.IQueue,
        schedules: list[tuple[events.Rule, events.RuleTargetInput | None]],
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_group = logs.LogGroup(
            self, "LogGroup", retention=constants.LOG_RETENTION, removal_policy=RemovalPolicy.RETAIN
        )
        # The roles' policies are inline and stated here in full (what CDK would add is left out: the roles
        # are passed on as immutable), so each role's permissions are read in one place.
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("states.amazonaws.com"),
            description="IoT certificate audit state machine: invoke the audit function until the run is done",
            inline_policies={"RunTheAudit": iam.PolicyDocument(statements=_state_machine_statements(function))},
        )
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            comment="IoT certificate audit: one run of the audit, as many invocations as the fleet needs",
            state_machine_type=sfn.StateMachineType.STANDARD,
            definition_body=sfn.DefinitionBody.from_string(
                json.dumps(definition(f"${{{FUNCTION_ARN_VARIABLE}}}", config.max_continuations), indent=1)
            ),
            definition_substitutions={FUNCTION_ARN_VARIABLE: function.function_arn},
            role=self.role.without_policy_updates(),
            logs=sfn.LogOptions(destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=False),
            tracing_enabled=True,
        )
        # The function keeps a run's findings between its invocations under parts/ of the report bucket.
        function_role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="KeepTheRunsParts",
                actions=["s3:PutObject", "s3:GetObject", "s3:DeleteObject"],
                resources=[report_bucket.arn_for_objects(f"{PARTS_PREFIX}/*")],
            )
        )
        report_bucket.add_lifecycle_rule(
            id="ExpireRunParts",
            prefix=f"{PARTS_PREFIX}/",
            expiration=PARTS_RETENTION,
            noncurrent_version_expiration=PARTS_RETENTION,
        )
        report_bucket.add_lifecycle_rule(
            id="RemoveExpiredPartMarkers", prefix=f"{PARTS_PREFIX}/", expired_object_delete_marker=True
        )
        # What the schedules' rules assume to start an execution.
        self.events_role = iam.Role(
            self,
            "EventsRole",
            assumed_by=iam.ServicePrincipal("events.amazonaws.com"),
            description="IoT certificate audit schedules: start the audit's state machine",
            inline_policies={
                "StartTheAudit": iam.PolicyDocument(
                    statements=[
                        iam.PolicyStatement(
                            sid="StartAnAuditRun",
                            actions=["states:StartExecution"],
                            resources=[self.state_machine.state_machine_arn],
                        )
                    ]
                )
            },
        )
        for rule, event in schedules:
            rule.add_target(
                targets.SfnStateMachine(
                    self.state_machine,
                    input=event,
                    role=self.events_role.without_policy_updates(),
                    retry_attempts=constants.SCHEDULE_RETRY_ATTEMPTS,
                    max_event_age=constants.SCHEDULE_MAX_EVENT_AGE,
                    dead_letter_queue=dead_letter_queue,
                )
            )


def _state_machine_statements(function: lambda_.IFunction) -> list[iam.PolicyStatement]:
    return [
        # The function by its unqualified ARN, the one the definition invokes; not function.grant_invoke,
        # which adds every version and alias (<arn>:*).
        iam.PolicyStatement(
            sid="InvokeTheAuditFunction", actions=["lambda:InvokeFunction"], resources=[function.function_arn]
        ),
        # Logging to CloudWatch Logs: the delivery actions accept no narrower resource (Step Functions
        # developer guide, "IAM policies for logging to CloudWatch Logs").
        iam.PolicyStatement(
            sid="DeliverTheExecutionLogs",
            actions=[
                "logs:CreateLogDelivery",
                "logs:GetLogDelivery",
                "logs:UpdateLogDelivery",
                "logs:DeleteLogDelivery",
                "logs:ListLogDeliveries",
                "logs:PutResourcePolicy",
                "logs:DescribeResourcePolicies",
                "logs:DescribeLogGroups",
            ],
            resources=["*"],
        ),
        # X-Ray tracing of the executions: these actions accept no resource-level permission.
        iam.PolicyStatement(
            sid="TraceTheExecutions",
            actions=[
                "xray:PutTraceSegments",
                "xray:PutTelemetryRecords",
                "xray:GetSamplingRules",
                "xray:GetSamplingTargets",
            ],
            resources=["*"],
        ),
    ]
