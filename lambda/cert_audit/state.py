"""The audit's memory: the open findings of the last run, in DynamoDB (STATE_TABLE_NAME).

One item per open finding (suppressed ones included, so they keep their firstSeen), keyed by
`findingId`. With Security Hub on, `lastImported` says when Security Hub was last given the
item's finding as it is: a put without it (any change of the record) means "not given yet".
A run reads every item once, as a stream (Scan, page by page: memory holds one page), and
writes only what changed: new findings and changed ones are put, resolved ones deleted
(BatchWriteItem, 25 at a time). An unchanged finding costs no write.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from cert_audit.aws import PageGuard, error_of
from cert_audit.calls import Deadline, call, send_in_batches

BATCH_MAX = 25  # BatchWriteItem's limit
WRITERS = 4  # batches in flight at once


class StateWriteError(Exception):
    """Some writes were still unprocessed after every retry; the message says how many,
    `unwritten` which findings, `cause` the error of a failed batch (None: unprocessed)."""

    def __init__(self, message: str, unwritten: set[str], cause: Exception | None):
        super().__init__(message)
        self.unwritten = unwritten
        self.cause = cause


def read_open(dynamodb, table: str, deadline: Deadline, unreadable: list[str] | None = None) -> Iterator[dict]:
    """Every open finding's record (see changes.py), page by page. The `finding` stays JSON
    text until someone needs it (changes.finding_of), so a million records cost no parsing.

    A record without a readable findingId is skipped; one with some other field missing is
    passed on with that field None and `unreadable` set. Each is described in `unreadable`,
    so the run can say so. A LastEvaluatedKey seen before raises PagingLoop."""
    request = {"TableName": table}
    guard = PageGuard(f"Scan of {table}", "LastEvaluatedKey")
    while True:
        page = call(dynamodb.scan, deadline, **request)
        for item in page.get("Items", []):
            record = _record(item)
            if record is None or record.get("unreadable"):
                problem = record["unreadable"] if record else "findingId missing or not a string"
                if unreadable is not None:
                    unreadable.append(f"{record['findingId'] if record else 'a record'}: {problem}")
                if record is None:
                    continue
            yield record
        if "LastEvaluatedKey" not in page:
            return
        guard.follow(json.dumps(page["LastEvaluatedKey"], sort_keys=True, default=str))
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


REQUIRED = ("firstSeen", "caCertificateId", "type", "finding")


def _record(item: dict) -> dict | None:
    def text(name: str) -> str | None:
        value = item.get(name)
        return value.get("S") if isinstance(value, dict) and isinstance(value.get("S"), str) else None

    if not text("findingId"):
        return None
    record = {name: text(name) for name in ("findingId", *REQUIRED, "status", "severity", "lastImported")}
    suppressed = item.get("suppressed")
    record["suppressed"] = isinstance(suppressed, dict) and suppressed.get("BOOL") is True
    if missing := [name for name in REQUIRED if record[name] is None]:
        record["unreadable"] = f"{', '.join(missing)} missing or not a string"
    return record


def _item(record: dict) -> dict:
    item = {
        "findingId": {"S": record["findingId"]},
        "firstSeen": {"S": record["firstSeen"]},
        "caCertificateId": {"S": record["caCertificateId"]},
        "type": {"S": record["type"]},
        "suppressed": {"BOOL": record["suppressed"]},
        "finding": {"S": json.dumps(record["finding"], separators=(",", ":"), default=str)},
    }
    for name in ("status", "severity"):
        if record["finding"].get(name):
            item[name] = {"S": record["finding"][name]}
    if record.get("lastImported"):  # Security Hub has this record's finding as of then (securityhub.py)
        item["lastImported"] = {"S": record["lastImported"]}
    return item


def write_changes(dynamodb, table: str, writes: list[dict], deletes: list[str], deadline: Deadline) -> int:
    """Put `writes` and delete `deletes`; returns the number of write requests made good.
    Unprocessed items and failed batches are retried; raises StateWriteError, naming the
    findingIds not written, if any remain. One batch that fails costs no other batch."""
    requests = [{"PutRequest": {"Item": _item(record)}} for record in writes]
    requests += [{"DeleteRequest": {"Key": {"findingId": {"S": finding_id}}}} for finding_id in deletes]

    def write(batch: list[dict]) -> list[dict]:
        response = call(dynamodb.batch_write_item, deadline, RequestItems={table: batch})
        return response.get("UnprocessedItems", {}).get(table, [])

    left, problem = send_in_batches(write, requests, BATCH_MAX, WRITERS, deadline)
    if left:
        raise StateWriteError(
            f"{len(left)} of {len(requests)} state writes were not made"
            + (f" ({error_of(problem)['code']}: {error_of(problem)['message']})" if problem else " (unprocessed)"),
            {_finding_id(request) for request in left},
            problem,
        )
    return len(requests)


def _finding_id(request: dict) -> str:
    key = request["PutRequest"]["Item"] if "PutRequest" in request else request["DeleteRequest"]["Key"]
    return key["findingId"]["S"]
