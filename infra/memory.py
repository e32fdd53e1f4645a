"""The audit's memory (issue 10): the table of open findings and the bucket that archives every full report.

Both outlive the stack (removal policy RETAIN) because both hold what cannot be rebuilt: the
table remembers when each open finding was first seen, the bucket the reports of past runs.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra import constants
from infra.config import StackConfig


class Memory(Construct):
    """The state table (STATE_TABLE_NAME) and the report archive bucket (REPORT_BUCKET_NAME)."""

    def __init__(self, scope: Construct, construct_id: str, *, config: StackConfig) -> None:
        super().__init__(scope, construct_id)
        self.state_table = dynamodb.Table(
            self,
            "StateTable",
            partition_key=dynamodb.Attribute(name=constants.STATE_PARTITION_KEY, type=dynamodb.AttributeType.STRING),
            # A run reads every open finding once (one Scan) and writes only what changed: a few
            # requests a day, nothing between runs; provisioned capacity would be a fixed fee.
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            # A bad run or a mistaken write can be undone by restoring the table to a minute before it.
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            # DynamoDB's AWS-managed key, stated in the template; it needs no key policy or grant.
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            # Kept when the stack is deleted or the table replaced: it is the only record of when each
            # open finding was first seen. A new, empty table would make the next run report every
            # open finding as new (and resolve nothing), so a destroy-and-redeploy would flood the
            # alerts with the whole backlog and lose its history.
            removal_policy=RemovalPolicy.RETAIN,
        )
        days = Duration.days(config.report_retention_days)
        self.report_bucket = s3.Bucket(
            self,
            "ReportBucket",
            encryption=s3.BucketEncryption.S3_MANAGED,  # SSE-S3: the function's PutObject needs no key grant
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,  # no ACLs: the bucket policy decides
            # Versioning: a report key is written once per run, but an invocation Lambda retries
            # keeps its request ID (the auditId) and writes the same key again; the first report,
            # which may already have been emailed as reportUri, stays as a noncurrent version. It
            # also keeps an object someone deleted or overwrote by hand until the lifecycle expires
            # it. Object Lock is not used: these are operational reports that can be re-created by
            # an audit, not records a regulation requires to be immutable, and a locked object
            # could not be removed by anyone before its retention, even when it holds a mistake.
            versioned=True,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpireReports",
                    prefix=constants.REPORTS_PREFIX,
                    expiration=days,
                    # Counted from the day a version stops being current (expiry or overwrite):
                    # a report's bytes are gone at most twice the retention after it was written.
                    noncurrent_version_expiration=days,
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                ),
                # Expiring a current version in a versioned bucket leaves a delete marker; once its
                # noncurrent versions are gone too, this removes the marker (S3 forbids both in one rule).
                s3.LifecycleRule(
                    id="RemoveExpiredDeleteMarkers",
                    prefix=constants.REPORTS_PREFIX,
                    expired_object_delete_marker=True,
                ),
            ],
            # The archive of past runs outlives the stack, like the log group; see the README's
            # "Remove the stack" for deleting it by hand.
            removal_policy=RemovalPolicy.RETAIN,
        )
