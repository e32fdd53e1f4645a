"""The OCSF documents in the S3 archive (issue 11) on moto: `<auditId>.ocsf.json.gz` beside the JSON
and CSV, one valid Compliance Finding per archived finding; one that cannot be written (refused,
throttled, hanging) costs neither the JSON, the CSV, the HTML page nor the message."""

# ruff: noqa: F811 - the fixtures of test_memory, imported, are parameters here
from __future__ import annotations

import gzip
import json

import boto3
import pytest

from cert_audit import handler
from tests.integration.conftest import REGION
from tests.integration.test_memory import fleet, memory, published_reports, run  # noqa: F401 - fixtures
from tests.integration.test_memory_faults import errors_of, hang, inject_faults, s3_error
from tests.schemas import validate_ocsf


def ocsf_uri(result: dict) -> str:
    return result["reportUri"].replace(".json.gz", ".ocsf.json.gz")


def on_the_ocsf(request) -> bool:
    return request.url.split("?")[0].endswith(".ocsf.json.gz")


def test_each_run_archives_one_ocsf_document_per_finding_beside_the_json(fleet, memory, alerts, virtual_time):
    # When the audit runs
    result = run(virtual_time)

    # Then <auditId>.ocsf.json.gz is beside the JSON report, gzip-encoded JSON
    bucket, key = ocsf_uri(result).removeprefix("s3://").split("/", 1)
    got = boto3.client("s3", region_name=REGION).get_object(Bucket=bucket, Key=key)
    assert (got["ContentType"], got["ContentEncoding"]) == ("application/json", "gzip")
    documents = json.loads(gzip.decompress(got["Body"].read()))
    # and it holds one valid OCSF Compliance Finding per archived finding, by findingId, in order
    report = json.loads(memory.archived(result["reportUri"]))
    assert len(documents) == len(report["findings"]) == report["summary"]["findings"] == 10
    assert [d["finding_info"]["uid"] for d in documents] == [f["findingId"] for f in report["findings"]]
    for document in documents:
        validate_ocsf(document)
        assert document["metadata"]["correlation_uid"] == result["auditId"]
    assert {d["activity_name"] for d in documents} == {"Create"}  # the first run: every finding new
    assert result["errors"] == []


def test_the_second_run_marks_what_it_saw_before_as_updates(fleet, memory, alerts, virtual_time):
    # Given a run before this one
    run(virtual_time)

    # When the audit runs again over the same fleet
    result = run(virtual_time)

    # Then every document is an Update of the finding the first run created
    documents = json.loads(memory.archived(ocsf_uri(result)))
    assert len(documents) == 10 and {d["activity_name"] for d in documents} == {"Update"}


@pytest.mark.parametrize(("code", "status"), [("AccessDenied", 403), ("InternalError", 500)])
def test_ocsf_that_cannot_be_written_is_an_archive_error_and_costs_nothing_else(
    fleet, memory, alerts, virtual_time, code, status
):
    # Given S3 refuses every put of the OCSF documents, and only of those
    s3 = handler.client("s3")
    inject_faults(s3, "PutObject", lambda request: s3_error(s3, code, status) if on_the_ocsf(request) else None)

    # When the audit runs
    result = run(virtual_time)

    # Then it is an archive error; the JSON, the CSV and the page are archived; the message goes out
    [error] = errors_of(result, "archive")
    assert error["code"] == code and error["message"].endswith("The OCSF findings were not archived")
    assert len(memory.archived(result["reportUri"])) > 0
    assert len(memory.archived(result["reportUri"].replace(".json.gz", ".csv.gz"))) > 0
    assert result.get("reportHtmlUri", "not archived by this version") is not None
    [report] = published_reports(alerts)
    assert report["errors"] == result["errors"]


def test_a_hanging_ocsf_put_ends_in_time_with_the_json_archived(fleet, memory, alerts, virtual_time):
    # Given every put of the OCSF documents hangs until its read timeout
    inject_faults(
        handler.client("s3"), "PutObject", lambda request: hang(virtual_time)(request) if on_the_ocsf(request) else None
    )

    # When the audit runs
    result = run(virtual_time)

    # Then it returns with the error told, the JSON archived and the report published
    assert errors_of(result, "archive")[0]["code"] == "ReadTimeoutError"
    assert len(memory.archived(result["reportUri"])) > 0
    assert published_reports(alerts)[-1]["auditId"] == result["auditId"]
