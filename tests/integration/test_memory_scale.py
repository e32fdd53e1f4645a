"""The memory at 100x size (issue 10): 100,000 open findings in the state and a run where a
few changed. moto's Scan is far too slow for this (20,000 items take over 30 s: it walks the
table for every page), so the table's Scan is answered by a stand-in through botocore's
before-send hook, in 1 MB pages of real state items as the engine wrote them; every write
still goes to moto's table. The run must read every record once, write only the changes and
announce only them."""

# ruff: noqa: F811 - the fixtures of test_memory, imported, are parameters here
from __future__ import annotations

import json
import time

import boto3

from cert_audit import handler
from tests.integration.conftest import REGION, metric_points
from tests.integration.test_memory import fleet, memory, published_reports, run  # noqa: F401 - fixtures
from tests.integration.test_memory_faults import answer, change_the_fleet, inject_faults

OPEN = 100_000
PAGE_ITEMS = 2_000  # about 1 MB of these items, DynamoDB's page size
OLDEST = "2024-01-01T00:00:00Z"


def state_item(number: int) -> dict:
    """An open finding of a CA this run does not audit, as the state table holds it."""
    ca = "f" * 64
    finding = {
        "type": "CERTIFICATE_STATUS",
        "severity": "HIGH",
        "caCertificateId": ca,
        "certificateId": f"{number:064x}",
        "certificateArn": f"arn:aws:iot:us-east-1:123456789012:cert/{number:064x}",
        "status": "REVOKED",
        "creationDate": "2020-01-01T00:00:00Z",
        "reason": "Certificate is REVOKED but still registered.",
        "findingId": f"{number:032x}",
        "firstSeen": OLDEST,
    }
    return {
        "findingId": {"S": finding["findingId"]},
        "firstSeen": {"S": OLDEST},
        "caCertificateId": {"S": ca},
        "type": {"S": "CERTIFICATE_STATUS"},
        "status": {"S": "REVOKED"},
        "severity": {"S": "HIGH"},
        "suppressed": {"BOOL": False},
        "finding": {"S": json.dumps(finding, separators=(",", ":"))},
    }


def test_a_hundred_thousand_open_findings_cost_only_the_changes(memory, alerts, fleet, backend, virtual_time, capsys):
    # Given a first run, then one certificate revoked and one deleted, and 100,000 more open
    # findings in the state, of a CA this run does not audit (fleet after alerts, which clears
    # CA_CERTIFICATE_IDS, so the run audits just the fleet's CAs)
    run(virtual_time)
    memory.events()
    revoked_now, deleted = change_the_fleet(fleet, backend)
    recorded = boto3.client("dynamodb", region_name=REGION).scan(TableName=memory.table)["Items"]
    items = recorded + [state_item(number) for number in range(OPEN)]
    pages = [items[start : start + PAGE_ITEMS] for start in range(0, len(items), PAGE_ITEMS)]
    scans = []

    def stand_in(request):
        number = int(json.loads(request.body).get("ExclusiveStartKey", {"findingId": {"S": "0"}})["findingId"]["S"])
        scans.append(number)
        page = {"Items": pages[number], "Count": len(pages[number]), "ScannedCount": len(pages[number])}
        if number + 1 < len(pages):
            page["LastEvaluatedKey"] = {"findingId": {"S": str(number + 1)}}
        return answer(handler.client("dynamodb"), page)

    dynamodb = handler.client("dynamodb")
    inject_faults(dynamodb, "Scan", stand_in)
    writes = []
    inject_faults(
        dynamodb, "BatchWriteItem", lambda request: writes.extend(json.loads(request.body)["RequestItems"]["state"])
    )
    capsys.readouterr()

    # When the audit runs
    started = time.monotonic()
    result = run(virtual_time)
    took = time.monotonic() - started

    # Then every page was read once, and only the two changes were written and announced
    assert sorted(scans) == list(range(len(pages)))
    assert result["changes"] == {"new": 1, "resolved": 1, "ongoing": OPEN + 9}
    assert result["oldestOpenSince"] == OLDEST
    assert len(writes) == 2
    assert {(e["detail"]["change"], e["detail"]["finding"]["certificateId"]) for e in memory.events()} == {
        ("NEW", revoked_now),
        ("RESOLVED", deleted),
    }
    assert result["errors"] == []
    points = metric_points(capsys.readouterr().out)
    assert points[("OpenFindings", (("service", "iot-cert-audit"),))] == OPEN + 10
    email = alerts.published()[-1]["Message"]["email"]
    assert "1 new, 1 resolved, 100,009 still open (oldest since 2024-01-01)" in email
    assert len(published_reports(alerts)) == 2
    assert took < 30, f"the run took {took:.1f} s"
