"""Every cdk-nag acknowledgement of the stack, each with its reason, kept as data in one place.

cdk-nag v3 acknowledges findings through CDK's own `Validations.of(construct).acknowledge`;
a finding on a wildcard is acknowledged per wildcard (`RuleId[Resource::*]`), so a new
wildcard in the same policy is still reported.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Acknowledgment, Validations
from constructs import IConstruct


@dataclass(frozen=True)
class Acknowledgement:
    rule: str  # as the validation report names it: <pack>::<rule>[<finding>]
    construct: str  # the stack attribute path it applies to, e.g. "audit.role"
    reason: str


ACKNOWLEDGEMENTS = (
    Acknowledgement(
        "AwsSolutions::AwsSolutions-IAM5[Resource::*]",
        "audit.role",
        "Resource '*' is for actions that accept no resource-level permission (Service Authorization "
        "Reference): iot:ListCertificatesByCA and iot:ListCACertificates, and xray:PutTraceSegments/"
        "PutTelemetryRecords added by active tracing; the certificate inventory's iot:ListPrincipalThingsV2 and "
        "iot:ListAttachedPolicies (the attachments of flagged certificates found at run time) and, with "
        "scope=account, iot:ListCertificates. Every other statement names its one resource.",
    ),
    Acknowledgement(
        "AwsSolutions::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iot:<AWS::Region>:<AWS::AccountId>:cert/*]",
        "audit.role",
        "The certificate inventory describes device certificates found at run time (iot:DescribeCertificate), "
        "each once: granted on the cert resource type of this account and region, no other resource type.",
    ),
    Acknowledgement(
        "AwsSolutions::AwsSolutions-DDB3",
        "audit.inventory_table",
        "The inventory is a cache of what IoT's DescribeCertificate says of each certificate, which never changes; "
        "lost, it is described again from IoT. Point-in-time recovery would bill for backing up a copy.",
    ),
    Acknowledgement(
        "AwsSolutions::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iot:<AWS::Region>:<AWS::AccountId>:cacert/*]",
        "audit.role",
        "Only when caCertificateIds is '*': the function audits every CA of the account and region, found at "
        "run time, so iot:DescribeCACertificate is granted on all CA certificates of this account and region "
        "(cacert/*), not on any other resource type. Named CAs get their own ARNs instead.",
    ),
    Acknowledgement(
        "AwsSolutions::AwsSolutions-IAM5[Resource::<MemoryReportBucket3C9E49C7.Arn>/reports/*]",
        "audit.role",
        "The archive's object keys are made at run time (reports/YYYY/MM/DD/<auditId>.json.gz and .csv.gz, the "
        "auditId being the Lambda request ID), so s3:PutObject is granted on the reports/ prefix of the stack's "
        "own report bucket, the one place the function writes; no read, list or delete is granted.",
    ),
    Acknowledgement(
        "AwsSolutions::AwsSolutions-S1",
        "memory.report_bucket",
        "Server access logs would need a second bucket (with its own retention, itself an S1 finding) and are "
        "delivered best-effort. The only writer is the function's role (s3:PutObject under reports/); who read or "
        "wrote a report is recorded, with the IAM identity, by CloudTrail S3 data events, which an account that "
        "must audit object access enables on its trail for this bucket (README, Deploy).",
    ),
    Acknowledgement(
        "Serverless::Serverless-LambdaDLQ",
        "audit.function",
        "Failed asynchronous invocations go to an on-failure destination (the dead-letter queue), which "
        "records the error and the request as well as the event; a DLQ too would deliver each failure twice.",
    ),
    Acknowledgement(
        "Serverless::Serverless-SNSRedrivePolicy",
        "alerting.subscriptions",
        "Email subscriptions: SNS hands the message to its mail system, and bounces or full mailboxes are not "
        "reported back as delivery failures, so a redrive queue would stay empty. Deliveries SNS itself could "
        "not make are counted in the topic's NumberOfNotificationsFailed metric.",
    ),
    Acknowledgement(
        "AwsSolutions::AwsSolutions-DDB3",
        "audit.run_lock",
        "The run-lock table holds at most one item, a lock that lapses at the end of the run holding it; "
        "there is nothing to recover, and restoring a table to an earlier time could only bring back a stale "
        "lock. The table is deleted with the stack (removal policy DESTROY) and a new one starts unlocked.",
    ),
    Acknowledgement(
        "AwsSolutions::AwsSolutions-SQS3",
        "audit.dead_letter_queue",
        "This queue is the dead-letter queue: of the schedule's EventBridge target and the function's "
        "on-failure destination. It is alarmed on (ApproximateNumberOfMessagesVisible > 0).",
    ),
    Acknowledgement(
        "Serverless::Serverless-SQSRedrivePolicy",
        "audit.dead_letter_queue",
        "This queue is itself the dead-letter queue; nothing consumes it, so there is nothing to redrive "
        "to a further queue. Messages stay 14 days and raise an alarm.",
    ),
    Acknowledgement(
        "AwsSolutions::AwsSolutions-IAM5[Resource::<MemoryReportBucket3C9E49C7.Arn>/parts/*]",
        "audit.role",
        "A run's parts are named at run time (parts/<auditId>/<invocation>.jsonl.gz, the auditId being the first "
        "invocation's request ID), so s3:PutObject, s3:GetObject and s3:DeleteObject are granted on the parts/ "
        "prefix of the stack's own report bucket only: the function reads and deletes nothing else there.",
    ),
    Acknowledgement(
        "AwsSolutions::AwsSolutions-IAM5[Resource::*]",
        "workflow.role",
        "Resource '*' is for what the state machine's logging and tracing need and accept on no narrower "
        "resource: the CloudWatch Logs delivery actions (logs:CreateLogDelivery, GetLogDelivery, ... as the "
        "Step Functions guide requires; statement DeliverTheExecutionLogs) and xray:PutTraceSegments/"
        "PutTelemetryRecords/GetSampling* (TraceTheExecutions). Invoking, its one other permission, names the "
        "audit function.",
    ),
)


def _constructs(root: object, path: str) -> list[IConstruct]:
    """The construct(s) an attribute path names; a list attribute (one per email) names each item."""
    target = root
    for name in path.split("."):
        target = getattr(target, name)
    if target is None:  # an optional resource left out of this deployment (the inventory's table)
        return []
    return list(target) if isinstance(target, list) else [target]


def acknowledge(stack: object) -> None:
    for item in ACKNOWLEDGEMENTS:
        for construct in _constructs(stack, item.construct):
            Validations.of(construct).acknowledge(Acknowledgment(id=item.rule, reason=item.reason))
