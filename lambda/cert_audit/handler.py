"""The Lambda entry point: parse configuration and event, run the audit, notify, measure.

Scheduled events audit the configured CAs; an on-demand invocation may pass
{"caCertificateIds": ["<id>", ...]} to audit just those.
"""

from __future__ import annotations

import functools
import json
import os
import time

from aws_lambda_powertools.utilities.typing import LambdaContext

from cert_audit.audit import run_audit
from cert_audit.aws import error_of, make_clients, publish, read_parameter
from cert_audit.config import AuditConfig, ca_ids_from_event, load_config
from cert_audit.message import build_message, fit_report, should_notify
from cert_audit.metrics import add_heartbeat, add_run_totals, emit_ca_metrics
from cert_audit.observability import logger, metrics, tracer
from cert_audit.report import without_findings
from cert_audit.suppressions import Suppression, SuppressionError, parse_suppressions

# Stop requesting pages this long before the function's timeout, leaving time to report.
TIME_RESERVE_MS = 60_000
# A warm container re-reads the suppressions parameter at most this often.
SUPPRESSIONS_MAX_AGE_SECONDS = 300


@functools.cache
def clients():
    """IoT and SNS clients, created once per container and reused by warm invocations."""
    return make_clients()


def time_limit(context: LambdaContext):
    def reason() -> str | None:
        if context.get_remaining_time_in_millis() < TIME_RESERVE_MS:
            return (
                "the invocation was about to reach its timeout; raise the function timeout or audit fewer CAs per run"
            )
        return None

    return reason


def load_suppressions(config: AuditConfig) -> tuple[list[Suppression], list[dict]]:
    """The suppressions from their SSM parameter, or none and a run error saying why not:
    a bad parameter must not stop the audit, which then runs unsuppressed."""
    name = config.suppressions_parameter
    if not name:
        return [], []
    try:
        return parse_suppressions(json.loads(read_parameter(name, SUPPRESSIONS_MAX_AGE_SECONDS))), []
    except (SuppressionError, ValueError) as problem:
        error = {"code": "InvalidSuppressions", "message": str(problem)}
    except Exception as problem:  # noqa: BLE001 - unreadable parameter: same outcome, other code
        error = error_of(problem.__cause__ or problem.__context__ or problem)  # the ClientError inside
    error["message"] = f"Suppressions parameter {name}: {error['message']}. The audit ran without suppressions."
    logger.error("Suppressions not applied", extra={"error": error})
    return [], [{"source": "suppressions", **error}]


@logger.inject_lambda_context(log_event=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    started = time.monotonic()
    config = load_config(os.environ)
    requested = ca_ids_from_event(event)
    iot, sns = clients()
    suppressions, errors = load_suppressions(config)
    report = run_audit(
        iot,
        config,
        ca_certificate_ids=requested,
        audit_id=context.aws_request_id,
        account_id=context.invoked_function_arn.split(":")[4],
        stop_reason=time_limit(context),
        suppressions=suppressions,
        errors=errors,
    )
    if config.metrics_detail == "ca":
        emit_ca_metrics(report)
    add_run_totals(report)
    report = fit_report(report)
    if should_notify(report, config.notify_on):
        message_id = publish(sns, config.alert_topic_arn, build_message(report))
        logger.info(
            "Report published", extra={"messageId": message_id, "findingsTruncated": report["findingsTruncated"]}
        )
    add_heartbeat((time.monotonic() - started) * 1000)
    summary = without_findings(report)
    logger.info("Audit finished", extra={"summary": summary["summary"]})
    return summary
