"""The HTML report in a real browser (issue 11): the demo fleet's page in headless Debian Chromium
loads with no console error, fetches nothing, shows the demo's numbers (read from its JSON report,
not written here), and its table filters and sorts as a person clicks it; a hostile report runs no
script of its own, and a million findings make a page that still filters and sorts.

One Chromium per module (a page per test); the demo runs once, in a process of its own, as a user
runs it."""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass, field

import pytest

from cert_audit.findings import SEVERITY_ORDER
from cert_audit.html_report import PAGE_ROWS, TABLE_LIMIT, render
from tests.browser.chromium import CHROMIUM, launch

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in requirements.txt: run `make dev`")

# The rows on the page: those matching the filters, a page (PAGE_ROWS) at a time.
ROWS = "#findings-table tbody tr"


@pytest.fixture(scope="module")
def demo(demo_run) -> tuple[dict, str]:
    """`cert-audit demo` run once: its second run's JSON report, and its HTML page's file URL."""
    process, report_file = demo_run.process, demo_run.report_file
    assert process.returncode == 0, process.stdout[-2000:] + process.stderr[-2000:]
    page_file = report_file.with_suffix(".html")
    # the demo says where to open it
    assert f"open {page_file.resolve().as_uri()}" in process.stdout
    return json.loads(report_file.read_text()), page_file.resolve().as_uri()


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        missing = f"{CHROMIUM} is missing: `make dev` installs Debian's chromium (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(missing)  # CI's machine is set up by `make`: a browser test never quietly skips there
        pytest.skip(missing)
    with sync_api.sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()


@dataclass
class Opened:
    """A page and what it did: console messages, uncaught errors, requests and dialogs."""

    page: object
    url: str
    console: list[tuple[str, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def console_errors(self) -> list[str]:
        return [text for kind, text in self.console if kind in ("error", "warning")] + self.errors


@pytest.fixture
def open_page(browser):
    """open_page(url) -> Opened: the URL in a new browser context, everything it does recorded, and
    any request that leaves the file refused."""
    contexts = []

    def opening(url: str) -> Opened:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        contexts.append(context)
        page = context.new_page()
        opened = Opened(page, url)
        page.on("console", lambda message: opened.console.append((message.type, message.text)))
        page.on("pageerror", lambda error: opened.errors.append(str(error)))
        page.on("request", lambda request: opened.requests.append(request.url))
        page.on("dialog", lambda dialog: (opened.dialogs.append(dialog.message), dialog.dismiss()))
        context.route(
            "**/*",
            lambda route: route.continue_() if route.request.url == url else route.abort("blockedbyclient"),
        )
        page.goto(url, wait_until="load")
        return opened

    yield opening
    for context in contexts:
        context.close()


def visible(page) -> int:
    return page.locator(ROWS).count()


def shown(page) -> int:
    """The page's own count of the rows it shows."""
    return int(page.text_content("#shown-count").replace(",", ""))


def column(page, index: int, attribute: str = "data-v") -> list[str]:
    """An attribute of the index-th cell (from 1) of each visible row, top to bottom."""
    return page.eval_on_selector_all(
        ROWS, "(rows, [i, a]) => rows.map(row => row.cells[i - 1].getAttribute(a))", [index, attribute]
    )


def test_the_demo_page_loads_with_no_console_error_and_fetches_nothing(demo, open_page):
    # When the demo's page is opened
    _, url = demo
    opened = open_page(url)

    # Then nothing was logged as an error or warning (a blocked fetch, a policy violation, a script error),
    # no dialog opened, and the one request was the page itself
    assert opened.console_errors() == []
    assert opened.dialogs == []
    assert opened.requests == [url]
    # and its own script ran (it counts the rows it shows)
    assert opened.page.text_content("#shown-count") == f"{opened.page.locator(ROWS).count():,}"


def test_the_demo_page_shows_the_demo_reports_numbers(demo, open_page):
    # Given the demo's report, and its page opened
    report, url = demo
    page = open_page(url).page
    summary, changes = report["summary"], report["changes"]

    # Then the totals and changes at the top are the report's
    def card(key: str) -> str:
        return page.text_content(f"#card-{key} .value")

    assert card("findings") == f"{summary['findings']:,}"
    assert summary["worstSeverity"] in page.text_content("#card-findings .note")
    assert card("certificates") == f"{summary['certificatesScanned']:,}"
    assert card("failed") == f"{summary['casFailed']:,}"
    assert card("suppressed") == f"{summary['suppressedFindings']:,}"
    assert card("changes") == f"{changes['new']:,} new"
    assert f"{changes['resolved']:,} resolved, {changes['ongoing']:,} still open" in page.text_content("#card-changes")
    with_findings = sum(1 for ca in report["cas"] if ca["findings"])
    headline = f"{summary['findings']:,} findings in {with_findings} of {summary['casScanned']} CAs"
    assert page.text_content("#headline").startswith(headline)
    # and the chart has a bar per CA, the failed one marked with its error
    assert page.locator("#ca-chart .ca-row").count() == len(report["cas"])
    failed = [ca for ca in report["cas"] if ca["error"]]
    for ca in failed:
        bar = page.locator(f'#ca-chart .ca-row[data-ca="{ca["caCertificateId"]}"]')
        assert f"not audited: {ca['error']['code']}" in bar.text_content()
        assert ca["error"]["message"] in page.text_content("#scan-errors")
    # and the findings by severity are counted as in the report
    by_severity = Counter(f["severity"] for f in report["findings"])
    titles = page.locator("#severity-chart title").all_text_contents()
    assert sorted(titles) == sorted(f"{severity}: {count}" for severity, count in by_severity.items())
    # and the table lists every finding, each by its ID
    ids = page.eval_on_selector_all(ROWS, "rows => rows.map(row => row.dataset.ids)")
    assert len(ids) == visible(page) == shown(page) == len(report["findings"])
    assert sorted(i.split()[-1] for i in ids) == sorted(f["findingId"] for f in report["findings"])
    # and the suppressed and resolved findings are listed apart, with the suppressions' reasons
    assert page.locator("#suppressed-table tbody tr").count() == len(report["suppressedFindings"])
    for finding in report["suppressedFindings"]:
        assert finding["suppression"]["reason"] in page.text_content("#suppressed-table")
    assert page.locator("#resolved tbody tr").count() == len(report["resolvedFindings"])


def test_the_table_filters_by_severity_type_ca_newness_and_text(demo, open_page):
    # Given the demo's page
    report, url = demo
    page = open_page(url).page
    findings = report["findings"]

    # When a severity, a type or a CA is chosen, then exactly its findings are shown, and counted
    for control, key in (("#filter-severity", "severity"), ("#filter-type", "type"), ("#filter-ca", "caCertificateId")):
        counts = Counter(f[key] for f in findings)
        assert len(counts) > 1, key  # the demo has several of each: a filter must tell them apart
        for value, count in counts.items():
            page.select_option(control, value)
            assert visible(page) == shown(page) == count, (key, value)
        page.select_option(control, "")
        assert visible(page) == len(findings)

    # When two filters are combined, then only findings matching both are shown
    ca, _ = Counter(f["caCertificateId"] for f in findings).most_common(1)[0]
    severity = next(f["severity"] for f in findings if f["caCertificateId"] == ca)
    page.select_option("#filter-ca", ca)
    page.select_option("#filter-severity", severity)
    assert visible(page) == sum(1 for f in findings if f["caCertificateId"] == ca and f["severity"] == severity)

    # When "new only" is ticked, then only the new findings are shown
    page.click("#filter-clear")
    page.check("#filter-new")
    assert visible(page) == sum(1 for f in findings if f["isNew"]) == 1

    # When a certificate ID is searched for, then the findings naming it are shown
    page.click("#filter-clear")
    certificate = next(f["certificateId"] for f in findings if f["type"] == "CERTIFICATE_STATUS")
    page.fill("#filter-text", certificate[:20])
    assert visible(page) == 1
    page.fill("#filter-text", "no such thing")
    assert visible(page) == 0 and page.is_visible("#no-match")

    # When the filters are cleared, then every finding is back
    page.click("#filter-clear")
    assert visible(page) == len(findings) and not page.is_visible("#no-match")


def test_the_table_sorts_by_the_column_clicked_and_keeps_its_filter(demo, open_page):
    # Given the demo's page
    report, url = demo
    page = open_page(url).page
    severity_header = "#findings-table thead th:nth-child(1)"

    # When the severity column is clicked, then the rows are worst first; clicked again, least severe first
    page.click(f"{severity_header} button")
    ranks = [int(v) for v in column(page, 1)]
    assert ranks == sorted(ranks) and ranks[0] == SEVERITY_ORDER.index(report["summary"]["worstSeverity"])
    assert page.get_attribute(severity_header, "aria-sort") == "ascending"
    page.click(f"{severity_header} button")
    assert [int(v) for v in column(page, 1)] == sorted(ranks, reverse=True)
    assert page.get_attribute(severity_header, "aria-sort") == "descending"

    # When the creation date column is clicked, then the rows are oldest first by the full instant
    page.click("#findings-table thead th:nth-child(6) button")
    created = column(page, 6)
    assert created == sorted(f["creationDate"] for f in report["findings"])

    # When a filter is on and another column is sorted, then the filter still holds
    ca, count = Counter(f["caCertificateId"] for f in report["findings"]).most_common(1)[0]
    page.select_option("#filter-ca", ca)
    page.click("#findings-table thead th:nth-child(7) button")
    assert visible(page) == count
    assert column(page, 5, "data-v") == [None] * count  # the CA column has no sort key: the text is
    assert set(page.eval_on_selector_all(ROWS, "rows => rows.map(row => row.dataset.ca)")) == {ca}


def test_a_ca_clicked_in_the_chart_shows_its_findings(demo, open_page):
    # Given the demo's page
    report, url = demo
    page = open_page(url).page
    ca, count = Counter(f["caCertificateId"] for f in report["findings"]).most_common(1)[0]

    # When the CA's bar is clicked
    page.click(f'#ca-chart .ca-row[data-ca="{ca}"]')

    # Then the table shows that CA's findings only
    assert page.input_value("#filter-ca") == ca
    assert visible(page) == shown(page) == count


def test_a_hostile_report_runs_nothing_and_shows_its_values_as_text(tmp_path, open_page):
    # Given a report with markup, quotes and script in every text field (the unit tests' report)
    from tests.unit.test_html_report import HOSTILE, hostile_report

    page_file = tmp_path / "hostile.html"
    page_file.write_text(render(hostile_report()), encoding="utf-8")

    # When it is opened and its filters used
    opened = open_page(page_file.as_uri())
    opened.page.select_option("#filter-severity", HOSTILE)

    # Then no script of the report's ran, nothing was fetched, and the values read as they were
    assert opened.dialogs == [] and opened.console_errors() == []
    assert opened.requests == [page_file.as_uri()]
    assert visible(opened.page) == 1
    assert HOSTILE in opened.page.inner_text("#suppressed-table")
    assert opened.page.locator("img").count() == 0


def test_a_million_findings_page_lists_the_worst_and_still_filters_and_sorts(tmp_path, open_page):
    # Given a run with a million findings, one of them CRITICAL, archived as JSON
    from cert_audit.scan import CaScan
    from tests.unit.test_html_report import CA, CONSOLE, finding, report_of

    low = finding("c" * 64)
    critical = {**finding("f" * 64, severity="CRITICAL"), "type": "CA_NOT_ACTIVE_WITH_ACTIVE_DEVICE_CERTIFICATES"}
    report = report_of([CaScan(CA, certificates_scanned=1_000_000, findings=[low])])
    report["findings"] = [low] * 999_999 + [critical]
    report["summary"]["findings"] = 1_000_000
    report.update(reportUri="s3://reports/x.json.gz", reportConsoleUrl=CONSOLE)
    page_file = tmp_path / "million.html"
    page_file.write_text(render(report), encoding="utf-8")

    # When its page is opened
    opened = open_page(page_file.as_uri())
    page = opened.page

    # Then it lists the worst TABLE_LIMIT, a page of them at a time, and says where the rest are
    assert opened.console_errors() == []
    assert shown(page) == TABLE_LIMIT and visible(page) == PAGE_ROWS
    assert page.is_visible("#findings-more")
    assert f"{1_000_000 - TABLE_LIMIT:,} more" in page.text_content("#findings-more")
    page.click("#show-more")
    assert visible(page) == 2 * PAGE_ROWS
    # and its filters and sorting work on all of them, not only the page's
    page.select_option("#filter-severity", "CRITICAL")
    assert visible(page) == shown(page) == 1 and not page.is_visible("#pager")
    page.select_option("#filter-severity", "")
    page.click("#findings-table thead th:nth-child(1) button")
    assert column(page, 1)[0] == "0"  # the CRITICAL one, listed last, first
    page.click("#findings-table thead th:nth-child(1) button")
    assert "0" not in column(page, 1) and visible(page) == PAGE_ROWS and shown(page) == TABLE_LIMIT
