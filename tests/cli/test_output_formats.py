"""`cert-audit scan --format a,b,c --output-dir DIR` against moto: every format asked for, a file
each, the same content a single --format prints; bad names and combinations are bad usage."""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET

import pytest

from cert_audit import formats
from tests.cli.conftest import seed_fleet
from tests.schemas import validate_ocsf, validate_report

FLEET = ["ACTIVE"] * 300 + ["REVOKED"] * 3 + ["INACTIVE"] * 2


@pytest.fixture
def fleet(backend):
    return seed_fleet(backend, FLEET, ["ACTIVE"] * 20)


def per_run(text: str) -> str:
    """The text without what differs between two runs of one audit: its ID and times."""
    return re.sub(r"[0-9a-f-]{36}|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "X", text)


def finding_ids(report: dict) -> list[str]:
    return [finding["findingId"] for finding in report["findings"]]


def test_output_dir_writes_every_format_asked_for(fleet, run, tmp_path):
    # Given an output folder that does not exist yet
    folder = tmp_path / "ci" / "reports"

    # When the CLI is asked for JSON, CSV, OCSF, JUnit and Markdown into it
    code, out, err = run("--format", "json,csv,ocsf,junit,markdown", "--output-dir", str(folder), "--fail-on", "never")

    # Then it made the folder and wrote one file per format, said so on stderr and nothing on stdout
    assert (code, out) == (0, "")
    names = ["report.json", "report.csv", "report.ocsf.json", "report.junit.xml", "report.md"]
    assert sorted(path.name for path in folder.iterdir()) == sorted(names)
    assert err == f"cert-audit: wrote {', '.join(names)} in {folder}\n"
    # and each file carries the same five findings, by ID
    report = json.loads((folder / "report.json").read_text())
    validate_report(report)
    ids = finding_ids(report)
    assert len(ids) == 5
    rows = list(csv.DictReader(io.StringIO((folder / "report.csv").read_text())))
    assert [row["findingId"] for row in rows] == ids
    documents = json.loads((folder / "report.ocsf.json").read_text())
    for document in documents:
        validate_ocsf(document)
    assert [document["finding_info"]["uid"] for document in documents] == ids
    junit = ET.parse(folder / "report.junit.xml").getroot()
    assert sum(failure.text.count("(finding ") for failure in junit.iter("failure")) == 5
    markdown = (folder / "report.md").read_text()
    assert all(f"`{finding_id}`" in markdown for finding_id in ids)


def test_each_file_is_what_a_single_format_prints(fleet, run, tmp_path):
    # Given the same audit run twice: once into a folder, once per format to stdout
    run("--format", "csv,markdown,table", "--output-dir", str(tmp_path), "--fail-on", "never")

    # Then each file is what the single format prints (the table as for a file: plain)
    for name in ("csv", "markdown"):
        _, out, _ = run("--format", name, "--fail-on", "never")
        written = (tmp_path / formats.file_name(name)).read_text()
        assert per_run(written) == per_run(out)
    table = (tmp_path / "report.txt").read_text()
    assert table.startswith("IoT certificate audit: 5 findings in 1 of 2 CAs")
    assert "\033[" not in table  # no colour in a file


def test_a_single_format_still_goes_to_stdout_or_output(fleet, run, tmp_path):
    code, out, _ = run("--format", "ocsf", "--fail-on", "never")
    assert code == 0 and len(json.loads(out)) == 5
    code, out, _ = run("--format", "junit", "--output", str(tmp_path / "audit.xml"), "--fail-on", "never")
    assert (code, out) == (0, "")
    assert ET.parse(tmp_path / "audit.xml").getroot().tag == "testsuites"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--format", "json,yaml"], "--format: 'yaml' is not a format; choose from table, json, csv, ocsf, asff"),
        (["--format", "json,csv"], "--format json,csv: several formats need --output-dir DIR (a file each)"),
        (["--format", "json", "--output", "x.json", "--output-dir", "out"], "--output and --output-dir: give one"),
    ],
)
def test_bad_format_usage_is_one_line_and_exit_2(aws, run, tmp_path, monkeypatch, argv, message):
    # Given no CA at all: bad usage must stop the run before any AWS call
    monkeypatch.chdir(tmp_path)

    # When the formats asked for cannot be written as asked
    code, out, err = run(*argv)

    # Then one line names the problem (and the known formats), exit 2, nothing written
    assert (code, out) == (2, "")
    assert err.startswith(f"cert-audit: error: {message}") and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_output_dir_that_is_a_file_is_bad_usage(aws, run, tmp_path):
    (tmp_path / "reports").write_text("not a folder")
    code, _, err = run("--format", "json", "--output-dir", str(tmp_path / "reports"))
    assert code == 2
    folder = str(tmp_path / "reports")
    assert err == f"cert-audit: error: --output-dir: {folder!r} is a file; give a folder (it is created if missing)\n"
