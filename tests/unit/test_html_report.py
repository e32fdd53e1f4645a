"""The HTML report (html_report.render) read as a browser's parser reads it: every report value
escaped, nothing that fetches or runs but the page's own script, and a bounded page at a million
findings. (The page in a real browser: tests/browser/test_html_report_browser.py.)"""

from __future__ import annotations

import base64
import hashlib
import re
import tracemalloc
from collections import Counter
from datetime import UTC, datetime
from html.parser import HTMLParser

import pytest

from cert_audit import html_report
from cert_audit.changes import Changes
from cert_audit.findings import CA_NOT_ACTIVE, CERTIFICATE_STATUS
from cert_audit.html_report import LIST_LIMIT, PAGE_ROWS, SCRIPT, TABLE_LIMIT, render
from cert_audit.message import email_text
from cert_audit.report import add_error, build_report, with_changes
from cert_audit.scan import CaScan

NOW = datetime(2026, 11, 28, 20, 0, tzinfo=UTC)
# What a suppression reason, an error message or a status may hold: markup, both quotes, an
# entity, a javascript: URL and a closing tag of the page's own elements.
HOSTILE = (
    """<script>alert("x")</script><img src=x onerror='alert(1)'>&amp; "quoted" 'single' javascript:alert(2) """
    "</style></textarea>"
)
CA = "a" * 64
OTHER_CA = "b" * 64
CONSOLE = "https://console.aws.amazon.com/s3/object/reports?region=eu-west-1&prefix=reports/x.json.gz"


class Page(HTMLParser):
    """The page as a browser's tokenizer sees it: elements, their attributes, text, and script
    and style contents."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self.contents: dict[str, list[str]] = {"script": [], "style": []}
        self._inside: str | None = None
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))
        if tag in self.contents:
            self._inside = tag
            self.contents[tag].append("")

    def handle_endtag(self, tag):
        if tag == self._inside:
            self._inside = None

    def handle_data(self, data):
        if self._inside:
            self.contents[self._inside][-1] += data
        else:
            self.text.append(data)

    def words(self) -> str:
        """The page's text, each run of white space one space (between elements too)."""
        return " ".join(" ".join(self.text).split())

    def all(self, tag: str) -> list[dict]:
        return [attrs for name, attrs in self.elements if name == tag]

    def rows(self, table_id: str) -> int:
        """Rows of the table's body (its <tr>s after the header's, up to the next table or template)."""
        names = [name if name != "table" else f"table#{attrs.get('id')}" for name, attrs in self.elements]
        start = names.index(f"table#{table_id}")
        ends = [n for n in range(start + 1, len(names)) if names[n] == "template" or names[n].startswith("table#")]
        end = ends[0] if ends else len(names)
        return names[start:end].count("tr") - 1


def finding(certificate: str, ca: str = CA, severity: str = "LOW", status: str = "REVOKED", **extra) -> dict:
    return {
        "type": CERTIFICATE_STATUS,
        "caCertificateId": ca,
        "certificateId": certificate,
        "certificateArn": f"arn:aws:iot:eu-west-1:123456789012:cert/{certificate}",
        "status": status,
        "certificateMode": "DEFAULT",
        "creationDate": "2020-01-01T00:00:00Z",
        "severity": severity,
        "reason": f"Certificate is {status}.",
        "findingId": f"id-{certificate}",
        **extra,
    }


def report_of(scans: list[CaScan], changes: Changes | None = None, errors: list[dict] = ()) -> dict:
    report = build_report(
        scans,
        flagged=frozenset({"REVOKED", "INACTIVE"}),
        audit_id="audit-1",
        account_id="123456789012",
        region="eu-west-1",
        started_at="2026-11-28T20:00:00Z",
        finished_at="2026-11-28T20:00:05Z",
        now=NOW,
        errors=list(errors),
    )
    return with_changes(report, changes)


def hostile_report() -> dict:
    """A report with HOSTILE in every free-text field a run can carry."""
    found = finding("c" * 64, status=HOSTILE, reason=HOSTILE, severity=HOSTILE, remediation=HOSTILE)
    found["type"] = HOSTILE
    suppressed = finding("d" * 64, suppression={"caCertificateId": CA, "reason": HOSTILE, "expires": HOSTILE})
    scans = [
        CaScan(
            CA,
            ca={"certificateId": CA, "status": HOSTILE, "certificateMode": HOSTILE},
            certificates_scanned=3,
            by_status=Counter({"ACTIVE": 1, HOSTILE: 2}),
            findings=[found],
            suppressed=[suppressed],
        ),
        CaScan(OTHER_CA + HOSTILE, error={"code": HOSTILE, "message": HOSTILE}),
    ]
    resolved = {**finding("e" * 64, reason=HOSTILE), "firstSeen": HOSTILE, "resolvedAt": HOSTILE}
    report = report_of(
        scans, Changes(resolved=[resolved], ongoing=1), [{"source": HOSTILE, "code": HOSTILE, "message": HOSTILE}]
    )
    report.update(
        auditId=HOSTILE,
        accountId=HOSTILE,
        region=HOSTILE,
        startedAt=HOSTILE,
        finishedAt=HOSTILE,
        expiredSuppressions=[{"certificateId": HOSTILE, "type": HOSTILE, "reason": HOSTILE, "expires": HOSTILE}],
        reportUri=HOSTILE,
        reportConsoleUrl="javascript:alert(3)",
    )
    return report


def test_every_report_value_is_text_and_nothing_but_the_pages_own_script_runs():
    # Given a report with markup, quotes and URLs in every text field
    report = hostile_report()

    # When it is rendered and parsed as a browser parses it
    page = Page(render(report))

    # Then the only script is the page's own, and no element or attribute came from a value
    assert page.contents["script"] == [SCRIPT]
    assert not page.all("img") and not page.all("textarea")
    assert not [attrs for _, attrs in page.elements if any(name.startswith("on") for name in attrs)]
    assert not [attrs for _, attrs in page.elements if "src" in attrs]
    assert all(attrs["href"].startswith(("https://", "data:")) for _, attrs in page.elements if "href" in attrs)
    # and each value reads as the text it was, where the page shows it
    text = " ".join(page.text)
    assert text.count(HOSTILE) >= 10
    for element in ("Scan errors", "Suppressed findings", "Resolved since the last run", "Expired suppressions"):
        assert element in text
    # and every attribute that carries a value (a row's data, a tooltip) holds it whole
    rows = [attrs for tag, attrs in page.elements if tag == "tr" and "data-severity" in attrs]
    assert [(row["data-severity"], row["data-type"]) for row in rows] == [(HOSTILE, HOSTILE)]
    assert OTHER_CA + HOSTILE in [attrs.get("title") for _, attrs in page.elements]


def test_the_policy_allows_no_fetch_and_only_the_pages_own_style_and_script():
    # Given any report's page
    page = Page(render(hostile_report()))

    # Then its Content-Security-Policy fetches nothing and runs only the style and script it holds (by hash)
    [policy] = [attrs["content"] for attrs in page.all("meta") if attrs.get("http-equiv") == "Content-Security-Policy"]
    directives = dict(directive.strip().split(" ", 1) for directive in policy.split(";"))
    assert directives["default-src"] == "'none'"

    def digest(source: str) -> str:
        return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode()).digest()).decode() + "'"

    assert directives["style-src"] == digest(page.contents["style"][0])
    assert directives["script-src"] == digest(page.contents["script"][0])
    # and nothing on the page names a place to fetch from but its own chart pattern
    assert re.findall(r"url\(([^)]*)\)", page.contents["style"][0]) == ["#hatch"]


def test_a_million_findings_make_a_bounded_page_of_the_worst_with_the_rest_pointed_to():
    # Given a million LOW findings (one object, shared: the report's size is not what is measured),
    # the one CRITICAL finding last, and an archived JSON report
    low = finding("c" * 64)
    critical = {**finding("f" * 64, severity="CRITICAL"), "type": CA_NOT_ACTIVE}
    report = report_of([CaScan(CA, certificates_scanned=1_000_000, findings=[low])])
    report["findings"] = [low] * 999_999 + [critical]  # not worst first: the page picks the worst itself
    report["summary"]["findings"] = 1_000_000
    report.update(reportUri="s3://reports/x.json.gz", reportConsoleUrl=CONSOLE)

    # When it is rendered, its memory measured
    tracemalloc.start()
    try:
        text = render(report)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    # Then the table holds the worst TABLE_LIMIT, the CRITICAL one first, and says where the rest are
    page = Page(text)
    rows = [attrs for tag, attrs in page.elements if tag == "tr" and "data-severity" in attrs]
    assert len(rows) == TABLE_LIMIT and rows[0]["data-severity"] == "CRITICAL"
    # (the first PAGE_ROWS in the table, the rest in a template the page's script pages through)
    assert page.rows("findings-table") == PAGE_ROWS
    words = page.words()
    assert f"The table lists the worst {TABLE_LIMIT:,} of 1,000,000 findings: {1_000_000 - TABLE_LIMIT:,} more" in words
    assert CONSOLE in [attrs.get("href") for attrs in page.all("a")]
    # and the totals are the whole run's, not the table's
    assert "1,000,000" in words
    # and the page, and the memory making it took, stay bounded
    assert len(text) < 6_000_000
    assert peak < 64 * 1024 * 1024


def test_every_other_list_is_cut_at_its_limit_and_says_how_many_more():
    # Given 100 times LIST_LIMIT suppressed findings, resolved findings and expired suppressions
    many = 100 * LIST_LIMIT
    suppressed = finding("d" * 64, suppression={"caCertificateId": CA, "reason": "accepted"})
    resolved = {**finding("e" * 64), "firstSeen": "2026-01-01T00:00:00Z", "resolvedAt": "2026-11-28T20:00:00Z"}
    report = report_of([CaScan(CA, suppressed=[suppressed] * many)], Changes(resolved=[resolved] * many))
    report["expiredSuppressions"] = [{"caCertificateId": CA, "reason": "old"}] * many

    # When it is rendered
    page = Page(render(report))

    # Then each table holds LIST_LIMIT rows and the page counts the rest
    assert page.rows("suppressed-table") == LIST_LIMIT
    assert page.rows("expired-table") == LIST_LIMIT
    words = page.words()
    left = f"{many - LIST_LIMIT:,}"
    for what in ("suppressed findings", "resolved findings", "expired suppressions"):
        assert f"{left} {what} more not shown here" in words


def test_a_clean_run_without_memory_says_so_and_offers_no_table_to_filter():
    # Given a run with no finding, no error, and no earlier run to compare with
    report = report_of([CaScan(CA, certificates_scanned=5, by_status=Counter({"ACTIVE": 5}))])

    # When it is rendered
    page = Page(render(report))
    words = page.words()

    # Then it says there is nothing to do, and shows no error section, table or "new" filter
    assert "No findings: nothing the audit checks needs attention." in words
    assert "no comparison with an earlier run" in words
    ids = {attrs.get("id") for _, attrs in page.elements}
    assert not ids & {"findings-table", "scan-errors", "filter-new", "resolved", "suppressed"}


def test_the_page_shows_the_runs_totals_changes_and_filters():
    # Given a run with findings in two CAs, one new, and a run error
    new = finding("1" * 64, severity="HIGH", status="INACTIVE", isNew=True, firstSeen="2026-11-28T20:00:00Z")
    old = finding("2" * 64, ca=OTHER_CA, isNew=False, firstSeen="2026-03-02T00:00:00Z")
    scans = [
        CaScan(CA, certificates_scanned=10, by_status=Counter({"ACTIVE": 9, "INACTIVE": 1}), findings=[new]),
        CaScan(OTHER_CA, certificates_scanned=4, by_status=Counter({"ACTIVE": 3, "REVOKED": 1}), findings=[old]),
    ]
    report = report_of(scans, Changes(new=[new], ongoing=1, oldest="2026-03-02T00:00:00Z"))
    add_error(report, "state", "ThrottlingException", "state busy")

    # When it is rendered
    page = Page(render(report))
    words = page.words()

    # Then the totals and the changes are at the top
    assert "2 findings in 2 of 2 CAs" in words
    assert "1 new 0 resolved, 1 still open; oldest open since 2026-03-02" in words
    assert "Certificates scanned 14" in words
    # and the filters offer what the table holds, with counts
    options = [attrs.get("value") for attrs in page.all("option")]
    assert {"HIGH", "LOW", CERTIFICATE_STATUS, CA, OTHER_CA} <= set(options)
    assert "CA " + "a" * 12 + "\u2026 (1)" not in words  # a CA's option is its short ID and count
    assert "a" * 12 + "\u2026 (1)" in words
    # and the new finding is marked, the run error listed apart
    assert [attrs["data-new"] for tag, attrs in page.elements if tag == "tr" and "data-new" in attrs] == ["1", "0"]
    assert "ThrottlingException" in words and "state busy" in words


@pytest.mark.parametrize("url", ["javascript:alert(1)", "data:text/html,x", None, "s3://bucket/key"])
def test_only_web_addresses_become_links(url):
    # Given a report whose archive link is not a web address
    report = report_of([CaScan(CA, findings=[finding("c" * 64)])])
    report.update(reportUri="s3://reports/x.json.gz", reportConsoleUrl=url)

    # Then the page links nothing to it
    hrefs = [attrs.get("href") for attrs in Page(render(report)).all("a")]
    assert url not in hrefs
    assert all(href.startswith("https://") for href in hrefs)


def test_the_email_links_the_html_page_when_the_archive_has_one():
    # Given an archived report with its HTML page
    report = report_of([CaScan(CA, findings=[finding("c" * 64)])])
    report.update(
        reportUri="s3://reports/x.json.gz",
        reportConsoleUrl=CONSOLE,
        reportHtmlUri="s3://reports/x.html",
        reportHtmlConsoleUrl=CONSOLE.replace(".json.gz", ".html"),
    )

    # Then the email names the page before the JSON report
    email = email_text(report)
    assert f"Report page (HTML, open it from the S3 console): {CONSOLE.replace('.json.gz', '.html')}\n" in email
    assert email.index("Report page (HTML") < email.index("Full report (every finding")
    # and without a page, it names none
    assert "Report page" not in email_text({**report, "reportHtmlUri": None, "reportHtmlConsoleUrl": None})


def test_the_report_has_the_html_fields_null_before_the_archive_fills_them():
    report = report_of([CaScan(CA)])
    assert (report["reportHtmlUri"], report["reportHtmlConsoleUrl"]) == (None, None)


def test_unknown_severities_types_and_statuses_render_by_name():
    # Given a finding whose severity, type and status this version does not know
    odd = {**finding("c" * 64, severity="SEVERE", status="QUARANTINED"), "type": "NEW_CHECK"}
    scan = CaScan(CA, certificates_scanned=1, by_status=Counter({"QUARANTINED": 1}), findings=[odd])

    # When it is rendered
    page = Page(render(report_of([scan])))

    # Then they are shown as they are, sorted last, and coloured as "other"
    words = page.words()
    assert "SEVERE" in words and "NEW_CHECK" in words and "QUARANTINED" in words
    assert any("st-other" in attrs.get("class", "") for tag, attrs in page.elements if tag == "rect")
    cell = next(attrs for tag, attrs in page.elements if tag == "td" and "data-v" in attrs)
    assert cell["data-v"] == str(len(html_report.SEVERITY_ORDER))
