"""The checkpoint and the envelope of a state-machine run (continuation.py), without AWS."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime

import pytest

from cert_audit import continuation
from cert_audit.calls import Deadline
from cert_audit.config import ConfigError
from cert_audit.continuation import Checkpoint, envelope_of, restore, scan_state
from cert_audit.scan import CaScan

CA_A, CA_B, CA_C = "a" * 64, "b" * 64, "c" * 64
NOW = datetime(2026, 11, 30, 1, 2, 3, 456789, tzinfo=UTC)


def in_progress() -> CaScan:
    return CaScan(
        CA_A,
        certificates_scanned=500,
        by_status=Counter(ACTIVE=498, REVOKED=2),
        pages=2,
        retries=3,
        throttles=1,
        malformed=1,
        malformed_example={"certificate": {"certificateId": "x"}, "problem": "status missing or not a string"},
        duration_ms=1234,
        next_marker="b2Zmc2V0OjUwMA==",
        restarts=1,
    )


def test_a_checkpoint_survives_the_json_between_two_invocations():
    # Given a run with one CA in progress and two not started
    checkpoint = Checkpoint(
        "audit-1",
        NOW,
        invocations=3,
        next_position=1,
        left=[CA_B, CA_C],
        in_progress=[in_progress()],
        positions={CA_A: 0},
        errors=[{"source": "suppressions", "code": "X", "message": "m"}],
    )

    # When it goes through the state machine as JSON and back
    again = Checkpoint.from_json(json.loads(json.dumps(checkpoint.to_json())))

    # Then nothing is lost: the start to the microsecond, the counts and the marker to go on from
    assert (again.audit_id, again.now, again.invocations, again.next_position) == ("audit-1", NOW, 3, 1)
    assert again.left == [CA_B, CA_C] and again.positions == {CA_A: 0} and again.errors == checkpoint.errors
    [scan] = again.in_progress
    assert scan_state(scan) == scan_state(in_progress())
    assert scan.findings == [] and scan.by_status == Counter(ACTIVE=498, REVOKED=2)


def test_a_scan_state_keeps_every_count_but_the_findings():
    state = scan_state(in_progress())
    assert set(state) == {
        "caCertificateId",
        "byStatus",
        "certificatesScanned",
        "pages",
        "retries",
        "throttles",
        "malformed",
        "malformedExample",
        "durationMs",
        "restarts",
        "nextMarker",
    }
    assert scan_state(restore(state)) == state


def test_only_the_state_machine_envelope_is_one():
    # A direct invocation's event, the schedule's and the digest's are not envelopes
    for event in ({}, {"caCertificateIds": [CA_A]}, {"source": "aws.events"}, {"notify": "always"}, [], None):
        assert envelope_of(event) is None
    envelope = envelope_of({"request": {"notify": "always"}, "checkpoint": None, "maxContinuations": 5})
    assert (envelope.request, envelope.checkpoint, envelope.max_continuations) == ({"notify": "always"}, None, 5)


@pytest.mark.parametrize(
    "event, expected",
    [
        ({"request": [], "checkpoint": None, "maxContinuations": 1}, "event.request: .* JSON object"),
        ({"request": {}, "checkpoint": None}, "event.maxContinuations: None"),
        ({"request": {}, "checkpoint": None, "maxContinuations": True}, "event.maxContinuations: True"),
        ({"request": {}, "checkpoint": None, "maxContinuations": 1001}, "from 0 to 1000"),
        ({"request": {}, "checkpoint": {"version": 1}, "maxContinuations": 1}, "event.checkpoint: not a checkpoint"),
        ({"request": {}, "checkpoint": {"version": 2}, "maxContinuations": 1}, "version 2, expected 1"),
        (
            {"request": {}, "checkpoint": {"auditId": "a", "stored": "reports/a/x"}, "maxContinuations": 1},
            "not a stored checkpoint",
        ),
    ],
)
def test_a_bad_envelope_is_refused_naming_the_problem(event, expected):
    with pytest.raises(ConfigError, match=expected):
        envelope_of(event)


def test_the_parts_of_a_long_run_are_deleted_a_thousand_keys_a_call():
    # Given S3's DeleteObjects, which refuses more than 1,000 keys in one request
    calls = []

    class S3:
        def delete_objects(self, Bucket, Delete):  # noqa: N803 - the API's names
            assert len(Delete["Objects"]) <= 1000, "MalformedXML: more than 1,000 keys"
            calls.append([item["Key"] for item in Delete["Objects"]])
            return {}

    # When a run of 700 invocations (a part and a checkpoint each) removes its parts
    continuation.delete_parts(S3(), "reports", "audit-1", 700, Deadline(lambda: 100.0, "test"))

    # Then its 1,400 keys go in two calls, every key once
    assert [len(keys) for keys in calls] == [1000, 400]
    assert len({key for keys in calls for key in keys}) == 1400
