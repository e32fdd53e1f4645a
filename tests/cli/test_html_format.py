"""`cert-audit scan --format html` against moto: the page carries every finding of the run, by ID,
beside the JSON of the same run, and parses as one well-formed page with the page's own script only."""

from __future__ import annotations

import json

import pytest

from cert_audit.html_report import SCRIPT
from tests.cli.conftest import seed_fleet
from tests.unit.test_html_report import Page

FLEET = ["ACTIVE"] * 300 + ["REVOKED"] * 3 + ["INACTIVE"] * 2


@pytest.fixture
def fleet(backend):
    return seed_fleet(backend, FLEET, ["ACTIVE"] * 20 + ["REGISTER_INACTIVE"])


def test_the_html_format_lists_every_finding_of_the_run_by_id(fleet, run, tmp_path):
    # When the CLI writes the JSON and the HTML report of one run
    code, out, err = run("--format", "json,html", "--output-dir", str(tmp_path), "--fail-on", "never")

    # Then the page lists the same findings as the JSON, by ID, worst first
    assert (code, out) == (0, "")
    report = json.loads((tmp_path / "report.json").read_text())
    page = Page((tmp_path / "report.html").read_text(encoding="utf-8"))
    rows = [attrs for tag, attrs in page.elements if tag == "tr" and "data-ids" in attrs]
    assert [row["data-ids"].split()[-1] for row in rows] == [f["findingId"] for f in report["findings"]]
    assert len(rows) == report["summary"]["findings"] == 6
    # and it is the page whole: its own script, its totals
    assert page.contents["script"] == [SCRIPT]
    assert f"{report['summary']['certificatesScanned']:,}" in page.words()


def test_the_html_format_goes_to_stdout_or_a_file(fleet, run, tmp_path):
    # When the page is asked for alone, to stdout and to a file
    code, out, _ = run("--format", "html", "--fail-on", "never")
    target = tmp_path / "audit.html"
    run("--format", "html", "--output", str(target), "--fail-on", "never")

    # Then both are a whole page
    assert code == 0 and out.startswith("<!DOCTYPE html>") and out.rstrip().endswith("</html>")
    assert target.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
