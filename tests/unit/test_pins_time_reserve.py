"""The function's time reserve: no IoT call starts in the last 60 s before Lambda's timeout, the
minute that holds a call already under way, the report and its publish (README, Sizing)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cert_audit import handler
from cert_audit.aws import Iot
from cert_audit.config import load_config
from cert_audit.emulator import LambdaContext
from cert_audit.scan import scan_ca

CA = "a" * 64
NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
REVOKED = {"certificateId": "c" * 64, "status": "REVOKED", "creationDate": datetime(2024, 5, 1, tzinfo=UTC)}


class CountingIot:
    """IoT answers for one CA with one REVOKED certificate, counting the requests made."""

    def __init__(self):
        self.requests = 0

    def describe_ca_certificate(self, certificateId: str) -> dict:  # noqa: N803 - the API's name
        self.requests += 1
        return {"certificateDescription": {"certificateId": certificateId, "status": "ACTIVE"}}

    def list_certificates_by_ca(self, caCertificateId: str, pageSize: int) -> dict:  # noqa: N803
        self.requests += 1
        return {"certificates": [REVOKED]}


def context_with(remaining_ms: int) -> LambdaContext:
    """An invocation with `remaining_ms` left, on a clock that stands still."""
    return LambdaContext(timeout_ms=remaining_ms, clock=lambda: 0.0)


def test_the_reserve_is_one_minute():
    assert handler.TIME_RESERVE_MS == 60_000


@pytest.mark.parametrize("remaining_ms, calls_made", [(60_000, 0), (59_000, 0), (61_000, 2)])
def test_no_iot_call_starts_in_the_last_minute(remaining_ms, calls_made):
    # Given an invocation with about a minute left, and the scan's deadline as the handler sets it
    client = CountingIot()
    deadline = handler.deadline(context_with(remaining_ms), handler.TIME_RESERVE_MS)
    config = load_config({}, require_topic=False)

    # When a CA is scanned
    scan = scan_ca(Iot(client, deadline=deadline), CA, config, NOW)

    # Then with a minute or less left no request was made and the CA is reported incomplete,
    # saying why; with more than a minute left the scan ran
    assert client.requests == calls_made
    if calls_made:
        assert scan.error is None and scan.certificates_scanned == 1
    else:
        assert scan.error["code"] == "ScanIncomplete"
        assert "about to reach its timeout" in scan.error["message"]


def test_the_scan_deadline_counts_down_to_the_reserve():
    deadline = handler.deadline(context_with(90_000), handler.TIME_RESERVE_MS)
    assert deadline.seconds_left() == 30.0 and deadline.stop_reason() is None


@pytest.mark.parametrize(
    "memory, reserve_ms",
    [
        (handler.Memory(), 0),
        (handler.Memory(report_bucket="reports"), handler.MEMORY_RESERVE_MS),
        (handler.Memory(state_table="state", security_hub=True), handler.MEMORY_RESERVE_MS + 60_000),
    ],
)
def test_the_scan_leaves_the_memory_its_time_and_security_hub_its_minute(memory, reserve_ms):
    # Given a deployment without a memory, with one, and with Security Hub on as well:
    # Then the scan stops that much before the time reserve (the Security Hub step's own minute on top)
    assert handler.memory_reserve_ms(memory) == reserve_ms


def test_the_handler_builds_its_memory_from_the_configuration():
    # Given every part of the memory configured
    config = load_config(
        {
            "STATE_TABLE_NAME": "state",
            "REPORT_BUCKET_NAME": "reports",
            "EVENT_BUS_NAME": "bus",
            "SECURITY_HUB": "true",
        },
        require_topic=False,
    )

    # Then the memory has each of them, Security Hub included
    assert handler.Memory.of(config) == handler.Memory("state", "reports", "bus", security_hub=True)
