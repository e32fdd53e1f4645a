"""One EventBridge event per new and per resolved finding (EVENT_BUS_NAME), for routing to
chat, ticketing or remediation without parsing emails.

PutEvents takes ten entries a call and may accept some and refuse others: the refused ones
are sent again with back-off, and any still refused when the retries or the deadline run
out are counted, never silently dropped.
"""

from __future__ import annotations

import json
from collections.abc import Collection

from cert_audit.calls import Deadline, call, send_in_batches

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

    def send(batch: list[dict]) -> list[dict]:
        results = call(events_client.put_events, deadline, Entries=batch).get("Entries", [])
        # One result per entry, in order: one with an ErrorCode, or missing, was not accepted.
        return [entry for i, entry in enumerate(batch) if i >= len(results) or results[i].get("ErrorCode")]

    left, _ = send_in_batches(send, to_send, BATCH_MAX, SENDERS, deadline)
    return len(to_send) - len(left), len(left)
