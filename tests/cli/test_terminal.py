"""What a person sees at a terminal (cert_audit.terminal, rich): the table fitted to the
terminal's width without losing an ID, severities in colour only where colour belongs, the
progress bar with its rate and time left, and `--quiet` and `--verbose`."""

from __future__ import annotations

import io
import json
import re
import sys
import threading

import pytest
from rich.console import Console

from cert_audit import cli, terminal
from cert_audit.emulator import seed_ca, seed_certificates
from cert_audit.observability import logger
from cert_audit.scan import CaScan
from tests.cli.conftest import python_process, seed_fleet

# A CA that holds more findings than the table shows, another whose CA is INACTIVE while its
# device certificates are ACTIVE (the longest finding name), and a CA that cannot be listed.
BIG = ["ACTIVE"] * 300 + ["REVOKED"] * (terminal.TABLE_FINDINGS_MAX + 5) + ["INACTIVE"] * 3
ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
WIDTHS = (60, 120, 200)


@pytest.fixture
def report(backend, run, failing_cas, tmp_path) -> dict:
    """A report with everything the table shows: failed CA, changes since a baseline, a new and
    a resolved finding, more findings than the table lists, CA-level findings."""
    _, small, failing = seed_fleet(backend, BIG, ["ACTIVE"] * 5 + ["REVOKED"], ["ACTIVE"])
    inactive = seed_ca(backend, "retired", "INACTIVE")
    seed_certificates(backend, inactive, ["ACTIVE"] * 2)
    failing_cas.add(failing)
    baseline = tmp_path / "baseline.json"
    run("--format", "json", "--output", str(baseline))
    revoked = next(c for c in backend.certificates.values() if c.ca_certificate_id == small and c.status == "ACTIVE")
    revoked.status = "REVOKED"
    gone = next(c.certificate_id for c in backend.certificates.values() if c.status == "INACTIVE")
    del backend.certificates[gone]
    _, out, _ = run("--format", "json", "--baseline", str(baseline))
    return json.loads(out)


def shown_findings(report: dict) -> list[dict]:
    """The findings the table lists: new first, then worst first, at most TABLE_FINDINGS_MAX."""
    return sorted(report["findings"], key=lambda f: not f["isNew"])[: terminal.TABLE_FINDINGS_MAX]


# The table fits the terminal


@pytest.mark.parametrize("width", WIDTHS)
def test_the_table_fits_the_width_and_keeps_every_id_and_count(report, width):
    # Given a report with a failed CA, changes, and more findings than the table lists
    assert report["changes"]["new"] and report["resolvedFindings"] and report["summary"]["casFailed"]

    # When it is rendered for a terminal of `width` columns
    text = terminal.render(report, width, color=False)
    lines = text.splitlines()

    # Then no line is longer than the terminal
    assert max(len(line) for line in lines) <= width
    # and nothing the reader acts on is lost: every CA and certificate ID whole (folded at the
    # end of a line at most, never cut or interleaved with another column), every finding's
    # severity and name, the counts, the line that says where the rest of the findings are
    squeezed = re.sub(r"\s+", "", text)
    for ca in report["cas"]:
        assert ca["caCertificateId"] in squeezed
        assert f"{ca['certificatesScanned']:,}" in text
    for finding in shown_findings(report) + report["resolvedFindings"]:
        assert finding["certificateId"] in squeezed
        assert terminal.finding_name(finding) in squeezed
    assert {f["severity"] for f in report["findings"]} <= set(re.findall(r"\b[A-Z]+\b", text))
    rest = len(report["findings"]) - terminal.TABLE_FINDINGS_MAX
    assert f"... and {rest:,} more: use --format csv or json for all" in re.sub(r"\s*\n", " ", text)
    assert f"Since the baseline: {report['changes']['new']} new" in text
    assert f"All {report['summary']['certificatesScanned']:,}".split() == next(
        line.split() for line in lines if line.startswith("All ")
    )


@pytest.mark.parametrize("width", [80, 120, 200])
def test_from_80_columns_every_id_stays_on_one_line(report, width):
    # When the report is rendered 80 columns wide or more
    lines = terminal.render(report, width, color=False).splitlines()

    # Then each ID can be copied from one line
    for finding in shown_findings(report):
        assert any(finding["certificateId"] in line for line in lines)
    for ca in report["cas"]:
        assert any(ca["caCertificateId"] in line for line in lines)


def test_a_wide_terminal_gets_one_line_per_finding(report):
    # When the report is rendered 200 columns wide
    lines = terminal.render(report, 200, color=False).splitlines()

    # Then each finding's row holds its severity, name, certificate, CA and creation date
    for finding in shown_findings(report):
        [row] = [line for line in lines if finding["certificateId"] in line and finding["creationDate"] in line]
        assert row.split()[-5:] == [
            finding["severity"],
            terminal.finding_name(finding),
            finding["certificateId"],
            finding["caCertificateId"][:12],
            finding["creationDate"],
        ]


def test_a_file_gets_every_row_on_one_line_at_any_width(report, monkeypatch):
    # Given a narrow terminal
    monkeypatch.setenv("COLUMNS", "60")

    # When the plain table is made (a file, a pipe, --output-dir)
    text = terminal.table(report)

    # Then it is the table at its natural width: one line per CA and per finding, no escapes
    assert not ESCAPE.search(text)
    for ca in report["cas"]:
        assert any(line.startswith(ca["caCertificateId"] + "  ") for line in text.splitlines())
    assert sum(1 for line in text.splitlines() if re.match(r"(yes)?\s+(CRITICAL|HIGH|MEDIUM|LOW) ", line)) == (
        terminal.TABLE_FINDINGS_MAX
    )


# Colour


def test_severities_are_coloured_on_a_terminal(report):
    # When the report is rendered with colour
    coloured = terminal.render(report, 120, color=True)

    # Then each severity is drawn in its colour (red for CRITICAL and HIGH, cyan for LOW)
    for severity, colour in (("CRITICAL", "31"), ("HIGH", "31"), ("LOW", "36")):
        codes = re.findall(rf"\x1b\[([0-9;]*)m{severity}\b", coloured)
        assert codes and all(colour in code.split(";") for code in codes), severity
    # and, without its escapes, it is the plain rendering
    plain = [line.rstrip() for line in ESCAPE.sub("", coloured).splitlines()]
    assert plain == terminal.render(report, 120, color=False).splitlines()


def test_cli_fits_and_colours_the_table_on_a_terminal(report, run, monkeypatch):
    # Given stdout is a terminal 100 columns wide
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    monkeypatch.setenv("COLUMNS", "100")
    monkeypatch.delenv("NO_COLOR", raising=False)

    # When the CLI prints its table
    _, out, _ = run("--fail-on", "never")

    # Then it is coloured and fits the terminal
    assert ESCAPE.search(out)
    assert max(len(ESCAPE.sub("", line)) for line in out.splitlines()) <= 100


def test_no_color_gives_plain_text_on_a_terminal(report, run, monkeypatch):
    # Given stdout is a terminal, 100 columns wide, and the user set NO_COLOR
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    monkeypatch.setenv("COLUMNS", "100")
    monkeypatch.setenv("NO_COLOR", "1")

    # When the CLI prints its table
    _, out, _ = run("--fail-on", "never")

    # Then it still fits the terminal, without a single escape code
    assert not ESCAPE.search(out)
    assert max(len(line) for line in out.splitlines()) <= 100
    assert "Findings (worst first)" in out


def test_a_pipe_or_a_file_gets_no_escape_codes(report, run, monkeypatch, tmp_path):
    # Given stdout that is not a terminal, colour not refused, a narrow COLUMNS
    monkeypatch.setattr(sys.stdout, "isatty", lambda: False)
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("COLUMNS", "60")

    # When the CLI prints its table to the pipe
    _, piped, _ = run("--fail-on", "never")
    # and, with stdout a terminal, writes it to a file
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    target = tmp_path / "table.txt"
    run("--fail-on", "never", "--output", str(target))

    # Then neither carries an escape code, and both keep every row whole
    for text in (piped, target.read_text()):
        assert not ESCAPE.search(text)
        assert any(line.startswith("CA certificate ID  ") for line in text.splitlines())


# Progress


def test_the_bar_counts_every_page_from_many_threads():
    # Given a bar that expects 8,000 certificates (the last run's size)
    progress = terminal.ScanProgress(quiet_console(), expected=8_000, get_time=lambda: 1.0)
    cas = [CaScan(f"{n:064x}") for n in range(8)]

    # When 8 CAs report 100 pages of 5 certificates each, from 8 threads at once
    def scan(ca: CaScan) -> None:
        for _ in range(100):
            ca.certificates_scanned += 5
            ca.pages += 1
            progress.on_page(ca)

    threads = [threading.Thread(target=scan, args=(ca,)) for ca in cas]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # Then the bar holds every page and certificate, of the size expected
    task = progress.progress.tasks[progress.task]
    assert (task.completed, task.total, task.fields["pages"]) == (4_000, 8_000, 800)
    assert "Scanning 8 CAs" in shown(progress) and "4,000/8,000 certificates" in shown(progress)


def test_the_bar_shows_the_page_rate_and_the_time_left():
    # Given a bar that expects 1,000 certificates, and a clock we move
    now = [0.0]
    progress = terminal.ScanProgress(quiet_console(), expected=1_000, get_time=lambda: now[0])
    ca = CaScan("a" * 64)

    # When a CA reports a page of 100 certificates each second, for 3 s
    for second in (1.0, 2.0, 3.0):
        now[0] = second
        ca.certificates_scanned += 100
        ca.pages += 1
        progress.on_page(ca)

    # Then the line shows the counts, 1 page a second, and 7 s left (700 certificates at 100/s)
    line = shown(progress)
    assert "Scanning 1 CA " in line and "300/1,000 certificates" in line
    assert "1.0 pages/s" in line
    assert "0:00:07 left" in line


def test_without_a_size_the_bar_shows_activity_and_time_so_far():
    # Given a bar without an expected size (no --baseline)
    now = [0.0]
    progress = terminal.ScanProgress(quiet_console(), expected=None, get_time=lambda: now[0])

    # When a CA reports a page after 2 s
    now[0] = 2.0
    progress.on_page(CaScan("a" * 64, certificates_scanned=250, pages=1))

    # Then it counts without a total, gives the page rate and the time so far
    task = progress.progress.tasks[progress.task]
    assert task.total is None
    line = shown(progress)
    assert "250 certificates" in line and "/" not in line.split("certificates")[0].split()[-2]
    assert "0.5 pages/s" in line and "0:00:02" in line


def test_more_certificates_than_expected_fill_the_bar_never_past_it():
    progress = terminal.ScanProgress(quiet_console(), expected=100, get_time=lambda: 1.0)
    progress.on_page(CaScan("a" * 64, certificates_scanned=150, pages=2))
    task = progress.progress.tasks[progress.task]
    assert task.completed == task.total == 150


def test_the_expected_size_is_the_last_runs_of_these_cas():
    sizes = {"a": 100, "b": 20}
    assert terminal.expected_certificates(sizes, ()) == 120  # every CA
    assert terminal.expected_certificates(sizes, ("b",)) == 20
    assert terminal.expected_certificates(sizes, ("b", "c")) is None  # c's size is unknown
    assert terminal.expected_certificates({}, ()) is None


def test_cli_progress_bar_sized_by_the_baseline(backend, run, monkeypatch, tmp_path):
    # Given two CAs, a baseline of them, and stderr a terminal 100 columns wide
    seed_fleet(backend, ["ACTIVE"] * 600, ["ACTIVE"] * 30)
    baseline = tmp_path / "baseline.json"
    run("--format", "json", "--output", str(baseline))
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    monkeypatch.setenv("COLUMNS", "100")

    # When the CLI scans against the baseline
    _, out, err = run("--format", "json", "--baseline", str(baseline))

    # Then stdout holds the report alone; stderr drew the bar of the 630 expected certificates
    # with the page rate, and ends with the closing line
    assert json.loads(out)["summary"]["certificatesScanned"] == 630
    plain = ESCAPE.sub("", err)
    assert re.search(r"[\d,]+/630 certificates +[\d.,]+ pages/s", plain), plain
    assert re.search(r"Scanned 630 certificates \(4 pages\) of 2 CAs in [\d.]+ s: [\d,]+/s, [\d.,]+ pages/s", plain)


def test_no_progress_when_stderr_is_not_a_terminal(backend, run, monkeypatch):
    seed_fleet(backend, ["ACTIVE"] * 30)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False)
    _, _, err = run("--format", "json")
    assert err == ""


# --quiet and --verbose


@pytest.fixture
def logging_engine(backend, monkeypatch):
    """The engine, logging a warning and an error besides its own lines."""
    seed_fleet(backend, ["ACTIVE"] * 30 + ["REVOKED"])
    real_run_audit = cli.run_audit

    def run_audit(*args, **kwargs):
        logger.warning("a warning the user should see")
        logger.error("an error the user must see")
        return real_run_audit(*args, **kwargs)

    monkeypatch.setattr(cli, "run_audit", run_audit)


def test_quiet_shows_no_progress_and_only_errors(logging_engine, run, monkeypatch):
    # Given stderr is a terminal
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)

    # When the CLI scans with --quiet
    code, out, err = run("--format", "json", "--quiet")

    # Then stdout is the report, and stderr holds the error alone: no bar, no warning, no closing line
    assert code == 1 and json.loads(out)["summary"]["findings"] == 1
    assert [json.loads(line)["message"] for line in err.splitlines()] == ["an error the user must see"]


def test_quiet_still_names_a_ca_that_failed(backend, failing_cas, run):
    [ca] = seed_fleet(backend, ["ACTIVE"])
    failing_cas.add(ca)
    code, _, err = run("--format", "json", "-q")
    assert code == 2
    assert err.startswith(f"cert-audit: CA {ca} not fully audited: UnauthorizedException")


def test_verbose_shows_the_engines_log_lines_on_stderr(logging_engine, run):
    # When the CLI scans with --verbose
    code, out, err = run("--format", "json", "--verbose")

    # Then stdout is the report alone, and stderr has the engine's per-CA line with the warning and error
    report = json.loads(out)
    logged = [json.loads(line) for line in err.splitlines()]
    [scanned] = [line for line in logged if line["message"] == "CA scanned"]
    assert scanned["caCertificateId"] == report["cas"][0]["caCertificateId"]
    assert scanned["certificatesScanned"] == 31
    assert {"a warning the user should see", "an error the user must see"} <= {line["message"] for line in logged}


def test_verbose_log_lines_stay_whole_above_the_bar(logging_engine, run, monkeypatch):
    # Given stderr is a narrow terminal, where the bar is drawn
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    monkeypatch.setenv("COLUMNS", "60")
    real_stderr = sys.stderr

    # When the CLI scans with --verbose
    _, out, err = run("--format", "json", "--verbose")

    # Then each log line reached the terminal whole (one JSON document a line, for `jq`),
    # though far longer than the terminal is wide, and stderr is stderr again
    lines = [ESCAPE.sub("", raw).split("\r")[-1] for raw in err.split("\n")]
    logged = [json.loads(line) for line in lines if line.startswith("{")]
    assert [entry["message"] for entry in logged if entry["message"] == "CA scanned"] == ["CA scanned"]
    assert all(len(line) > 60 for line in lines if line.startswith("{"))
    assert sys.stderr is real_stderr
    assert json.loads(out)["summary"]["findings"] == 1


def test_default_keeps_the_per_ca_lines_out_of_sight(logging_engine, run):
    _, _, err = run("--format", "json")
    messages = [json.loads(line)["message"] for line in err.splitlines()]
    assert messages == ["a warning the user should see", "an error the user must see"]


def test_quiet_and_verbose_together_is_bad_usage(run, capsys):
    assert cli.main(["scan", "--quiet", "--verbose"]) == 2
    assert "not allowed with argument" in capsys.readouterr().err


# The function never draws


def test_the_lambda_function_never_imports_rich():
    # When the function's handler module is imported in a fresh interpreter (as Lambda does)
    result = python_process(
        "-c",
        "import sys, cert_audit.handler; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'rich', 'cert_audit'}))",
    )

    # Then rich, a command-line dependency the function's asset does not hold, is not among its modules
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.replace("'", '"')) == ["cert_audit"]


def quiet_console() -> Console:
    """A terminal console that writes nowhere: the bar's state is read, not its drawing."""
    return Console(file=io.StringIO(), force_terminal=True, width=120, _environ={})


def shown(progress: terminal.ScanProgress) -> str:
    """The bar's line as a 120-column terminal shows it, without escapes."""
    console = Console(file=io.StringIO(), width=120, color_system=None, _environ={})
    console.print(progress.progress.get_renderable())
    return console.file.getvalue()
