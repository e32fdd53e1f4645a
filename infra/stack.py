"""The stack: composes alerting, the audit's memory, the scheduled audit function and monitoring; exports what
users need."""

from __future__ import annotations

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from infra import constants
from infra.alerting import Alerting
from infra.audit_function import AuditFunction
from infra.config import StackConfig
from infra.memory import Memory
from infra.monitoring import Monitoring
from infra.nag import acknowledge
from infra.state_machine import AuditStateMachine


class AuditStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: StackConfig, **kwargs) -> None:
        super().__init__(scope, construct_id, description=constants.STACK_DESCRIPTION, **kwargs)
        self.alerting = Alerting(self, "Alerting", alert_emails=config.alert_emails)
        self.memory = Memory(self, "Memory", config=config)
        self.audit = AuditFunction(
            self, "Audit", config=config, topic=self.alerting.topic, key=self.alerting.key, memory=self.memory
        )
        # Started by the schedules: it runs the function until the audit is done (issue 12).
        self.workflow = AuditStateMachine(
            self,
            "Workflow",
            config=config,
            function=self.audit.function,
            function_role=self.audit.role,
            report_bucket=self.memory.report_bucket,
            dead_letter_queue=self.audit.dead_letter_queue,
            schedules=self.audit.schedules,
        )
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            config=config,
            function=self.audit.function,
            state_machine=self.workflow.state_machine,
            log_group=self.audit.log_group,
            dead_letter_queue=self.audit.dead_letter_queue,
            topic=self.alerting.topic,
        )
        CfnOutput(
            self, "AlertTopicArn", value=self.alerting.topic.topic_arn, description="SNS topic of reports and alarms"
        )
        CfnOutput(self, "FunctionName", value=self.audit.function.function_name, description="Invoke it to audit now")
        CfnOutput(
            self,
            "StateMachineArn",
            value=self.workflow.state_machine.state_machine_arn,
            description='Start an execution to audit now, as the schedules do: input {} or {"caCertificateIds": [...]}',
        )
        CfnOutput(
            self,
            "RunLockTableName",
            value=self.audit.run_lock.table_name,
            description="DynamoDB table of the run lock (item lockId=audit-run while a run is under way)",
        )
        CfnOutput(
            self,
            "StateTableName",
            value=self.memory.state_table.table_name,
            description="DynamoDB table of the open findings (one item per findingId, with firstSeen)",
        )
        CfnOutput(
            self,
            "ReportBucketName",
            value=self.memory.report_bucket.bucket_name,
            description="S3 bucket of every run's full report (reports/YYYY/MM/DD/<auditId>.json.gz and .csv.gz)",
        )
        CfnOutput(
            self,
            "DashboardUrl",
            value=(
                f"https://{self.region}.console.aws.amazon.com/cloudwatch/home?region={self.region}"
                f"#dashboards:name={self.monitoring.dashboard.dashboard_name}"
            ),
            description="CloudWatch dashboard of the audit",
        )
        if self.audit.suppressions:
            CfnOutput(
                self,
                "SuppressionsParameter",
                value=self.audit.suppressions.parameter_name,
                description="SSM parameter holding the suppressions file's entries (redeploy to change them)",
            )
        acknowledge(self)
