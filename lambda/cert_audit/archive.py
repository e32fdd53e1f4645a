"""The full report of every run, archived in S3 (REPORT_BUCKET_NAME) before anything is published.

Two objects per run under reports/YYYY/MM/DD/: `<auditId>.json.gz`, the whole report (every
finding, untrimmed), and `<auditId>.csv.gz`, its findings as CSV. Both are gzip-compressed
with `ContentEncoding: gzip`, so a browser download from the console arrives uncompressed.
They are written through a temporary file, so a report with a million findings is never one
string in memory.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import tempfile
from collections.abc import Iterator
from typing import BinaryIO

from cert_audit.calls import Deadline, call
from cert_audit.message import CONSOLE_HOSTS
from cert_audit.report import write_csv

PREFIX = "reports"


def report_key(report: dict, extension: str) -> str:
    day = report["startedAt"][:10].replace("-", "/")
    return f"{PREFIX}/{day}/{report['auditId']}.{extension}.gz"


def console_url(bucket: str, key: str, region: str | None, partition: str = "aws") -> str:
    host = CONSOLE_HOSTS.get(partition, "console.aws.amazon.com")
    return f"https://{host}/s3/object/{bucket}?region={region}&prefix={key}"


@contextlib.contextmanager
def _gzipped(write) -> Iterator[BinaryIO]:
    """A temporary file holding what `write(stream)` wrote, gzip-compressed."""
    with tempfile.TemporaryFile() as body:
        with gzip.GzipFile(fileobj=body, mode="wb", mtime=0) as compressed:
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


def archive_report(s3, bucket: str, report: dict, deadline: Deadline, partition: str = "aws") -> dict:
    """Write the report and its findings CSV; returns {"reportUri", "reportConsoleUrl"}."""
    key = report_key(report, "json")

    def write_json(compressed) -> None:
        with io.TextIOWrapper(compressed, encoding="utf-8") as text:
            json.dump(report, text, separators=(",", ":"))

    def write_findings(compressed) -> None:
        with io.TextIOWrapper(compressed, encoding="utf-8", newline="") as text:
            write_csv(report["findings"], text)

    with _gzipped(write_json) as body:
        _put(s3, bucket, key, body, "application/json", deadline)
    with _gzipped(write_findings) as body:
        _put(s3, bucket, report_key(report, "csv"), body, "text/csv", deadline)
    return {
        "reportUri": f"s3://{bucket}/{key}",
        "reportConsoleUrl": console_url(bucket, key, report["region"], partition),
    }
