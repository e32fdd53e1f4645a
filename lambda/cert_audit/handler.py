"""The Lambda entry point: configuration and event, the run lock, the audit, its memory
(memory.py), the metrics and the notification, each bounded by its share of the time left.

Scheduled events audit the configured CAs; an on-demand invocation may pass
{"caCertificateIds": ["<id>", ...]} to audit just those, and {"notify": "always"} (or
"changes", "findings") to override NOTIFY_ON for that run, as the weekly digest does.

Under the state machine (issue 12) the event is its envelope (continuation.py): the same
request, and a checkpoint to go on from. Such a run holds the run lock from its first
invocation to its last (the lock's owner is the audit ID, which every invocation of the run
shares), and only its last invocation remembers, sends metrics and publishes.
"""

from __future__ import annotations

import functools
import json
import os
import time
from datetime import UTC, datetime

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import BotoCoreError, ClientError

from cert_audit import continuation
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
# With Security Hub on, the memory's steps include its import, which has a minute of its own
# (securityhub.py): the scan stops that much earlier again, so the archive keeps its time.
SECURITY_HUB_RESERVE_MS = 60_000
# The memory's steps stop this long before the timeout, keeping room for the publish.
PUBLISH_RESERVE_MS = 40_000
# Publishing and releasing the run lock stop this long before the timeout: room for one
# attempt under way and the return, so the function always returns before Lambda ends it.
FINAL_RESERVE_MS = (ATTEMPT_MAX_S + 5) * 1000
# How often a run waiting for another one to finish tries the run lock again.
RUN_LOCK_POLL_S = 15
# In an invocation of the state machine that may hand over, the scan stops this long before the
# timeout: a call under way (15 s), writing the part (bench/RESULTS.md, "Continuation") and the
# return. The invocation that finishes the scan with less than the memory's time left hands the
# memory steps to one more invocation instead.
CONTINUE_RESERVE_MS = 120_000
# How long past its invocation's end a state-machine run keeps the run lock: the time the state
# machine takes to start the next invocation, or to retry a failed one after its back-off
# (infra/state_machine.py: at most 30 + 60 + 120 s), so no other run takes the lock in between.
HANDOVER_GRACE_S = 300
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


def memory_reserve_ms(memory: Memory) -> int:
    """How much earlier than TIME_RESERVE_MS the scan stops, to leave the memory's steps their time."""
    if not memory.on:
        return 0
    return MEMORY_RESERVE_MS + (SECURITY_HUB_RESERVE_MS if memory.security_hub else 0)


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


def take_run_lock(
    config: AuditConfig, context: LambdaContext, owner: str | None = None, hold_s: int = 0
) -> tuple[bool, list[dict]]:
    """(whether to run, run errors). A run that finds another one under way waits for it, as
    reserved concurrency used to queue it, until only half of its own time is left; then it
    does not run. A lock that cannot be read is a run error, and the audit runs: the report
    matters more than the rule. The lock is held until the invocation's end plus `hold_s`."""
    if not config.run_lock_table:
        return True, []
    waiting = deadline(context, context.get_remaining_time_in_millis() // 2)
    expires_at = int(time.time() + context.get_remaining_time_in_millis() / 1000) + 1 + hold_s
    owner = owner or context.aws_request_id
    try:
        while not acquire_run_lock(dynamodb(), config.run_lock_table, owner, expires_at, waiting):
            if not waiting.room_for(RUN_LOCK_POLL_S):
                return False, []
            waiting.wait(RUN_LOCK_POLL_S)
        return True, []
    except (ClientError, BotoCoreError, Stopped) as problem:
        error = {"source": "runLock", **error_of(problem)}
    error["message"] = f"Run lock {config.run_lock_table}: {error['message']}. The audit ran without it."
    logger.error("Run lock not taken", extra={"error": error})
    return True, [error]


def give_back_run_lock(config: AuditConfig, context: LambdaContext, until: Deadline, owner: str | None = None) -> None:
    if not config.run_lock_table:
        return
    try:
        release_run_lock(dynamodb(), config.run_lock_table, owner or context.aws_request_id, until)
    except (ClientError, BotoCoreError, Stopped) as problem:  # it expires by itself at the timeout
        logger.warning("Run lock not released", extra={"error": error_of(problem)})


@logger.inject_lambda_context(log_event=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    started = time.monotonic()
    config = load_config(os.environ)
    envelope = continuation.envelope_of(event)
    if envelope:
        return continued(envelope, config, context)
    requested = ca_ids_from_event(event)
    notify_on = notify_from_event(event) or config.notify_on
    memory = Memory.of(config)
    iot = clients()[0]
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
            deadline=deadline(context, TIME_RESERVE_MS + memory_reserve_ms(memory)),
            suppressions=suppressions,
            errors=errors + suppression_errors,
        )
        every_ca = config.all_cas and requested is None
        report = conclude(report, config, memory, notify_on, context, every_ca)
    finally:
        give_back_run_lock(config, context, final)
    add_heartbeat((time.monotonic() - started) * 1000)
    summary = without_findings(report)
    logger.info("Audit finished", extra={"summary": summary["summary"]})
    return summary


def conclude(report: dict, config: AuditConfig, memory: Memory, notify_on: str, context, every_ca: bool) -> dict:
    """A run's last steps: remember, the metrics, and the notification (whose failure fails the
    invocation on purpose: the schedule's retry and dead-letter queue, or the state machine's
    retry, see it)."""
    report = remember(report, memory, client, deadline(context, PUBLISH_RESERVE_MS), every_ca)
    if config.metrics_detail == "ca":
        emit_ca_metrics(report)
    add_run_totals(report)
    report = fit_report(report)
    if should_notify(report, notify_on):
        try:
            message_id = publish(
                clients()[1], config.alert_topic_arn, build_message(report), deadline(context, FINAL_RESERVE_MS)
            )
        except Exception as problem:
            logger.exception("Report not published", extra={"error": error_of(problem)})
            raise
        logger.info(
            "Report published", extra={"messageId": message_id, "findingsTruncated": report["findingsTruncated"]}
        )
    return report


def continued(envelope: continuation.Envelope, config: AuditConfig, context: LambdaContext) -> dict:
    """One invocation of a state-machine run: scan on from the checkpoint, then hand the next
    checkpoint back, or conclude the run. Returns the envelope of the next task, small whatever
    the fleet: the checkpoint, or none with the run's outcome (its summary, not its CAs)."""
    request = envelope.request
    requested = ca_ids_from_event(request)
    notify_on = notify_from_event(request) or config.notify_on
    memory = Memory.of(config)
    audit_id = envelope.checkpoint.audit_id if envelope.checkpoint else context.aws_request_id
    final = deadline(context, FINAL_RESERVE_MS)
    run, errors = take_run_lock(config, context, owner=audit_id, hold_s=HANDOVER_GRACE_S)
    if not run:
        reason = (
            f"another audit run held the run lock in {config.run_lock_table} for half of this invocation's "
            "time; this one did not start"
        )
        logger.warning("Run skipped", extra={"reason": reason, "auditId": audit_id})
        add_skipped_run()
        return {"request": request, "checkpoint": None, "outcome": {"skipped": True, "reason": reason}}
    if envelope.failure is not None and envelope.checkpoint is None:
        # The first invocation never got through: there is nothing to report, and the execution fails.
        give_back_run_lock(config, context, final, audit_id)
        return {"request": request, "checkpoint": None, "outcome": {"auditId": audit_id, "reported": False}}
    suppressions, suppression_errors = load_suppressions(config)
    memory_ms = memory_reserve_ms(memory)
    run_state = continuation.Run(
        iot_client=clients()[0],
        s3=lambda: client("s3"),
        bucket=config.report_bucket,
        config=config,
        account_id=context.invoked_function_arn.split(":")[4],
        suppressions=suppressions,
        errors=errors + suppression_errors,
        scan_deadline=lambda last: deadline(context, TIME_RESERVE_MS + memory_ms if last else CONTINUE_RESERVE_MS),
        part_deadline=deadline(context, FINAL_RESERVE_MS if envelope.failure is None else PUBLISH_RESERVE_MS),
        room_to_finish=lambda: context.get_remaining_time_in_millis() > TIME_RESERVE_MS + memory_ms,
    )
    # The lock stays held when this invocation fails: the state machine's retry takes it over.
    envelope = continuation.resolved(run_state, envelope)
    step = continuation.advance(run_state, envelope, requested, audit_id)
    if step.checkpoint:
        logger.info(
            "Run handed over",
            extra={
                "auditId": audit_id,
                "invocation": step.checkpoint.invocations,
                "casLeft": len(step.checkpoint.left),
                "casInProgress": len(step.checkpoint.in_progress),
            },
        )
        return {
            "request": request,
            "checkpoint": continuation.checkpoint_payload(run_state, step.checkpoint),
            "outcome": None,
        }
    report = conclude(step.report, config, memory, notify_on, context, config.all_cas and requested is None)
    continuations = report["summary"]["continuations"]
    if continuations:
        continuation.delete_parts(client("s3"), config.report_bucket, audit_id, continuations, final)
    give_back_run_lock(config, context, final, audit_id)
    metrics.add_metric(name="Continuations", unit=MetricUnit.Count, value=continuations)
    # The run's duration, first invocation to last (AuditDuration), not this invocation's.
    add_heartbeat((datetime.now(UTC) - datetime.fromisoformat(report["startedAt"])).total_seconds() * 1000)
    summary = without_findings(report)["summary"]
    logger.info("Audit finished", extra={"summary": summary, "continuations": continuations})
    outcome = {"auditId": report["auditId"], "reportUri": report["reportUri"], "summary": summary}
    return {"request": request, "checkpoint": None, "outcome": outcome}
