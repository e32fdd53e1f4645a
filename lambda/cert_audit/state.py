"""The audit's memory: the open findings of the last run, in DynamoDB (STATE_TABLE_NAME).

One item per open finding (suppressed ones included, so they keep their firstSeen), keyed by
`findingId`. A run reads every item once, as a stream (Scan, page by page: memory holds one
page), and writes only what changed: new findings and changed ones are put, resolved ones
deleted (BatchWriteItem, 25 at a time). An unchanged finding costs no write.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

from cert_audit.calls import RETRY_ATTEMPTS, Deadline, backoff_s, call

BATCH_MAX = 25  # BatchWriteItem's limit
WRITERS = 4  # batches in flight at once


class StateWriteError(Exception):
    """Some writes were still unprocessed after every retry; the message says how many."""


def read_open(dynamodb, table: str, deadline: Deadline) -> Iterator[dict]:
    """Every open finding's record (see changes.py), page by page. The `finding` stays JSON
    text until someone needs it (changes.finding_of), so a million records cost no parsing."""
    request = {"TableName": table}
    while True:
        page = call(dynamodb.scan, deadline, **request)
        for item in page.get("Items", []):
            yield {
                "findingId": item["findingId"]["S"],
                "firstSeen": item["firstSeen"]["S"],
                "caCertificateId": item["caCertificateId"]["S"],
                "type": item["type"]["S"],
                "status": item.get("status", {}).get("S"),
                "severity": item.get("severity", {}).get("S"),
                "suppressed": item.get("suppressed", {}).get("BOOL", False),
                "finding": item["finding"]["S"],
            }
        if "LastEvaluatedKey" not in page:
            return
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


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
    return item


def write_changes(dynamodb, table: str, writes: list[dict], deletes: list[str], deadline: Deadline) -> int:
    """Put `writes` and delete `deletes`; returns the number of write requests made good.
    Unprocessed items are retried with back-off; raises StateWriteError if any remain."""
    requests = [{"PutRequest": {"Item": _item(record)}} for record in writes]
    requests += [{"DeleteRequest": {"Key": {"findingId": {"S": finding_id}}}} for finding_id in deletes]
    batches = [requests[start : start + BATCH_MAX] for start in range(0, len(requests), BATCH_MAX)]
    with ThreadPoolExecutor(max_workers=WRITERS) as pool:
        left = sum(pool.map(lambda batch: _write_batch(dynamodb, table, batch, deadline), batches))
    if left:
        raise StateWriteError(f"{left} of {len(requests)} state writes were not processed")
    return len(requests)


def _write_batch(dynamodb, table: str, batch: list[dict], deadline: Deadline) -> int:
    """Writes one batch; returns how many of its requests were never processed."""
    for retry in range(RETRY_ATTEMPTS):
        response = call(dynamodb.batch_write_item, deadline, RequestItems={table: batch})
        batch = response.get("UnprocessedItems", {}).get(table, [])
        if not batch:
            return 0
        delay = backoff_s(retry)
        if not deadline.room_for(delay):
            break
        deadline.wait(delay)
    return len(batch)
