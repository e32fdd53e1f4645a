"""The HTML report in the S3 archive (issue 11) on moto: `<auditId>.html` beside the JSON and CSV,
gzip-encoded, linked from the report and the email; a page that cannot be written (refused,
throttled, hanging, or failing to render) costs neither the JSON nor the CSV nor the message."""

# ruff: noqa: F811 - the fixtures of test_memory, imported, are parameters here
from __future__ import annotations

import gzip
import re

import boto3
import pytest
from botocore.awsrequest import AWSResponse

from cert_audit import archive, emulator, handler
from tests.integration.conftest import REGION
from tests.integration.test_memory import fleet, memory, published_reports, run  # noqa: F401 - fixtures
from tests.integration.test_memory_faults import errors_of, hang, inject_faults, s3_error


def page_at(uri: str) -> tuple[str, dict]:
    """The archived page's text and its object's metadata."""
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    got = boto3.client("s3", region_name=REGION).get_object(Bucket=bucket, Key=key)
    return gzip.decompress(got.pop("Body").read()).decode(), got


def on_the_page(request) -> bool:
    return request.url.split("?")[0].endswith(".html")


def test_each_run_archives_its_page_beside_the_json_and_the_email_links_it(fleet, memory, alerts, virtual_time):
    # When the audit runs
    result = run(virtual_time)

    # Then the page is archived as <auditId>.html beside the JSON, served as gzip-encoded HTML
    assert result["reportHtmlUri"] == result["reportUri"].replace(".json.gz", ".html")
    text, metadata = page_at(result["reportHtmlUri"])
    assert (metadata["ContentType"], metadata["ContentEncoding"]) == ("text/html", "gzip")
    assert text.startswith("<!DOCTYPE html>")
    # and it lists the run's findings and links to the JSON report's console page
    [report] = published_reports(alerts)
    assert len(re.findall(r"<tr data-severity=", text)) == report["summary"]["findings"] == 10
    assert f'href="{result["reportConsoleUrl"].replace("&", "&amp;")}"' in text
    # and the report and the email point to it
    assert result["reportHtmlConsoleUrl"] == archive.console_url("reports", archive.html_key(result), REGION)
    assert report["reportHtmlUri"] == result["reportHtmlUri"]
    email = alerts.published()[0]["Message"]["email"]
    assert f"Report page (HTML, open it from the S3 console): {result['reportHtmlConsoleUrl']}" in email


def test_a_throttled_page_is_sent_again_whole(fleet, memory, alerts, virtual_time):
    # Given S3 slows down the page's first put
    s3 = handler.client("s3")
    attempts = []

    def slow_down_once(request):
        if on_the_page(request):
            attempts.append(request.url)
            if len(attempts) == 1:
                request.body.read()  # the failed attempt used up the stream
                return s3_error(s3, "SlowDown", 503)
        return None

    inject_faults(s3, "PutObject", slow_down_once)

    # When the audit runs
    result = run(virtual_time)

    # Then the page was sent twice, is whole, and no error is told
    assert len(attempts) == 2
    assert result["errors"] == []
    assert page_at(result["reportHtmlUri"])[0].rstrip().endswith("</html>")


@pytest.mark.parametrize(("code", "status"), [("AccessDenied", 403), ("SlowDown", 503), ("InternalError", 500)])
def test_a_page_that_cannot_be_written_is_an_archive_error_and_costs_nothing_else(
    fleet, memory, alerts, virtual_time, code, status
):
    # Given S3 refuses every put of the page, and only of the page
    s3 = handler.client("s3")
    inject_faults(s3, "PutObject", lambda request: s3_error(s3, code, status) if on_the_page(request) else None)

    # When the audit runs
    result = run(virtual_time)

    # Then the page's failure is an archive error, the JSON and CSV are archived and linked,
    # and the message goes out with the JSON's link and no page link
    [error] = errors_of(result, "archive")
    assert error["code"] == code and error["message"].endswith("The HTML report was not archived")
    assert result["reportUri"] and result["reportHtmlUri"] is None and result["reportHtmlConsoleUrl"] is None
    assert len(memory.archived(result["reportUri"])) > 0
    assert len(memory.archived(result["reportUri"].replace(".json.gz", ".csv.gz"))) > 0
    [report] = published_reports(alerts)
    assert report["errors"] == result["errors"]
    email = alerts.published()[0]["Message"]["email"]
    assert "Report page" not in email and result["reportUri"] in email


def test_a_malformed_answer_to_the_pages_put_is_an_archive_error(fleet, memory, alerts, virtual_time):
    # Given S3 (or a proxy before it) answers the page's puts with a body that is not S3's XML
    s3 = handler.client("s3")

    def garbled(request):
        if on_the_page(request):
            headers = {"Content-Type": "text/html"}
            return AWSResponse(s3.meta.endpoint_url, 502, headers, emulator._Body(b"<html>Bad gateway</html>"))
        return None

    inject_faults(s3, "PutObject", garbled)

    # When the audit runs
    result = run(virtual_time)

    # Then botocore's parsing of it is an archive error, and the JSON, CSV and message are as ever
    [error] = errors_of(result, "archive")
    assert error["message"].endswith("The HTML report was not archived")
    assert result["reportUri"] and result["reportHtmlUri"] is None
    assert len(published_reports(alerts)) == 1


def test_a_hanging_page_put_ends_in_time_with_the_json_archived(fleet, memory, alerts, virtual_time):
    # Given every put of the page hangs until its read timeout
    inject_faults(
        handler.client("s3"), "PutObject", lambda request: hang(virtual_time)(request) if on_the_page(request) else None
    )

    # When the audit runs
    result = run(virtual_time)

    # Then it returns with the page's error told, the JSON archived and the report published
    assert errors_of(result, "archive")[0]["code"] == "ReadTimeoutError"
    assert result["reportUri"] and result["reportHtmlUri"] is None
    assert published_reports(alerts)[-1]["auditId"] == result["auditId"]


def test_a_page_that_fails_to_render_is_an_archive_error(fleet, memory, alerts, virtual_time, monkeypatch):
    # Given a report the page cannot be made of (a bug in the renderer, say)
    def broken(report):
        raise KeyError("summary")

    monkeypatch.setattr(archive.html_report, "render", broken)

    # When the audit runs
    result = run(virtual_time)

    # Then the failure is told as an archive error, and the JSON and the message are as ever
    [error] = errors_of(result, "archive")
    assert error["code"] == "KeyError"
    assert result["reportUri"] and result["reportHtmlUri"] is None
    assert len(published_reports(alerts)) == 1
