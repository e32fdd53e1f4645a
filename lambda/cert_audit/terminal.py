"""What the command line shows a person: the report as tables that fit the terminal, with
severities in colour, and the scan's progress bar on stderr. Rendered by `rich`.

A file or a pipe gets the same tables as plain text at their natural width (every line whole,
for grep and diff); a terminal gets them fitted to its width (a long ID folds inside its cell
rather than being cut) and coloured, unless NO_COLOR is set (https://no-color.org). The
Lambda function never imports this module: rich is a dependency of the command line only.
"""

from __future__ import annotations

import io
import os
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import IO

from rich import box
from rich.console import Console, Group, RenderableType
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from cert_audit.findings import CERTIFICATE_STATUS
from cert_audit.message import changes_line, error_lines, subject

# The table is for a person at a terminal; all findings are in --format csv or json.
TABLE_FINDINGS_MAX = 50
# Wide enough that no table of the report wraps: a file or a pipe gets every line whole.
NATURAL_WIDTH = 100_000
SEVERITY_STYLES = {"CRITICAL": "bold reverse red", "HIGH": "bold red", "MEDIUM": "yellow", "LOW": "cyan", "INFO": "dim"}
FAILED_STYLE = "bold red"


def finding_name(finding: dict) -> str:
    """A status finding by its status (REVOKED...), any other by its type (CA_CERTIFICATE_EXPIRING...)."""
    return finding["status"] if finding["type"] == CERTIFICATE_STATUS else finding["type"]


def no_color(environ: Mapping[str, str] = os.environ) -> bool:
    """NO_COLOR set to anything but the empty string (the convention's rule, and rich's)."""
    return environ.get("NO_COLOR", "") != ""


# Tables


def text_table(headers: list[str], rows: Iterable[list], right: Iterable[int] = ()) -> list[str]:
    """Rows under headers in aligned columns, as plain lines at their natural width; numbers
    (columns in `right`) right-aligned, ints with thousands separators."""
    table = _table(headers, right, wrap=range(len(headers)))
    for row in rows:
        table.add_row(*(_cell(value) for value in row))
    return _plain(table).splitlines()


def table(report: dict) -> str:
    """The report as plain text at its natural width: for a file, a pipe or --output-dir."""
    return _plain(_report(report, NATURAL_WIDTH))


def screen_table(report: dict, stream: IO[str]) -> str:
    """The report for `stream`: fitted to the terminal's width (COLUMNS overrides it, as rich
    reads it) and coloured unless NO_COLOR is set, when `stream` is a terminal; else `table`."""
    if not _isatty(stream):
        return table(report)
    return render(report, Console(file=stream).width, color=not no_color())


def render(report: dict, width: int, color: bool) -> str:
    """The report fitted to `width` columns, with colour's escape codes or none."""
    console = _console(width, color)
    console.print(_report(report, width))
    return _lines(console)


def _report(report: dict, width: int) -> Group:
    """Today's report, top to bottom: the headline, CAs, counts by status, scan errors, the
    changes since the baseline, the findings (capped), resolved findings and suppressions.
    A table wider than `width` becomes its narrow form, which keeps every ID on a line of its own."""
    summary = report["summary"]
    parts: list[RenderableType] = [
        Text(subject(report), style="bold"),
        Text(f"Account {report['accountId'] or 'unknown'}, region {report['region']}, audit {report['auditId']}"),
        Text(f"{report['startedAt']} to {report['finishedAt']}"),
        Text(),
        _fit(_cas_table(report["cas"]), lambda: _cas_list(report["cas"]), width),
        Text(),
    ]
    statuses = _table(["Status", "Certificates"], right={1})
    for status, count in summary["byStatus"].items():
        statuses.add_row(status, _cell(count))
    statuses.add_row("All", _cell(summary["certificatesScanned"]), style="bold")
    parts.append(statuses)
    failed = [ca for ca in report["cas"] if ca["error"]]
    if failed or report["errors"]:
        parts += [Text(), Text("Scan errors (not everything was audited as asked)", style=FAILED_STYLE)]
        parts += [Text(line) for line in error_lines(report)]
    findings = report["findings"]
    compared = report["changes"] is not None  # with --baseline
    if compared:
        parts += [Text(), Text(f"Since the baseline: {changes_line(report)}", style="bold")]
    if findings:
        if compared:  # what is new first, so that the 50 rows shown never hide it
            findings = sorted(findings, key=lambda f: not f["isNew"])
        order = "new first, then worst first" if compared else "worst first"
        shown = findings[:TABLE_FINDINGS_MAX]
        parts += [
            Text(),
            Text(f"Findings ({order}): {len(findings):,}", style="bold"),
            _fit(
                _findings_table(shown, "Created", lambda f: f["creationDate"], compared),
                lambda: _findings_list(shown, "created", lambda f: f["creationDate"], compared),
                width,
            ),
        ]
        if len(findings) > TABLE_FINDINGS_MAX:
            parts.append(Text(f"... and {len(findings) - TABLE_FINDINGS_MAX:,} more: use --format csv or json for all"))
    elif not report["cas"] and not report["errors"]:
        parts += [Text(), Text("No CA found in this account and region: nothing was audited.")]
    elif not failed:
        parts += [Text(), Text("No findings: nothing the audit checks needs attention.", style="green")]
    resolved = report["resolvedFindings"]
    if resolved:
        shown = resolved[:TABLE_FINDINGS_MAX]
        parts += [
            Text(),
            Text(f"Resolved since the baseline (open then, gone now): {len(resolved):,}", style="bold"),
            _fit(
                _findings_table(shown, "Open since", _open_since),
                lambda: _findings_list(shown, "open since", _open_since),
                width,
            ),
        ]
        if len(resolved) > TABLE_FINDINGS_MAX:
            parts.append(
                Text(f"... and {len(resolved) - TABLE_FINDINGS_MAX:,} more: use --format json (resolvedFindings)")
            )
    if summary["suppressedFindings"]:
        parts.append(
            Text(f"{summary['suppressedFindings']:,} findings suppressed (see --format json, suppressedFindings).")
        )
    if report["expiredSuppressions"]:
        parts.append(Text(f"{len(report['expiredSuppressions'])} suppressions have expired: renew or remove them."))
    return Group(*parts)


def _fit(wide: Table, narrow: Callable[[], Table], width: int) -> Table:
    """`wide` if its natural width fits in `width`, else the narrow form of the same rows."""
    return wide if _console(NATURAL_WIDTH, color=False).measure(wide).maximum <= width else narrow()


def _cas_table(cas: list[dict]) -> Table:
    table = _table(["CA certificate ID", "Result", "Certificates", "Pages", "Findings"], right={2, 3, 4})
    for ca in cas:
        counts = (_cell(ca[key]) for key in ("certificatesScanned", "pages", "findings"))
        table.add_row(ca["caCertificateId"], _result(ca), *counts)
    return table


def _cas_list(cas: list[dict]) -> Table:
    """One CA a row: its ID on a line of its own, its result and counts under it."""
    table = _table(["CA certificate ID, result"], wrap={0})
    for ca in cas:
        counts = ", ".join(_plural(ca[key], word) for key, word in _CA_COUNTS)
        table.add_row(Text.assemble(ca["caCertificateId"], "\n  ", _result(ca), ": ", counts))
    return table


_CA_COUNTS = (("certificatesScanned", "certificate"), ("pages", "page"), ("findings", "finding"))


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def _result(ca: dict) -> Text:
    return Text("scanned") if not ca["error"] else Text(f"FAILED ({ca['error']['code']})", style=FAILED_STYLE)


def _findings_table(findings: list[dict], date_header: str, date, compared: bool = False) -> Table:
    """Severity, finding, certificate ID, CA and a date; with a baseline, a New column first."""
    headers = ["Severity", "Finding", "Certificate ID", "CA", date_header]
    table = _table(["New", *headers] if compared else headers)
    for f in findings:
        cells = [_severity(f), finding_name(f), f["certificateId"], f["caCertificateId"][:12], date(f)]
        table.add_row(*([_new(f)] if compared else []), *cells)
    return table


def _findings_list(findings: list[dict], date_label: str, date, compared: bool = False) -> Table:
    """The narrow form: severity, then the finding, its CA and date over its certificate ID."""
    headers = ["Severity", f"Finding, CA, {date_label} / certificate ID"]
    table = _table(["New", *headers] if compared else headers, wrap={2 if compared else 1})
    for f in findings:
        details = f"{finding_name(f)}, CA {f['caCertificateId'][:12]}, {date_label} {date(f)}\n{f['certificateId']}"
        table.add_row(*([_new(f)] if compared else []), _severity(f), details)
    return table


def _severity(finding: dict) -> Text:
    return Text(finding["severity"], style=SEVERITY_STYLES.get(finding["severity"], ""))


def _new(finding: dict) -> Text | str:
    return Text("yes", style="bold") if finding["isNew"] else ""


def _open_since(finding: dict) -> str:
    return (finding["firstSeen"] or "")[:10]


def _table(headers: list[str], right: Iterable[int] = (), wrap: Iterable[int] = ()) -> Table:
    """Columns two spaces apart under a ruled header line, as the hand-drawn tables were: a row's
    line starts with its first value (`grep ^ID`). On a terminal too narrow for the table, the
    columns in `wrap` (IDs, names, dates) wrap, folding a long word inside its cell, so nothing
    is cut; the short ones (severity, counts) keep their line."""
    right, wrap = set(right), set(wrap)
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 1, 0, 0), header_style="bold")
    for index, header in enumerate(headers):
        table.add_column(
            header,
            justify="right" if index in right else "left",
            no_wrap=index not in wrap,
            overflow="fold",
        )
    return table


def _cell(value) -> str:
    return f"{value:,}" if isinstance(value, int) else str(value)


def _console(width: int, color: bool) -> Console:
    """A console that renders into a string: `color` gives escape codes, else plain text."""
    return Console(
        file=io.StringIO(),
        width=width,
        color_system="standard" if color else None,
        force_terminal=color,
        highlight=False,
        markup=False,
        emoji=False,
        _environ={},  # the caller decided width and colour; COLUMNS and NO_COLOR are read there
    )


def _plain(renderable: RenderableType) -> str:
    console = _console(NATURAL_WIDTH, color=False)
    console.print(renderable)
    return _lines(console)


def _lines(console: Console) -> str:
    """What `console` printed, without the spaces that pad a table's rows to its width."""
    return "".join(line.rstrip() + "\n" for line in console.file.getvalue().splitlines())


def _isatty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or closed
        return False


# Progress


class PageRate(ProgressColumn):
    """Pages read a second over the run so far (rich's own speed column counts the bar's unit,
    certificates)."""

    def render(self, task: Task) -> Text:
        elapsed = task.elapsed or 0.0
        rate = task.fields.get("pages", 0) / elapsed if elapsed > 0 else 0.0
        return Text(f"{rate:,.1f} pages/s")


class ScanProgress:
    """The run's progress bar on stderr: certificates listed so far, of how many the last run
    listed in the same CAs when that is known (--baseline), with the page rate and the time left;
    without a size, a bar that shows activity and the time so far. `on_page` is the engine's
    per-page callback, called from the CAs' threads."""

    REFRESH_PER_SECOND = 4  # the machine's CPU goes to the scan, not to redrawing

    def __init__(self, console: Console, expected: int | None = None, get_time: Callable[[], float] | None = None):
        self.expected = expected
        when = (TimeRemainingColumn(), TextColumn("left")) if expected is not None else (TimeElapsedColumn(),)
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[counts]}"),
            PageRate(),
            *when,
            console=console,
            transient=True,  # the closing line replaces it
            refresh_per_second=self.REFRESH_PER_SECOND,
            get_time=get_time,
            redirect_stderr=False,  # rich's redirect wraps long lines: __enter__ puts _LinesAbove there
        )
        self.task = self.progress.add_task("Scanning", total=expected, counts="", pages=0)
        self.scanned: dict[str, tuple[int, int]] = {}  # CA ID -> (certificates, pages) so far
        self.lock = threading.Lock()
        self.progress.update(self.task, counts=self._counts(0))

    def __enter__(self) -> ScanProgress:
        self.progress.start()
        self.stderr, sys.stderr = sys.stderr, _LinesAbove(self.progress.console, sys.stderr)
        return self

    def __exit__(self, *exc) -> None:
        sys.stderr.flush()
        sys.stderr = self.stderr
        self.progress.stop()

    def on_page(self, scan) -> None:
        """After each page of a CA (a scan.CaScan): its totals so far replace the last ones."""
        with self.lock:
            self.scanned[scan.ca_certificate_id] = (scan.certificates_scanned, scan.pages)
            certificates = sum(count for count, _ in self.scanned.values())
            pages = sum(count for _, count in self.scanned.values())
            # More than the last run listed (certificates added since): the bar is full, never past it.
            total = None if self.expected is None else max(self.expected, certificates)
            self.progress.update(
                self.task,
                completed=certificates,
                total=total,
                pages=pages,
                counts=self._counts(certificates),
                description=f"Scanning {len(self.scanned)} {'CA' if len(self.scanned) == 1 else 'CAs'}",
            )

    def finish(self, report: dict) -> None:
        """The closing line: what the run listed, how long it took and how fast."""
        summary = report["summary"]
        task = self.progress.tasks[self.task]
        elapsed = task.elapsed or 0.0
        certificates = summary["certificatesScanned"]
        pages = sum(ca["pages"] for ca in report["cas"])
        rate = f": {certificates / elapsed:,.0f}/s, {pages / elapsed:,.1f} pages/s" if elapsed else ""
        self.progress.console.print(  # within 80 columns up to a billion certificates
            f"Scanned {_plural(certificates, 'certificate')} ({_plural(pages, 'page')}) of "
            f"{_plural(summary['casScanned'], 'CA')} in {elapsed:.1f} s{rate}",
            markup=False,
            highlight=False,
        )

    def _counts(self, certificates: int) -> str:
        if self.expected is None:
            return f"{certificates:,} certificates"
        return f"{certificates:,}/{self.expected:,} certificates"


class _LinesAbove(io.TextIOBase):
    """stderr while the bar is drawn: each line written (a log line: --verbose, a warning) is
    printed above the bar, whole and unwrapped (a JSON log line stays one line for `jq`)."""

    def __init__(self, console: Console, stream: IO[str]):
        self.console = console
        self.stream = stream
        self.partial = ""
        self.lock = threading.Lock()

    def write(self, text: str) -> int:
        with self.lock:
            *lines, self.partial = (self.partial + text).split("\n")
        for line in lines:
            self.console.print(line, soft_wrap=True, markup=False, highlight=False, emoji=False)
        return len(text)

    def flush(self) -> None:
        with self.lock:
            line, self.partial = self.partial, ""
        if line:
            self.console.print(line, soft_wrap=True, markup=False, highlight=False, emoji=False)

    def isatty(self) -> bool:
        return self.stream.isatty()

    def fileno(self) -> int:
        return self.stream.fileno()


def expected_certificates(sizes: Mapping[str, int], ca_ids: Iterable[str]) -> int | None:
    """How many certificates the last run listed in the CAs this run audits (`ca_ids`, or every
    CA when empty), from its report's cas[].certificatesScanned; None when it did not list one of them."""
    ca_ids = tuple(ca_ids)
    if not sizes or any(ca not in sizes for ca in ca_ids):
        return None
    return sum(sizes[ca] for ca in ca_ids) if ca_ids else sum(sizes.values())


def progress_console() -> Console:
    """stderr, as the progress bar and its closing line need it (colour unless NO_COLOR): the
    stream itself, not rich's `stderr=True`, which would follow sys.stderr to _LinesAbove."""
    return Console(file=sys.stderr, highlight=False)
