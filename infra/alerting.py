"""Alerting: the encrypted SNS topic that receives reports and alarms, and its email subscriptions."""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

CLOUDWATCH = iam.ServicePrincipal("cloudwatch.amazonaws.com")


class Alerting(Construct):
    """A customer-managed KMS key (rotated), the alert topic it encrypts, one email subscription per address."""

    def __init__(self, scope: Construct, construct_id: str, *, alert_emails: tuple[str, ...]) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        # Customer-managed, not the AWS-managed alias/aws/sns key: only a key whose policy
        # we write can let CloudWatch alarms publish to the encrypted topic.
        self.key = kms.Key(
            self,
            "TopicKey",
            description="Encrypts the IoT certificate audit's alert topic",
            enable_key_rotation=True,
        )
        # The stack's own alarms only, on the key as on the topic: the source account and the
        # alarm ARN prefix keep another account's CloudWatch from using this key (confused deputy).
        # CloudWatch's request to KMS (through SNS) carries both keys, unlike EventBridge's, for
        # which SNS documents them as unsupported in a key policy.
        this_accounts_alarms = {
            "StringEquals": {"aws:SourceAccount": stack.account},
            "ArnLike": {"aws:SourceArn": f"arn:{stack.partition}:cloudwatch:{stack.region}:{stack.account}:alarm:*"},
        }
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchAlarmsToPublishToTheEncryptedTopic",
                principals=[CLOUDWATCH],
                actions=["kms:GenerateDataKey*", "kms:Decrypt"],
                resources=["*"],  # in a key policy, "*" means this key
                conditions=this_accounts_alarms,
            )
        )
        # enforce_ssl adds a Deny for publishers that do not use TLS.
        self.topic = sns.Topic(
            self, "AlertTopic", display_name="IoT certificate audit", master_key=self.key, enforce_ssl=True
        )
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowThisAccountsAlarmsToPublish",
                principals=[CLOUDWATCH],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions=this_accounts_alarms,
            )
        )
        self.subscriptions = [
            self.topic.add_subscription(subscriptions.EmailSubscription(email)) for email in alert_emails
        ]
