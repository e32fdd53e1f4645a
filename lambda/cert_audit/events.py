"""One EventBridge event per new and per resolved finding (EVENT_BUS_NAME), for routing to
chat, ticketing or remediation without parsing emails.

PutEvents takes ten entries a call and may accept some and refuse others: the refused ones
are sent again with back-off, and any still refused when the retries or the deadline run
out are counted, never silently dropped.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from concurrent.futures import ThreadPoolExecutor

from cert_audit.calls import RETRY_ATTEMPTS, Deadline, backoff_s, call

SOURCE = "iot-cert-audit"
DETAIL_TYPE = "IoT Certificate Audit Finding"
BATCH_MAX = 10  # PutEvents' limit
SENDERS = 4  # batches in flight at once


def entries(changes, audit_id: str, bus: str, held: Collection[str] = ()) -> list[dict]:
    """One entry per change: NEW for each new finding, RESOLVED for each resolved one; none
    for the findings in `held` (their change was not recorded, so the next run finds it again)."""
    return [
        {
            "Source": SOURCE,
            "DetailType": DETAIL_TYPE,
            "EventBusName": bus,
            "Resources": [arn] if (arn := finding.get("certificateArn")) else [],
            "Detail": json.dumps({"change": change, "auditId": audit_id, "finding": finding}, default=str),
        }
        for change, findings in (("NEW", changes.new), ("RESOLVED", changes.resolved))
        for finding in findings
        if finding["findingId"] not in held
    ]


def put_events(events_client, to_send: list[dict], deadline: Deadline) -> tuple[int, int]:
    """Send the entries; returns (sent, failed)."""
    batches = [to_send[start : start + BATCH_MAX] for start in range(0, len(to_send), BATCH_MAX)]
    with ThreadPoolExecutor(max_workers=SENDERS) as pool:
        failed = sum(pool.map(lambda batch: _send_batch(events_client, batch, deadline), batches))
    return len(to_send) - failed, failed


def _send_batch(events_client, batch: list[dict], deadline: Deadline) -> int:
    """Sends one batch; returns how many of its entries were never accepted."""
    for retry in range(RETRY_ATTEMPTS):
        try:
            response = call(events_client.put_events, deadline, Entries=batch)
        except Exception:  # noqa: BLE001 - the whole batch failed after its retries: counted
            return len(batch)
        results = response.get("Entries", [])
        # One result per entry, in order: one with an ErrorCode, or missing, was not accepted.
        batch = [entry for i, entry in enumerate(batch) if i >= len(results) or results[i].get("ErrorCode")]
        if not batch:
            return 0
        delay = backoff_s(retry)
        if not deadline.room_for(delay):
            break
        deadline.wait(delay)
    return len(batch)
