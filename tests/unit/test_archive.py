"""The archived report's JSON: written a chunk of findings at a time, read back as the same report."""

from __future__ import annotations

import io
import json

import pytest

from cert_audit.archive import CHUNK, report_key, write_report_json


@pytest.mark.parametrize("count", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK + 7])
def test_the_json_reads_back_as_the_report_at_every_chunk_boundary(count):
    # Given a report whose other fields hold text that looks like JSON and the findings key itself
    report = {
        "auditId": "a",
        "note": '"findings":[] é',
        "findings": [{"n": n, "reason": 'say "no"'} for n in range(count)],
        "after": [1, {"findings": None}],
    }

    # When it is written, then it reads back whole and in order
    text = io.StringIO()
    write_report_json(report, text)
    assert json.loads(text.getvalue()) == report


def test_reports_are_filed_by_day_and_audit():
    report = {"startedAt": "2026-11-30T08:00:00Z", "auditId": "3f1c"}
    assert report_key(report, "json") == "reports/2026/11/30/3f1c.json.gz"
    assert report_key(report, "csv") == "reports/2026/11/30/3f1c.csv.gz"
