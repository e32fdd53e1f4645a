"""The full report of every run, archived in S3 (REPORT_BUCKET_NAME) before anything is published.

Objects per run under reports/YYYY/MM/DD/: `<auditId>.json.gz`, the whole report (every
finding, untrimmed), `<auditId>.csv.gz`, its findings as CSV, `<auditId>.ocsf.json.gz`, its
findings as OCSF Compliance Findings (ocsf.py: for Security Lake or an OCSF-reading SIEM), and
`<auditId>.html`, the page a person opens (html_report: the worst findings, linking to the JSON).
All are gzip-compressed with `ContentEncoding: gzip`, so a browser download from the console
arrives uncompressed. They are written through a temporary file, so a report with a million findings is never one
string in memory (the HTML page is bounded, a few MB at most).
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import tempfile
import uuid
from collections.abc import Iterator
from typing import BinaryIO

from cert_audit import html_report, ocsf
from cert_audit.aws import error_of
from cert_audit.calls import Deadline, call
from cert_audit.message import CONSOLE_HOSTS
from cert_audit.report import add_error, write_csv

PREFIX = "reports"


def report_key(report: dict, extension: str) -> str:
    day = report["startedAt"][:10].replace("-", "/")
    return f"{PREFIX}/{day}/{report['auditId']}.{extension}.gz"


def html_key(report: dict) -> str:
    """The HTML page's key: `.html`, not `.html.gz`, so that a browser opening it from the console
    (served with ContentEncoding gzip) shows a page instead of downloading a .gz file."""
    return report_key(report, "html").removesuffix(".gz")


def console_url(bucket: str, key: str, region: str | None, partition: str = "aws") -> str:
    host = CONSOLE_HOSTS.get(partition, "console.aws.amazon.com")
    return f"https://{host}/s3/object/{bucket}?region={region}&prefix={key}"


@contextlib.contextmanager
def _gzipped(write) -> Iterator[BinaryIO]:
    """A temporary file holding what `write(stream)` wrote, gzip-compressed."""
    with tempfile.TemporaryFile() as body:
        # Level 6 (zlib's default), not gzip's 9: 2.5x less CPU for about a sixth more bytes.
        with gzip.GzipFile(fileobj=body, mode="wb", mtime=0, compresslevel=6) as compressed:
            write(compressed)
        yield body


def _put(s3, bucket: str, key: str, body: BinaryIO, content_type: str, deadline: Deadline) -> None:
    def put_from_the_start(**request):
        body.seek(0)  # every attempt sends the whole object
        return s3.put_object(Body=body, **request)

    call(
        put_from_the_start,
        deadline,
        Bucket=bucket,
        Key=key,
        ContentType=content_type,
        ContentEncoding="gzip",
    )


# Findings encoded at a time: json.dumps runs in C, json.dump's streaming encoder in Python (the
# bench measured 75 CPU-seconds for a million findings that way).
CHUNK = 1000


def write_report_json(report: dict, text) -> None:
    """The report as compact JSON, its findings encoded a chunk at a time, never as one string."""
    marker = f"findings-{uuid.uuid4()}"
    before, after = json.dumps({**report, "findings": marker}, separators=(",", ":")).split(f'"{marker}"')
    text.write(before + "[")
    findings = report["findings"]
    for start in range(0, len(findings), CHUNK):
        text.write(("," if start else "") + ",".join(map(_compact, findings[start : start + CHUNK])))
    text.write("]" + after)


def _compact(item: dict) -> str:
    return json.dumps(item, separators=(",", ":"))


def archive_report(s3, bucket: str, report: dict, deadline: Deadline, partition: str = "aws") -> dict:
    """Write the report, its findings as CSV and OCSF, and its HTML page; returns {"reportUri",
    "reportConsoleUrl", "reportHtmlUri", "reportHtmlConsoleUrl"} (the HTML's None if the page could
    not be written)."""
    key = report_key(report, "json")

    def write_json(compressed) -> None:
        with io.TextIOWrapper(compressed, encoding="utf-8") as text:
            write_report_json(report, text)

    def write_findings(compressed) -> None:
        with io.TextIOWrapper(compressed, encoding="utf-8", newline="") as text:
            write_csv(report["findings"], text)

    with _gzipped(write_json) as body:
        _put(s3, bucket, key, body, "application/json", deadline)
    with _gzipped(write_findings) as body:
        _put(s3, bucket, report_key(report, "csv"), body, "text/csv", deadline)
    _archive_ocsf(s3, bucket, report, deadline)
    links = {
        "reportUri": f"s3://{bucket}/{key}",
        "reportConsoleUrl": console_url(bucket, key, report["region"], partition),
    }
    return {**links, **_archive_html(s3, bucket, report, links, deadline, partition)}


def _not_archived(report: dict, problem: Exception, consequence: str) -> None:
    """An object after the JSON and CSV that could not be written: a run error (source `archive`)."""
    error = error_of(problem)
    add_error(report, "archive", error["code"], f"{error['message']}. {consequence}")


def _archive_ocsf(s3, bucket: str, report: dict, deadline: Deadline) -> None:
    """The findings as OCSF documents, streamed into gzip a chunk at a time as the JSON is (a
    million findings are never one string). One that fails costs neither the JSON nor the CSV:
    it becomes a run error (source `archive`) in the report that is published."""

    def write_documents(compressed) -> None:
        with io.TextIOWrapper(compressed, encoding="utf-8") as text:
            ocsf.write_json(report, text)

    try:
        with _gzipped(write_documents) as body:
            _put(s3, bucket, report_key(report, "ocsf.json"), body, "application/json", deadline)
    except Exception as problem:  # noqa: BLE001 - the JSON and CSV are archived all the same
        _not_archived(report, problem, "The OCSF findings were not archived")


def _archive_html(s3, bucket: str, report: dict, links: dict, deadline: Deadline, partition: str) -> dict:
    """The report's HTML page (html_report; it links to the JSON report), written last: a page that
    fails costs neither the JSON nor the CSV, and becomes a run error (source `archive`) in the
    report that is published (the archived JSON, written before it, does not carry it)."""
    key = html_key(report)
    try:
        page = html_report.render({**report, **links}).encode()  # bounded: it lists the worst findings only

        def write_html(compressed) -> None:
            compressed.write(page)

        with _gzipped(write_html) as body:
            _put(s3, bucket, key, body, "text/html", deadline)
    except Exception as problem:  # noqa: BLE001 - the JSON and CSV are archived all the same
        _not_archived(report, problem, "The HTML report was not archived")
        return {"reportHtmlUri": None, "reportHtmlConsoleUrl": None}
    return {
        "reportHtmlUri": f"s3://{bucket}/{key}",
        "reportHtmlConsoleUrl": console_url(bucket, key, report["region"], partition),
    }
