"""The Lambda entry point: configuration and event, the run lock, the audit, its memory
(memory.py), the metrics and the notification, each bounded by its share of the time left.

Scheduled events audit the configured CAs; an on-demand invocation may pass
{"caCertificateIds": ["<id>", ...]} to audit just those, and {"notify": "always"} (or
"changes", "findings") to override NOTIFY_ON for that run, as the weekly digest does.
"""

from __future__ import annotations

import functools
import json
import os
import time

from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import BotoCoreError, ClientError

from cert_audit.audit import run_audit
from cert_audit.aws import (
    acquire_run_lock,
    error_of,
    make_client,
    make_clients,
    publish,
    read_parameter,
    release_run_lock,
)
from cert_audit.calls import ATTEMPT_MAX_S, Deadline, Stopped
from cert_audit.config import AuditConfig, ca_ids_from_event, load_config, notify_from_event
from cert_audit.memory import Memory, remember
from cert_audit.message import build_message, fit_report, should_notify
from cert_audit.metrics import add_heartbeat, add_run_totals, add_skipped_run, emit_ca_metrics
from cert_audit.observability import logger, metrics, tracer
from cert_audit.report import without_findings
from cert_audit.suppressions import Suppression, SuppressionError, parse_suppressions

# No IoT call starts in the last minute before the function's timeout: the minute holds a
# call already under way (at most ATTEMPT_MAX_S), the report and its publish.
TIME_RESERVE_MS = 60_000
# With a memory, the scan stops this much earlier again: room to read the state, record and
# announce the changes and archive the report. bench/RESULTS.md ("Memory") estimates these steps
# at about 190 s for a million open findings with 1% changed at 2048 MB; this leaves half again
# as headroom. A larger backlog that overruns it is not lost: the step that meets the deadline
# becomes a run error, and the report is still published.
MEMORY_RESERVE_MS = 290_000
# The memory's steps stop this long before the timeout, keeping room for the publish.
PUBLISH_RESERVE_MS = 40_000
# Publishing and releasing the run lock stop this long before the timeout: room for one
# attempt under way and the return, so the function always returns before Lambda ends it.
FINAL_RESERVE_MS = (ATTEMPT_MAX_S + 5) * 1000
# How often a run waiting for another one to finish tries the run lock again.
RUN_LOCK_POLL_S = 15
# A warm container re-reads the suppressions parameter at most this often.
SUPPRESSIONS_MAX_AGE_SECONDS = 300


@functools.cache
def clients():
    """IoT and SNS clients, created once per container and reused by warm invocations."""
    return make_clients()


@functools.cache
def client(service: str):
    """Any other client (DynamoDB, S3, EventBridge), once per container."""
    return make_client(service)


def dynamodb():
    return client("dynamodb")


def deadline(context: LambdaContext, reserve_ms: int) -> Deadline:
    return Deadline(
        lambda: (context.get_remaining_time_in_millis() - reserve_ms) / 1000,
        "the invocation was about to reach its timeout; raise the function timeout or audit fewer CAs per run",
    )


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


def take_run_lock(config: AuditConfig, context: LambdaContext) -> tuple[bool, list[dict]]:
    """(whether to run, run errors). A run that finds another one under way waits for it, as
    reserved concurrency used to queue it, until only half of its own time is left; then it
    does not run. A lock that cannot be read is a run error, and the audit runs: the report
    matters more than the rule."""
    if not config.run_lock_table:
        return True, []
    waiting = deadline(context, context.get_remaining_time_in_millis() // 2)
    expires_at = int(time.time() + context.get_remaining_time_in_millis() / 1000) + 1
    try:
        while not acquire_run_lock(dynamodb(), config.run_lock_table, context.aws_request_id, expires_at, waiting):
            if not waiting.room_for(RUN_LOCK_POLL_S):
                return False, []
            waiting.wait(RUN_LOCK_POLL_S)
        return True, []
    except (ClientError, BotoCoreError, Stopped) as problem:
        error = {"source": "runLock", **error_of(problem)}
    error["message"] = f"Run lock {config.run_lock_table}: {error['message']}. The audit ran without it."
    logger.error("Run lock not taken", extra={"error": error})
    return True, [error]


def give_back_run_lock(config: AuditConfig, context: LambdaContext, until: Deadline) -> None:
    if not config.run_lock_table:
        return
    try:
        release_run_lock(dynamodb(), config.run_lock_table, context.aws_request_id, until)
    except (ClientError, BotoCoreError, Stopped) as problem:  # it expires by itself at the timeout
        logger.warning("Run lock not released", extra={"error": error_of(problem)})


@logger.inject_lambda_context(log_event=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    started = time.monotonic()
    config = load_config(os.environ)
    requested = ca_ids_from_event(event)
    notify_on = notify_from_event(event) or config.notify_on
    memory = Memory(config.state_table, config.report_bucket, config.event_bus)
    iot, sns = clients()
    final = deadline(context, FINAL_RESERVE_MS)
    run, errors = take_run_lock(config, context)
    if not run:
        reason = (
            f"another audit run held the run lock in {config.run_lock_table} for half of this invocation's "
            "time; this one did not start"
        )
        logger.warning("Run skipped", extra={"reason": reason})
        add_skipped_run()
        return {"skipped": True, "reason": reason}
    try:
        suppressions, suppression_errors = load_suppressions(config)
        report = run_audit(
            iot,
            config,
            ca_certificate_ids=requested,
            audit_id=context.aws_request_id,
            account_id=context.invoked_function_arn.split(":")[4],
            deadline=deadline(context, TIME_RESERVE_MS + (MEMORY_RESERVE_MS if memory.on else 0)),
            suppressions=suppressions,
            errors=errors + suppression_errors,
        )
        every_ca = config.all_cas and requested is None
        report = remember(report, memory, client, deadline(context, PUBLISH_RESERVE_MS), every_ca)
        if config.metrics_detail == "ca":
            emit_ca_metrics(report)
        add_run_totals(report)
        report = fit_report(report)
        if should_notify(report, notify_on):
            try:
                message_id = publish(sns, config.alert_topic_arn, build_message(report), final)
            except Exception as problem:
                # Fails the invocation on purpose: the schedule's retry and dead-letter queue see it.
                logger.exception("Report not published", extra={"error": error_of(problem)})
                raise
            logger.info(
                "Report published", extra={"messageId": message_id, "findingsTruncated": report["findingsTruncated"]}
            )
    finally:
        give_back_run_lock(config, context, final)
    add_heartbeat((time.monotonic() - started) * 1000)
    summary = without_findings(report)
    logger.info("Audit finished", extra={"summary": summary["summary"]})
    return summary
