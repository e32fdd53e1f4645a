"""Security Hub (SECURITY_HUB=true): the findings where security teams look, with their lifecycle
right. Called by memory.remember once the state is written, so it knows what changed.

- Imported (BatchImportFindings, 100 a call, in ASFF: asff.py): new findings, findings whose state
  record changed (severity, status, suppression), findings Security Hub was never given (it was
  just turned on, or their import failed) and findings last given more than REFRESH_AFTER_DAYS
  ago, since Security Hub deletes a finding nobody updated for 90 days. An unchanged finding costs
  nothing. The same Id updates the same finding, so importing again never duplicates it.
- A resolved finding is imported PASSED and ARCHIVED. A CA that failed in this run resolves
  nothing (changes.py), and its findings are left as Security Hub has them: only its new ones are
  imported, the rest wait for a run that reads the CA to the end.
- A suppressed finding has Workflow SUPPRESSED and the suppression's reason as its note: in its
  document (Security Hub takes them when it creates the finding) and through BatchUpdateFindings
  (the only way to change them on a finding it has); one whose suppression ended goes back to NEW.
- Each finding Security Hub accepted is marked in its state record (`lastImported`). One it
  refused is sent again while retries and the time allow, then counted (summary
  securityHubFailed, metric SecurityHubFailedFindings) and told as a run error (source
  securityHub); unmarked, it is imported again by the next run. A refresh the time did not allow
  is no failure: the next run does it.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from cert_audit import asff, calls
from cert_audit.aws import MalformedResponse, error_of
from cert_audit.calls import Deadline, RateLimiter, call, send_in_batches
from cert_audit.changes import Changes, record_of
from cert_audit.config import partition_of
from cert_audit.findings import iso_utc
from cert_audit.observability import logger
from cert_audit.report import add_error
from cert_audit.state import StateWriteError, write_changes

SOURCE = "securityHub"
BATCH_MAX = 100  # BatchImportFindings' and BatchUpdateFindings' limit
SENDERS = 4  # batches in flight at once
# Calls a second: BatchImportFindings' quota is 10 a second per account and Region (burst 30),
# shared with every other custom provider of the account; half of it, as for IoT.
RATE_LIMIT = 5
# Security Hub deletes a finding 90 days after its last update: an open finding is imported
# again 60 days after the last time, leaving 30 days for failed or skipped runs.
REFRESH_AFTER_DAYS = 60
# Findings imported per run only because they are due (never imported, or for the refresh),
# oldest first; changes always go. 200 calls at RATE_LIMIT: 40 s. The rest wait for the next run.
REFRESH_MAX = 20_000
# The step's own share of the memory's time, and what it leaves the archive that follows it: the
# bench (bench/RESULTS.md) measured the archive's JSON, CSV and OCSF files of a million findings at
# about 110 s of CPU, so 30 s and 0.11 ms a finding.
TIME_BUDGET_S = 60
ARCHIVE_BASE_S = 30
ARCHIVE_PER_FINDING_S = 0.00011


def archive_room_s(report: dict) -> float:
    """The time the archive after this step keeps for itself."""
    return ARCHIVE_BASE_S + ARCHIVE_PER_FINDING_S * (len(report["findings"]) + len(report["suppressedFindings"]))


# FailedFindings codes that another try cannot fix: the document or the account is the problem.
PERMANENT = frozenset(
    {"InvalidInput", "InvalidInputException", "InvalidAccess", "InvalidAccessException", "AccessDenied"}
    | {"AccessDeniedException", "FindingNotFound", "FindingSizeExceeded"}
)
ENDED_NOTE = "The audit's suppression of this finding ended: it is open again."


def refresh_before(now: str) -> str:
    """Records last imported before this time (ISO, as the state keeps it) are due again."""
    return iso_utc(datetime.fromisoformat(now.replace("Z", "+00:00")) - timedelta(days=REFRESH_AFTER_DAYS))


@dataclass
class Item:
    """One finding to give Security Hub, and what follows once it is accepted."""

    finding: dict
    state: str  # asff.OPEN, SUPPRESSED or RESOLVED
    workflow: str | None = None  # a BatchUpdateFindings to SUPPRESSED or NEW after the import
    mark: bool = False  # write lastImported in its state record
    due: bool = False  # imported because due, not changed: if the time runs out, the next run does it

    @property
    def finding_id(self) -> str:
        return self.finding["findingId"]


def plan(report: dict, changes: Changes, unrecorded: Collection[str] = ()) -> list[Item]:
    """What this run gives Security Hub: the changes first, then the due findings (capped).
    `unrecorded`: findings whose state write failed; their marks would record them unannounced."""
    failed_cas = {ca["caCertificateId"] for ca in report["cas"] if ca["error"]}
    current = {finding["findingId"]: (finding, asff.OPEN) for finding in report["findings"]}
    current.update({finding["findingId"]: (finding, asff.SUPPRESSED) for finding in report["suppressedFindings"]})
    new = {finding["findingId"] for finding in changes.new}
    unsuppressed = set(changes.unsuppressed)
    items: dict[str, Item] = {}

    def add(finding_id: str, due: bool = False) -> None:
        if finding_id in items or finding_id not in current:
            return
        finding, state = current[finding_id]
        if finding_id not in new and finding["caCertificateId"] in failed_cas:
            return  # left as Security Hub has it until its CA is read to the end
        workflow = "SUPPRESSED" if state == asff.SUPPRESSED else "NEW" if finding_id in unsuppressed else None
        items[finding_id] = Item(finding, state, workflow, mark=finding_id not in unrecorded, due=due)

    for finding_id in (*(finding["findingId"] for finding in changes.new), *(r["findingId"] for r in changes.writes)):
        add(finding_id)
    gone = [Item(finding, asff.RESOLVED) for finding in (*changes.resolved, *changes.gone_suppressed)]
    for _, finding_id in sorted(changes.stale)[:REFRESH_MAX]:
        add(finding_id, due=True)
    changed = [item for item in items.values() if not item.due]
    return changed + gone + [item for item in items.values() if item.due]


@dataclass
class Outcome:
    imported: set[str]  # findingIds Security Hub accepted
    refused: dict[str, tuple[str, str]]  # findingId: (code, message) of the last failure
    deferred: set[str]  # due findings the time did not allow: no failure


def import_documents(client, items: list[Item], report: dict, deadline: Deadline, updated_at: str) -> Outcome:
    """BatchImportFindings of the items' documents, 100 a call. A finding refused with a code a
    retry may fix is sent again (send_in_batches); a malformed answer fails its batch."""
    partition = partition_of(report["region"])
    documents = [asff.document(report, item.finding, item.state, partition, updated_at) for item in items]
    limiter = RateLimiter(RATE_LIMIT)
    refused: dict[str, tuple[str, str]] = {}
    final: set[str] = set()

    def send(batch: list[dict]) -> list[dict]:
        failed = _answer(
            client.batch_import_findings, _failed_findings, batch, deadline, limiter, refused, Findings=batch
        )
        for finding_id, error in failed.items():
            refused[finding_id] = error
            if error[0] in PERMANENT:
                final.add(finding_id)
        return [document for document in batch if document["Id"] in failed and document["Id"] not in final]

    left, _ = send_in_batches(send, documents, BATCH_MAX, SENDERS, deadline)
    not_imported = {document["Id"] for document in left} | final
    due = {item.finding_id for item in items if item.due}
    deferred = {i for i in not_imported if i in due and refused.get(i, ("",))[0] == calls.Stopped.__name__}
    return Outcome(
        imported={document["Id"] for document in documents} - not_imported,
        refused={i: refused.get(i, ("Unprocessed", "not accepted")) for i in not_imported - deferred},
        deferred=deferred,
    )


def update_workflows(client, items: list[Item], report: dict, deadline: Deadline) -> dict[str, tuple[str, str]]:
    """BatchUpdateFindings of the items' workflow (and note), grouped by status and note, 100 a
    call; returns the findings not updated, with their error."""
    product = asff.product_arn(partition_of(report["region"]), report["region"], report["accountId"])
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for item in items:
        note = asff.suppression_note(item.finding) if item.workflow == "SUPPRESSED" else ENDED_NOTE
        groups[item.workflow, note].append({"Id": item.finding_id, "ProductArn": product})
    limiter = RateLimiter(RATE_LIMIT)
    refused: dict[str, tuple[str, str]] = {}
    final: set[str] = set()
    for (status, note), identifiers in groups.items():

        def send(batch: list[dict], status=status, note=note) -> list[dict]:
            failed = _answer(
                client.batch_update_findings,
                _unprocessed,
                batch,
                deadline,
                limiter,
                refused,
                FindingIdentifiers=batch,
                Workflow={"Status": status},
                Note={"Text": note, "UpdatedBy": asff.NOTE_AUTHOR},
            )
            for finding_id, error in failed.items():
                refused[finding_id] = error
                if error[0] in PERMANENT:
                    final.add(finding_id)
            return [identifier for identifier in batch if identifier["Id"] in failed and identifier["Id"] not in final]

        left, _ = send_in_batches(send, identifiers, BATCH_MAX, SENDERS, deadline)
        final.update(identifier["Id"] for identifier in left)
    return {finding_id: refused.get(finding_id, ("Unprocessed", "not updated")) for finding_id in final}


def _answer(
    operation: Callable, read: Callable, batch: list[dict], deadline: Deadline, limiter, refused: dict, **request
) -> dict[str, tuple[str, str]]:
    """One call, and `read(answer, batch)`: the findings it refused. A call that fails (after its
    retries), or an answer that cannot be read, is noted against every finding of the batch."""
    try:
        return read(call(operation, deadline, limiter=limiter, **request), batch)
    except (AttributeError, TypeError, ValueError) as problem:
        # botocore's parser trips over an answer of the wrong shape (a string for a list...)
        problem = MalformedResponse(f"unreadable answer ({type(problem).__name__}: {problem})")
        error = error_of(problem)
        refused.update({entry["Id"]: (error["code"], error["message"]) for entry in batch})
        raise problem from None
    except Exception as problem:
        error = error_of(problem)
        refused.update({entry["Id"]: (error["code"], error["message"]) for entry in batch})
        raise


def _failed_findings(answer: dict, batch: list[dict]) -> dict[str, tuple[str, str]]:
    """The findings a BatchImportFindings answer refused, by Id. An answer that does not account
    for every finding it was sent cannot say which were taken: MalformedResponse."""
    failed, failed_count, success_count = (answer.get(k) for k in ("FailedFindings", "FailedCount", "SuccessCount"))
    failed = [] if failed is None and failed_count == 0 else failed
    ids = {document["Id"] for document in batch}
    if (
        not isinstance(failed, list)
        or not isinstance(failed_count, int)
        or not isinstance(success_count, int)
        or failed_count != len(failed)
        or failed_count + success_count != len(batch)
        or not all(isinstance(entry, dict) and entry.get("Id") in ids for entry in failed)
    ):
        raise MalformedResponse(
            f"BatchImportFindings answered for {len(batch)} findings with FailedCount {failed_count!r}, SuccessCount "
            f"{success_count!r} and {len(failed) if isinstance(failed, list) else repr(failed)} FailedFindings"
        )
    return {entry["Id"]: (entry.get("ErrorCode") or "Unknown", entry.get("ErrorMessage") or "") for entry in failed}


def _unprocessed(answer: dict, batch: list[dict]) -> dict[str, tuple[str, str]]:
    """The findings a BatchUpdateFindings answer did not update, by Id; MalformedResponse for an
    answer that does not account for every finding it was sent."""
    processed, unprocessed = answer.get("ProcessedFindings"), answer.get("UnprocessedFindings")
    ids = {identifier["Id"] for identifier in batch}
    if not isinstance(processed, list) or not isinstance(unprocessed, list):
        raise MalformedResponse("BatchUpdateFindings answered without ProcessedFindings and UnprocessedFindings lists")
    failed = {}
    for entry in unprocessed:
        identifier = entry.get("FindingIdentifier") if isinstance(entry, dict) else None
        if not isinstance(identifier, dict) or identifier.get("Id") not in ids:
            raise MalformedResponse(f"BatchUpdateFindings answered with a finding it was not sent: {entry!r}")
        failed[identifier["Id"]] = (entry.get("ErrorCode") or "Unknown", entry.get("ErrorMessage") or "")
    done = {entry.get("Id") for entry in processed if isinstance(entry, dict)}
    if ids - done - set(failed):
        raise MalformedResponse(f"BatchUpdateFindings did not account for {len(ids - done - set(failed))} findings")
    return failed


def _step_deadline(deadline: Deadline, room_s: float) -> Deadline:
    """TIME_BUDGET_S from now, and never into the archive's room."""
    ends = calls.clock() + TIME_BUDGET_S
    return Deadline(
        lambda: min(ends - calls.clock(), deadline.seconds_left() - room_s),
        f"the Security Hub step's time ({TIME_BUDGET_S} s, and {room_s:.0f} s kept for the archive) ran out",
        deadline.interrupted,
    )


def _told(report: dict, code: str, message: str) -> None:
    add_error(report, SOURCE, code, message)
    logger.error("Memory step failed", extra={"source": SOURCE, "error": {"code": code, "message": message}})


def _most_common(errors: Collection[tuple[str, str]]) -> tuple[str, str]:
    code, _ = Counter(code for code, _ in errors).most_common(1)[0]
    return next(error for error in errors if error[0] == code)


def import_findings(
    report: dict, changes: Changes, clients, state_table: str, deadline: Deadline, unrecorded: Collection[str] = ()
) -> None:
    """Give Security Hub this run's changes and due findings, mark what it took in the state, and
    put the counts (summary securityHubImported, securityHubFailed) and any failure in the report."""
    items = plan(report, changes, unrecorded)
    if not items:
        return
    room_s = archive_room_s(report)
    step = _step_deadline(deadline, room_s)
    updated_at = asff.now_ms()
    outcome = import_documents(clients("securityhub"), items, report, step, updated_at)
    to_update = [item for item in items if item.workflow and item.finding_id in outcome.imported]
    not_updated = update_workflows(clients("securityhub"), to_update, report, step) if to_update else {}
    failed = {**outcome.refused, **not_updated}
    report["summary"].update(securityHubImported=len(outcome.imported), securityHubFailed=len(failed))
    logger.info(
        "Security Hub updated",
        extra={"imported": len(outcome.imported), "failed": len(failed), "deferred": len(outcome.deferred)},
    )
    _tell_failures(report, items, outcome, not_updated)
    marks = [
        {**record_of(item.finding, item.state == asff.SUPPRESSED), "lastImported": updated_at}
        for item in items
        if item.mark and item.finding_id in outcome.imported and item.finding_id not in not_updated
    ]
    if marks:
        room = Deadline(lambda: deadline.seconds_left() - room_s, step.reason, deadline.interrupted)
        try:
            write_changes(clients("dynamodb"), state_table, marks, [], room)
        except Exception as problem:  # noqa: BLE001 - unmarked findings are imported again: no loss
            cause = problem.cause if isinstance(problem, StateWriteError) and problem.cause else problem
            error = error_of(cause)
            _told(
                report,
                error["code"],
                f"{problem if isinstance(problem, StateWriteError) else error['message']}: findings Security Hub took "
                "were not marked as given in the state table; the next run imports them again",
            )


def _tell_failures(report: dict, items: list[Item], outcome: Outcome, not_updated: dict) -> None:
    by_id = {item.finding_id: item for item in items}
    gone = {i: e for i, e in outcome.refused.items() if by_id[i].state == asff.RESOLVED}
    kept = {i: e for i, e in outcome.refused.items() if i not in gone}
    if kept:
        code, message = _most_common(kept.values())
        _told(
            report,
            code,
            f"{len(kept)} of {len(items)} findings were not imported into Security Hub ({code}: {message}); "
            "the next run imports them again",
        )
    if gone:
        code, message = _most_common(gone.values())
        _told(
            report,
            code,
            f"{len(gone)} resolved findings were not archived in Security Hub ({code}: {message}); they stay ACTIVE "
            "there until Security Hub deletes them, 90 days after their last update (resolvedFindings lists them)",
        )
    if not_updated:
        code, message = _most_common(not_updated.values())
        ended = sum(1 for i in not_updated if by_id[i].workflow == "NEW")
        _told(
            report,
            code,
            f"{len(not_updated)} findings' workflow was not set in Security Hub ({code}: {message}); a suppressed one "
            f"is set again by the next run"
            + (f", and {ended} whose suppression ended must be set back to NEW in the console" if ended else ""),
        )
