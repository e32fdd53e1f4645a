"""A run's memory of the last one, in the order that loses nothing (the handler's side of issue 10).

1. Compare with the open findings in the state table: firstSeen, isNew, what was resolved.
2. Write what changed to the state, then send one event per change: a change is recorded
   before it is announced, so a failed write never repeats an event (a change whose write
   failed is held back, counted, and announced by the run that records it), and a refused
   event is counted in the report rather than dropped.
3. With Security Hub on, import the changes there and mark what it took in the state (securityhub.py).
4. Archive the full report in S3, with everything above in it, before anything is published.
Each step that fails becomes a run error (source `state`, `events`, `securityHub` or `archive`) and the
next step still runs; a state that cannot be read leaves every change unknown, and then
nothing is written and no event is sent, so the next run compares with the same state.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from cert_audit.archive import archive_report
from cert_audit.aws import MalformedResponse, error_of
from cert_audit.calls import Deadline
from cert_audit.changes import changes_of
from cert_audit.events import entries, put_events
from cert_audit.findings import iso_utc
from cert_audit.observability import logger
from cert_audit.report import add_error, with_changes
from cert_audit.securityhub import import_findings, refresh_before
from cert_audit.state import StateWriteError, read_open, write_changes


@dataclass(frozen=True)
class Memory:
    """Where a deployment keeps its memory; any of them may be None (that part is off)."""

    state_table: str | None = None
    report_bucket: str | None = None
    event_bus: str | None = None
    security_hub: bool = False  # import into Security Hub (needs the state table)

    @classmethod
    def of(cls, config) -> Memory:
        """The memory an AuditConfig configures."""
        return cls(config.state_table, config.report_bucket, config.event_bus, config.security_hub)

    @property
    def on(self) -> bool:
        return any((self.state_table, self.report_bucket, self.event_bus))


def _told(report: dict, source: str, code: str, message: str) -> None:
    add_error(report, source, code, message)
    logger.error("Memory step failed", extra={"source": source, "error": {"code": code, "message": message}})


def _failed(report: dict, source: str, problem: Exception, consequence: str) -> None:
    error = error_of(problem)
    _told(report, source, error["code"], f"{error['message']}. {consequence}")


def remember(report: dict, memory: Memory, clients, deadline: Deadline, every_ca_requested: bool) -> dict:
    """The report with its changes, recorded, announced and archived as far as each step could.

    `clients(service)` gives the client of an AWS service."""
    now = iso_utc(datetime.now(UTC))
    unreadable: list[str] = []
    try:
        previous = (
            read_open(clients("dynamodb"), memory.state_table, deadline, unreadable) if memory.state_table else None
        )
        refresh = refresh_before(now) if memory.security_hub and memory.state_table else None
        changes = changes_of(report, previous, every_ca_requested, now, refresh)
    except Exception as problem:  # noqa: BLE001 - the report still goes out, without its changes
        changes = None
        _failed(report, "state", problem, "What changed since the last run is unknown; nothing was recorded")
    report = with_changes(report, changes)
    if changes and unreadable:
        add_error(
            report,
            "state",
            MalformedResponse.__name__,
            f"{len(unreadable)} state records were malformed (first: {unreadable[0]}); a finding still open was "
            "kept with its record rewritten, any other such record was left as it was",
        )
    unrecorded: set[str] = set()
    if changes and memory.state_table:
        try:
            write_changes(clients("dynamodb"), memory.state_table, changes.writes, changes.deletes, deadline)
        except StateWriteError as problem:
            unrecorded = problem.unwritten
            code = error_of(problem.cause)["code"] if problem.cause else "UnprocessedItems"
            _told(report, "state", code, f"{problem}. The next run reports these changes again")
        except Exception as problem:  # noqa: BLE001 - nothing known to be written: hold every change back
            unrecorded = {*(record["findingId"] for record in changes.writes), *changes.deletes}
            _failed(report, "state", problem, "The next run reports these changes again")
    if changes and memory.event_bus:
        to_send = entries(changes, report["auditId"], memory.event_bus, unrecorded)
        held = len(changes.new) + len(changes.resolved) - len(to_send)
        sent, failed = put_events(clients("events"), to_send, deadline)
        report["summary"].update(eventsSent=sent, eventsFailed=failed + held)
        if held:
            add_error(
                report,
                "events",
                "EventsHeldBack",
                f"{held} change events were not sent because their change was not recorded in the state; "
                "the run that records it sends them",
            )
        if failed:
            add_error(
                report,
                "events",
                "EventsNotSent",
                f"{failed} of {sent + failed} change events were not sent; they are not sent again",
            )
    if changes and memory.security_hub and memory.state_table:
        try:
            import_findings(report, changes, clients, memory.state_table, deadline, unrecorded)
        except Exception as problem:  # noqa: BLE001
            _failed(report, "securityHub", problem, "Security Hub was not updated; the next run tries again")
    if memory.report_bucket:
        try:
            report.update(archive_report(clients("s3"), memory.report_bucket, report, deadline))
        except Exception as problem:  # noqa: BLE001
            _failed(report, "archive", problem, "The full report was not archived; the message carries what fits")
    return report
