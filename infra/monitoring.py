"""Monitoring: the alarms (all notifying the alert topic) and the dashboard a person reads at a glance.

Metric names and dimensions are the engine's (cert_audit.metrics): run totals carry the
dimension `service` (and `FindingType` for `Findings` by type); per-CA metrics carry
`CaCertificateId` (and `Status` for `Certificates`), so the dashboard finds every CA with
SEARCH instead of listing them.

The memory's metrics (issue 10) are run totals: `NewFindings`, `ResolvedFindings`,
`OpenFindings`, `FailedEvents` and `SecurityHubFailedFindings` (issue 11; dimension `service`),
and `NewFindings` by `service` and `Severity`, every severity emitted with every run, 0
included, so an alarm can name the severities it sums without SEARCH.

Alarms cannot use SEARCH, so the CA expiry alarm reads `CaDaysToExpiry` through a Metrics
Insights query (`SELECT MIN(...) FROM SCHEMA(...)`), which alarms may use: one alarm
covers every CA, named or found at run time, without listing them.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from cert_audit.config import KNOWN_STATUSES
from cert_audit.findings import FINDING_TYPES
from infra import constants
from infra.config import StackConfig
from infra.inventory import inventory_widgets

SERVICE_DIMENSION = {"service": constants.SERVICE_NAME}
CA_SCHEMA = f"{{{constants.METRICS_NAMESPACE},CaCertificateId}}"
CA_STATUS_SCHEMA = f"{{{constants.METRICS_NAMESPACE},CaCertificateId,Status}}"
# The lowest days-to-expiry over every CA's `CaDaysToExpiry` (dimension exactly CaCertificateId).
CA_EXPIRY_QUERY = f'SELECT MIN(CaDaysToExpiry) FROM SCHEMA("{constants.METRICS_NAMESPACE}", CaCertificateId)'
# Logs Insights flattens the JSON object `error` ({code, message} or null) into `error.code`
# and `error.message`: a bare `error` column stays empty. `findings` is after suppressions;
# `suppressedFindings` is what suppressions accepted.
LATEST_SCANS_QUERY = "\n".join(
    (
        "fields @timestamp, caCertificateId, certificatesScanned, findings, suppressedFindings, error.code, "
        "pages, retries, durationMs",
        '| filter message = "CA scanned"',
        "| sort @timestamp desc",
        "| dedup caCertificateId",
        "| limit 100",
    )
)


def service_metric(name: str, statistic: str, period: Duration, label: str | None = None) -> cw.Metric:
    """A run total of the engine (dimension `service`)."""
    return cw.Metric(
        namespace=constants.METRICS_NAMESPACE,
        metric_name=name,
        dimensions_map=SERVICE_DIMENSION,
        statistic=statistic,
        period=period,
        label=label,
    )


def _search(schema: str, terms: str, statistic: str, period: Duration, label: str = "") -> cw.MathExpression:
    seconds = int(period.to_seconds())
    return cw.MathExpression(
        expression=f"SEARCH('{schema} {terms}', '{statistic}', {seconds})", label=label, period=period
    )


def dashboard_period(config: StackConfig) -> Duration:
    """One data point per run where possible: the schedule's gap, kept between 5 minutes and a day."""
    low, high = (int(d.to_seconds()) for d in (constants.DASHBOARD_MIN_PERIOD, constants.DASHBOARD_MAX_PERIOD))
    return Duration.seconds(min(max(config.schedule.longest_gap_seconds, low), high))


class Monitoring(Construct):
    """Alarms on scan errors, function errors, a missing heartbeat, findings (optional), the DLQ and failed
    deliveries of the alert topic; the dashboard."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StackConfig,
        function: lambda_.IFunction,
        log_group: logs.ILogGroup,
        dead_letter_queue: sqs.IQueue,
        topic: sns.ITopic,
        state_machine: sfn.IStateMachine | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self._action = cw_actions.SnsAction(topic)
        self.alarms: list[cw.Alarm] = []
        period = constants.ALARM_PERIOD
        self.scan_errors_alarm = self._above_zero(
            "ScanErrorsAlarm",
            service_metric("ScanErrors", "Sum", period),
            "At least one CA could not be scanned in the last run (see the 'CA scanned' log lines)",
        )
        self.function_errors_alarm = self._above_zero(
            "FunctionErrorsAlarm",
            function.metric_errors(period=period, statistic="Sum"),
            "The audit function failed (no report was published by that run)",
        )
        self.heartbeat_alarm = self._add(
            cw.Alarm(
                self,
                "HeartbeatAlarm",
                alarm_description=(
                    f"No audit run completed for {config.heartbeat.seconds // 60} minutes (schedule "
                    f"{config.schedule.expression}): the schedule, the function or its permissions are broken"
                ),
                metric=service_metric("AuditRuns", "Sum", Duration.seconds(config.heartbeat.period_seconds)),
                threshold=1,
                comparison_operator=cw.ComparisonOperator.LESS_THAN_THRESHOLD,
                evaluation_periods=config.heartbeat.evaluation_periods,
                treat_missing_data=cw.TreatMissingData.BREACHING,  # silence is exactly what this alarm is for
            )
        )
        if config.alarm_on_findings:
            self.findings_alarm = self._above_zero(
                "FindingsAlarm",
                service_metric("Findings", "Sum", period),
                "The last run found certificates in a flagged status (the report was emailed)",
            )
        if config.alarm_on_new_findings:
            self.new_findings_alarm = self._above_zero(
                "NewSevereFindingsAlarm",
                _new_severe_findings(period),
                f"The last run found new {' or '.join(constants.ALARMED_SEVERITIES)} findings, not seen by the run "
                "before (the email lists them first; one event per finding went to the event bus)",
            )
        # Events the bus refused even after the function's retries: a rule routing findings to a
        # ticket system or chat missed them (the report and the archive still hold every finding).
        if config.event_bus_name:
            self.failed_events_alarm = self._above_zero(
                "FailedEventsAlarm",
                service_metric("FailedEvents", "Sum", period),
                f"The last run could not send some finding events to the EventBridge bus {config.event_bus_name} "
                "(errors[] with source events in the report); rules on that bus missed them",
            )
        # Findings Security Hub refused even after the function's retries: its console misses them
        # (or, for resolved ones, still shows them ACTIVE) until a run imports them.
        if config.security_hub:
            self.security_hub_alarm = self._above_zero(
                "SecurityHubFailedFindingsAlarm",
                service_metric("SecurityHubFailedFindings", "Sum", period),
                "The last run could not import some findings into Security Hub (errors[] with source securityHub "
                "in the report); the next run imports them again",
            )
        # Needs the per-CA metric: with metricsDetail=totals the engine emits no CaDaysToExpiry,
        # and an expiring CA is reported only by its CA_CERTIFICATE_EXPIRING finding (email).
        if config.metrics_detail == "ca":
            self.ca_expiry_alarm = self._add(_ca_expiry_alarm(self, config))
        self.dead_letter_alarm = self._above_zero(
            "DeadLetterQueueAlarm",
            dead_letter_queue.metric_approximate_number_of_messages_visible(period=period, statistic="Maximum"),
            "A scheduled invocation could not be delivered or failed twice; its event is in the dead-letter queue",
        )
        # Issue 12: an execution of the state machine that failed: a task kept failing, and the run was reported
        # with what it had (its definition sets no execution timeout; an aborted one was stopped by a person).
        if state_machine:
            self.failed_executions_alarm = self._above_zero(
                "FailedExecutionsAlarm",
                state_machine.metric_failed(period=period, statistic="Sum"),
                "An audit run (state machine execution) failed: its report, if it got out, has errors[] with source "
                "stateMachine; see the runbook, 'Failed execution'",
            )
        # It notifies the topic whose deliveries failed, on purpose: deliveries fail per
        # subscription (an HTTPS endpoint down, a queue or function deleted, a policy that refuses
        # SNS), so the other subscribers still get this alarm; it is also on the dashboard. A second
        # topic would need its own subscriptions, confirmed by the same people, and would fail with
        # the same endpoints. When every delivery fails (the key disabled), only the alarm's state and
        # the dashboard show it. Email bounces are not counted: SNS hands mail to its mail system.
        self.notifications_failed_alarm = self._above_zero(
            "NotificationsFailedAlarm",
            topic.metric_number_of_notifications_failed(period=period, statistic="Sum"),
            "The alert topic could not deliver a message to at least one subscription (SNS "
            "NumberOfNotificationsFailed): some subscribers missed a report or an alarm",
        )
        self.dashboard = self._dashboard(config, log_group, state_machine)

    def _add(self, alarm: cw.Alarm) -> cw.Alarm:
        alarm.add_alarm_action(self._action)
        self.alarms.append(alarm)
        return alarm

    def _above_zero(self, construct_id: str, metric: cw.IMetric, description: str) -> cw.Alarm:
        return self._add(
            cw.Alarm(
                self,
                construct_id,
                alarm_description=description,
                metric=metric,
                threshold=0,
                comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
                evaluation_periods=1,
                treat_missing_data=cw.TreatMissingData.NOT_BREACHING,  # no run in the period: nothing went wrong
            )
        )

    def _dashboard(
        self, config: StackConfig, log_group: logs.ILogGroup, state_machine: sfn.IStateMachine | None = None
    ) -> cw.Dashboard:
        period = dashboard_period(config)
        per_ca = config.metrics_detail == "ca"  # with `totals`, the engine emits no per-CA metrics
        dashboard = cw.Dashboard(self, "Dashboard", default_interval=Duration.days(14))
        dashboard.add_widgets(cw.TextWidget(markdown=_explanation(config), width=24, height=5))
        dashboard.add_widgets(cw.AlarmStatusWidget(title="Alarms", alarms=self.alarms, width=24, height=3))

        findings = [service_metric("Findings", "Maximum", period, "All CAs")]
        scanned = [service_metric("CertificatesScanned", "Maximum", period, "All CAs")]
        if per_ca:
            findings.append(_search(CA_SCHEMA, 'MetricName="Findings"', "Maximum", period))
            dashboard.add_widgets(
                cw.GraphWidget(title="Findings (flagged certificates) by CA", left=findings, width=12),
                cw.GraphWidget(title="Certificates by status, all CAs", left=_totals_by_status(period), width=12),
            )
            dashboard.add_widgets(
                cw.GraphWidget(
                    title="Certificates by CA and status",
                    left=[_search(CA_STATUS_SCHEMA, 'MetricName="Certificates"', "Maximum", period)],
                    width=12,
                ),
                cw.GraphWidget(title="Certificates scanned per run", left=scanned, width=12),
            )
        else:
            dashboard.add_widgets(
                cw.GraphWidget(title="Findings (flagged certificates), all CAs", left=findings, width=12),
                cw.GraphWidget(title="Certificates scanned per run", left=scanned, width=12),
            )

        dashboard.add_widgets(
            cw.GraphWidget(
                title="Open findings, and what changed each run",
                left=[service_metric("OpenFindings", "Maximum", period, "Open")],
                right=[
                    service_metric("NewFindings", "Sum", period, "New"),
                    service_metric("ResolvedFindings", "Sum", period, "Resolved"),
                ],
                left_y_axis=cw.YAxisProps(label="open", min=0, show_units=False),
                right_y_axis=cw.YAxisProps(label="new / resolved", min=0, show_units=False),
                width=24,
            )
        )

        width = 8 if per_ca else 12  # two or three graphs across the row
        run_findings = [
            cw.GraphWidget(title="Findings by type, all CAs", left=_findings_by_type(period), width=width),
            cw.GraphWidget(
                title="Suppressed findings (accepted, not alerted)",
                left=[service_metric("SuppressedFindings", "Maximum", period, "Suppressed")],
                width=width,
            ),
        ]
        if per_ca:
            run_findings.append(_ca_expiry_widget(config, period, width))
        dashboard.add_widgets(*run_findings)

        errors = [service_metric("ScanErrors", "Sum", period, "All CAs")]
        if per_ca:
            errors.append(_search(CA_SCHEMA, 'MetricName="ScanErrors"', "Sum", period))
        dashboard.add_widgets(
            cw.GraphWidget(title="Scan errors (CAs that could not be scanned)", left=errors, width=8),
            cw.GraphWidget(
                title="Run duration",
                left=[service_metric("AuditDuration", "Maximum", period, "Longest run")],
                width=8,
            ),
            cw.GraphWidget(title="Completed runs", left=[service_metric("AuditRuns", "Sum", period, "Runs")], width=8),
        )
        if state_machine:
            dashboard.add_widgets(*_execution_widgets(state_machine, period))
        if config.inventory.on:  # the renewal forecast and key/hash counts (issue 13)
            dashboard.add_widgets(*inventory_widgets(constants.METRICS_NAMESPACE, constants.SERVICE_NAME, period))
        dashboard.add_widgets(
            cw.LogQueryWidget(
                title="Latest scan of each CA",
                log_group_names=[log_group.log_group_name],
                query_string=LATEST_SCANS_QUERY,
                view=cw.LogQueryVisualizationType.TABLE,
                width=24,
                height=8,
            )
        )
        return dashboard


def _execution_widgets(state_machine: sfn.IStateMachine, period: Duration) -> list[cw.GraphWidget]:
    """Issue 12: the state machine's executions, the continuations each run took, and a run's length."""
    return [
        cw.GraphWidget(
            title="Audit runs (state machine executions)",
            left=[
                state_machine.metric_started(period=period, statistic="Sum", label="Started"),
                state_machine.metric_succeeded(period=period, statistic="Sum", label="Succeeded"),
                state_machine.metric_failed(period=period, statistic="Sum", label="Failed"),
                state_machine.metric_timed_out(period=period, statistic="Sum", label="Timed out"),
            ],
            width=8,
        ),
        cw.GraphWidget(
            title="Continuations per run (invocations after the first)",
            left=[service_metric("Continuations", "Maximum", period, "Continuations")],
            width=8,
        ),
        cw.GraphWidget(
            title="Run duration, first invocation to report",
            left=[state_machine.metric_time(period=period, statistic="Maximum", label="Execution time")],
            width=8,
        ),
    ]


def _new_severe_findings(period: Duration) -> cw.MathExpression:
    """New findings of the alarmed severities in one run: the sum of NewFindings by service and Severity."""
    metrics = {
        severity.lower(): cw.Metric(
            namespace=constants.METRICS_NAMESPACE,
            metric_name="NewFindings",
            dimensions_map={**SERVICE_DIMENSION, "Severity": severity},
            statistic="Sum",
            period=period,
        )
        for severity in constants.ALARMED_SEVERITIES
    }
    return cw.MathExpression(
        expression=" + ".join(metrics),
        using_metrics=metrics,
        label=f"New {' and '.join(constants.ALARMED_SEVERITIES)} findings",
        period=period,
    )


def _ca_expiry_alarm(scope: Construct, config: StackConfig) -> cw.Alarm:
    days = config.ca_expiry_warning_days
    return cw.Alarm(
        scope,
        "CaExpiryAlarm",
        alarm_description=(
            f"A CA certificate expires within {days} days or has expired (the lowest CaDaysToExpiry of the "
            "audited CAs); the report lists it as CA_CERTIFICATE_EXPIRING or CA_CERTIFICATE_EXPIRED. Register "
            "its successor and move the devices to it"
        ),
        metric=cw.MathExpression(
            expression=CA_EXPIRY_QUERY, period=constants.CA_EXPIRY_ALARM_PERIOD, label="Lowest days to expiry"
        ),
        threshold=days,
        comparison_operator=cw.ComparisonOperator.LESS_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluation_periods=1,
        # A run reports each CA once, and a Metrics Insights alarm sees only the last 3 hours:
        # between runs there is no data, and the alarm keeps the state the last run gave it.
        treat_missing_data=cw.TreatMissingData.IGNORE,
    )


def _ca_expiry_widget(config: StackConfig, period: Duration, width: int) -> cw.GraphWidget:
    days = config.ca_expiry_warning_days
    return cw.GraphWidget(
        title="CA certificates: days to expiry",
        left=[_search(CA_SCHEMA, 'MetricName="CaDaysToExpiry"', "Minimum", period)],
        left_annotations=[cw.HorizontalAnnotation(value=days, label=f"Warning at {days} days", fill=cw.Shading.BELOW)],
        width=width,
    )


def _findings_by_type(period: Duration) -> list[cw.Metric]:
    """One line per finding type (the engine emits each type's count with every run, zeros included)."""
    return [
        cw.Metric(
            namespace=constants.METRICS_NAMESPACE,
            metric_name="Findings",
            dimensions_map={**SERVICE_DIMENSION, "FindingType": kind},
            statistic="Maximum",
            period=period,
            label=kind,
        )
        for kind in FINDING_TYPES
    ]


def _totals_by_status(period: Duration) -> list[cw.MathExpression]:
    """One line per status: the sum over every CA's `Certificates` metric of that status."""
    seconds = int(period.to_seconds())
    return [
        cw.MathExpression(
            expression=(
                f'SUM(SEARCH(\'{CA_STATUS_SCHEMA} MetricName="Certificates" Status="{status}"\', '
                f"'Maximum', {seconds}))"
            ),
            label=status,
            period=period,
        )
        for status in KNOWN_STATUSES
    ]


def _explanation(config: StackConfig) -> str:
    runbook = f"[Runbook]({config.runbook_url})" if config.runbook_url else "the Runbook section (#runbook)"
    scope = "every CA in this account and region" if config.all_cas else f"{len(config.ca_certificate_ids)} CA(s)"
    expiry = (
        f", a CA certificate within {config.ca_expiry_warning_days} days of expiry"
        if config.metrics_detail == "ca"
        else ""
    )
    return "\n".join(
        (
            "# IoT certificate audit",
            f"Runs on `{config.schedule.expression}` and lists the device certificates of {scope} "
            "(ListCertificatesByCA). A certificate in a flagged status "
            f"({', '.join(config.flagged_statuses)}) is a **finding**: a revoked or inactive certificate "
            "still registered is a hygiene and compliance gap that Device Defender Audit does not report. "
            "Each CA is described too: a CA that is not ACTIVE while device certificates it signed still are, "
            "or a CA certificate expired or about to expire, is also a finding.",
            f"{_notifications(config)} Every run's full report is archived in the report bucket "
            "(`reports/`); the run remembers the open findings, so it can tell what is new and what was resolved.",
            f"Alarms: scan errors, function errors, a missing run (heartbeat), the dead-letter queue, failed "
            f"deliveries of the alert topic{expiry}"
            f"{', finding events the bus refused' if config.event_bus_name else ''}"
            f"{', new CRITICAL or HIGH findings' if config.alarm_on_new_findings else ''}. "
            f"What to do when one fires: see {runbook} of the project's README.",
        )
    )


def _notifications(config: StackConfig) -> str:
    when = {
        "changes": "when a finding is new or resolved, or a CA could not be scanned",
        "findings": "when there are findings or scan errors",
        "always": "after every run",
    }.get(config.notify_on, f"under notifyOn={config.notify_on}")
    digest = (
        f" The full picture (every open finding) is emailed on `{config.digest_schedule.expression}` as a digest."
        if config.digest_schedule
        else ""
    )
    events = (
        f" One event per new and per resolved finding goes to the EventBridge bus `{config.event_bus_name}`."
        if config.event_bus_name
        else ""
    )
    return f"The report is emailed to the alert topic's subscribers {when}.{digest}{events}"
