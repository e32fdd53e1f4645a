"""Security Hub at 100x (issue 11): 10,000 findings are 100 BatchImportFindings calls of 100, each
finding marked once in the state; the next run, with one certificate gone, imports just that one.

The state's writes and Scan are answered by stand-ins (moto's DynamoDB is far too slow at this size,
see test_memory_scale): every item the function writes is kept, and the next run's Scan pages are
those items, 2,000 a page."""

# ruff: noqa: F811 - the fixtures of test_memory and test_securityhub, imported, are parameters here
from __future__ import annotations

import json

from cert_audit import handler
from cert_audit.emulator import seed_ca, seed_certificates
from tests.integration.test_memory import memory, run  # noqa: F401 - fixtures
from tests.integration.test_memory_faults import answer, inject_faults
from tests.integration.test_securityhub import hub  # noqa: F401 - fixtures

FINDINGS = 10_000
PAGE_ITEMS = 2_000


class StateStandIn:
    """The state table's items, as the function wrote them, and its Scan pages of them."""

    def __init__(self, dynamodb):
        self.items: dict[str, dict] = {}
        self.write_calls = 0
        inject_faults(dynamodb, "BatchWriteItem", lambda request: self.write(dynamodb, request))
        inject_faults(dynamodb, "Scan", lambda request: self.scan(dynamodb, request))

    def write(self, dynamodb, request):
        self.write_calls += 1
        for entry in json.loads(request.body)["RequestItems"]["state"]:
            if "PutRequest" in entry:
                item = entry["PutRequest"]["Item"]
                self.items[item["findingId"]["S"]] = item
            else:
                self.items.pop(entry["DeleteRequest"]["Key"]["findingId"]["S"], None)
        return answer(dynamodb, {"UnprocessedItems": {}})

    def scan(self, dynamodb, request):
        items = list(self.items.values())
        start = int(json.loads(request.body).get("ExclusiveStartKey", {"findingId": {"S": "0"}})["findingId"]["S"])
        page = {"Items": items[start : start + PAGE_ITEMS], "Count": 0, "ScannedCount": 0}
        if start + PAGE_ITEMS < len(items):
            page["LastEvaluatedKey"] = {"findingId": {"S": str(start + PAGE_ITEMS)}}
        return answer(dynamodb, page)


def test_ten_thousand_findings_are_a_hundred_calls_and_then_only_the_change(
    backend, memory, hub, alerts, monkeypatch, virtual_time
):
    # Given one CA with 10,000 REVOKED certificates, the state answered by a stand-in, events off
    ca = seed_ca(backend, "big")
    certificates = seed_certificates(backend, ca, ["REVOKED"] * FINDINGS)
    monkeypatch.setenv("CA_CERTIFICATE_IDS", ca)
    monkeypatch.delenv("EVENT_BUS_NAME")
    state = StateStandIn(handler.client("dynamodb"))

    # When the audit runs for the first time
    first = run(virtual_time)

    # Then the 10,000 findings went in 100 calls of 100, each finding once, all taken and marked
    assert hub.calls["BatchImportFindings"] == 100
    assert {len(batch) for batch in hub.batches} == {100}
    assert len(set(hub.imported_ids())) == FINDINGS == len(hub.active())
    assert (first["summary"]["securityHubImported"], first["summary"]["securityHubFailed"]) == (FINDINGS, 0)
    assert first["errors"] == [] and hub.invalid == []
    assert sum("lastImported" in item for item in state.items.values()) == FINDINGS
    assert state.write_calls == 2 * FINDINGS // 25  # the records, then their marks

    # And when one certificate is deleted and the audit runs again
    del backend.certificates[certificates[0]]
    second = run(virtual_time)

    # Then one call carries the one change: that finding archived; the other 9,999 cost nothing
    assert hub.calls["BatchImportFindings"] == 101
    [resolved] = second["resolvedFindings"]
    assert hub.batches[-1] == [resolved["findingId"]]
    assert hub.finding(resolved["findingId"])["RecordState"] == "ARCHIVED"
    assert len(hub.active()) == FINDINGS - 1
    assert second["summary"]["securityHubImported"] == 1 and second["errors"] == []
