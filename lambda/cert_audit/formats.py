"""The report's output formats, by name: what `cert-audit scan --format` offers and the file
each writes in `--output-dir` (report.<extension>).

Each is a function of the whole report to text; none decides anything about the findings.
JUnit XML is for CI dashboards (one test suite per CA, a failing test case per finding type
it has, the findings listed in the failure), Markdown for a pull-request comment or a ticket.
The JSON report, its CSV and the OCSF documents are the ones the function archives.
"""

from __future__ import annotations

import io
import json
import re
import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import Callable
from typing import NamedTuple

from cert_audit import asff, html_report, ocsf, terminal
from cert_audit.findings import FINDING_TYPES, severity_rank
from cert_audit.message import changes_line, console_url, subject
from cert_audit.report import write_csv

OUTPUT_STEM = "report"  # --output-dir DIR writes DIR/report.<extension> for each format
# A pull-request comment or ticket lists this many findings (and as many resolved ones); the rest are counted.
MARKDOWN_FINDINGS_MAX = 50


class Format(NamedTuple):
    render: Callable[[dict], str]
    extension: str


class FormatError(ValueError):
    """A --format value names no format; the message (one line) says which ones there are."""


def as_json(report: dict) -> str:
    """The report the function publishes and archives (schema version 1, docs/report.schema.json)."""
    return json.dumps(report, indent=2) + "\n"


def as_csv(report: dict) -> str:
    """The findings as the archive writes them beside each report (report.write_csv)."""
    buffer = io.StringIO()
    write_csv(report["findings"], buffer)
    return buffer.getvalue()


def as_asff(report: dict) -> str:
    """The ASFF documents Security Hub gets (asff.py: open, suppressed and resolved findings), as a JSON list."""
    return json.dumps(list(asff.documents(report)), indent=2) + "\n"


# JUnit XML


# XML 1.0 allows tab, newline and carriage return of the control characters, and no others.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_text(value: object) -> str:
    """Text as XML 1.0 can carry it (an AWS error message could hold anything)."""
    return _NOT_XML.sub("\ufffd", str(value))


def junit_line(finding: dict) -> str:
    """One finding in a failure's text."""
    return (
        f"[{finding['severity']}] {terminal.finding_name(finding)} {finding['certificateId']} "
        f"(finding {finding['findingId']}): {finding['reason']}"
    )


def as_junit(report: dict) -> str:
    """JUnit XML: a test suite per CA, with a `scan` test case (an <error> when the CA could not
    be fully audited) and a test case per finding type, failing with the CA's findings of that
    type; a type the CA has none of passes, or is skipped when the scan failed (its certificates
    were not all checked). Run-level errors (state, archive, suppressions) are a `run` suite."""
    by_ca: dict[str, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for finding in report["findings"]:
        by_ca[finding["caCertificateId"]][finding["type"]].append(finding)
    cas = list(report["cas"])
    listed = {ca["caCertificateId"] for ca in cas}
    cas += [{"caCertificateId": ca_id, "error": None} for ca_id in by_ca if ca_id not in listed]
    root = ET.Element("testsuites", name=_xml_text(f"IoT certificate audit {report['auditId']}"))
    totals = defaultdict(int)
    for ca in cas:
        suite = _ca_suite(root, report, ca, by_ca.get(ca["caCertificateId"], {}))
        for key in ("tests", "failures", "errors", "skipped"):
            totals[key] += int(suite.get(key))
    if report["errors"]:
        suite = ET.SubElement(root, "testsuite", name="run", timestamp=report["startedAt"][:19])
        for error in report["errors"]:
            case = ET.SubElement(suite, "testcase", classname="run", name=_xml_text(error["source"]))
            ET.SubElement(case, "error", type=_xml_text(error["code"]), message=_xml_text(error["message"]))
        count = str(len(report["errors"]))
        suite.attrib.update(tests=count, failures="0", errors=count, skipped="0")
        totals["tests"] += len(report["errors"])
        totals["errors"] += len(report["errors"])
    root.attrib.update({key: str(totals[key]) for key in ("tests", "failures", "errors", "skipped")})
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _ca_suite(root: ET.Element, report: dict, ca: dict, findings: dict[str, list[dict]]) -> ET.Element:
    ca_id = ca["caCertificateId"]
    suite = ET.SubElement(root, "testsuite", name=_xml_text(f"CA {ca_id}"), timestamp=report["startedAt"][:19])
    if ca.get("durationMs") is not None:
        suite.set("time", f"{ca['durationMs'] / 1000:.3f}")
    properties = ET.SubElement(suite, "properties")
    for name in ("caCertificateId", "status", "certificatesScanned", "suppressedFindings"):
        if ca.get(name) is not None:
            ET.SubElement(properties, "property", name=name, value=_xml_text(ca[name]))
    error = ca.get("error")
    scanned = ET.SubElement(suite, "testcase", classname=_xml_text(ca_id), name="scan")
    if error:
        ET.SubElement(scanned, "error", type=_xml_text(error["code"]), message=_xml_text(error["message"]))
    failures = skipped = 0
    for kind in [*FINDING_TYPES, *(kind for kind in findings if kind not in FINDING_TYPES)]:
        case = ET.SubElement(suite, "testcase", classname=_xml_text(ca_id), name=kind)
        found = findings.get(kind)
        if found:
            failures += 1
            worst = min((f["severity"] for f in found), key=severity_rank)
            failure = ET.SubElement(case, "failure", type=kind, message=f"{len(found):,} findings, worst {worst}")
            failure.text = _xml_text("\n".join(map(junit_line, found)))
        elif error:
            skipped += 1
            ET.SubElement(case, "skipped", message=_xml_text(f"not fully audited ({error['code']})"))
    tests = 1 + len(FINDING_TYPES) + sum(1 for kind in findings if kind not in FINDING_TYPES)
    suite.attrib.update(tests=str(tests), failures=str(failures), errors=str(int(bool(error))), skipped=str(skipped))
    return suite


# Markdown

# Escaped wherever they stand; the others (#, +, !, parentheses) mean something only where a
# cell's text never puts them.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|~&])")


def md(text: object) -> str:
    """Free text as Markdown shows it literally, on one line of a table cell."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def md_code(text: object) -> str:
    """A value (an ID, a status) as inline code; a pipe would end the table cell even there."""
    return "`" + " ".join(str(text).split()).replace("`", "'").replace("|", "\\|") + "`"


def as_markdown(report: dict) -> str:
    """A pull-request comment or ticket: the totals, the changes, the scan errors, and the
    findings (new first when the run knows what is new), the first MARKDOWN_FINDINGS_MAX of them."""
    summary = report["summary"]
    lines = [
        f"### {md(subject(report))}",
        "",
        f"Account {md_code(report['accountId'] or 'unknown')}, region {md_code(report['region'])}, "
        f"audit {md_code(report['auditId'])}, {md(report['startedAt'])} to {md(report['finishedAt'])}.",
        "",
        "| Certificates | CAs | CAs failed | Findings | Worst | Suppressed |",
        "|---:|---:|---:|---:|---|---:|",
        f"| {summary['certificatesScanned']:,} | {summary['casScanned']:,} | {summary['casFailed']:,} "
        f"| {summary['findings']:,} | {summary['worstSeverity'] or '-'} | {summary['suppressedFindings']:,} |",
    ]
    changes = changes_line(report) if report.get("changes") is not None else None
    if changes:
        lines += ["", f"**Changes:** {md(changes)}"]
    errors = [ca for ca in report["cas"] if ca["error"]]
    if errors or report["errors"]:
        lines += ["", "#### Scan errors (not everything was audited)", ""]
        lines += [f"- CA {md_code(ca['caCertificateId'])}: {_md_error(ca['error'])}" for ca in errors]
        lines += [f"- {md(error['source'])}: {_md_error(error)}" for error in report["errors"]]
    findings = report["findings"]
    compared = report.get("changes") is not None
    if compared:
        findings = sorted(findings, key=lambda f: not f.get("isNew"))
    if findings:
        order = "new first, then worst first" if compared else "worst first"
        lines += ["", f"#### Findings ({len(findings):,}, {order})", ""]
        headers = (["New"] if compared else []) + ["Severity", "Finding", "Certificate", "CA", "Created", "Finding ID"]
        rows = [
            (["new" if f.get("isNew") else ""] if compared else [])
            + [f["severity"], md_code(terminal.finding_name(f)), _md_certificate(f, report["region"])]
            + [md_code(f["caCertificateId"][:12] + "…"), md(f["creationDate"] or ""), md_code(f["findingId"])]
            for f in findings[:MARKDOWN_FINDINGS_MAX]
        ]
        lines += _md_table(headers, rows)
        lines += _md_more(len(findings), "findings", "the JSON report (`--format json`)")
    resolved = report.get("resolvedFindings") or []
    if resolved:
        lines += ["", f"#### Resolved ({len(resolved):,})", ""]
        rows = [
            [f["severity"], md_code(terminal.finding_name(f)), md_code(f["certificateId"])]
            + [md((f.get("firstSeen") or "")[:10]), md_code(f["findingId"])]
            for f in resolved[:MARKDOWN_FINDINGS_MAX]
        ]
        lines += _md_table(["Severity", "Finding", "Certificate", "Open since", "Finding ID"], rows)
        lines += _md_more(len(resolved), "resolved findings", "the JSON report (resolvedFindings)")
    if not findings and not errors and not report["errors"]:
        nothing = "No CA found in this account and region: nothing was audited."
        lines += ["", "No findings." if report["cas"] else nothing]
    notes = []
    if summary["suppressedFindings"]:
        notes.append(f"{summary['suppressedFindings']:,} findings suppressed.")
    if report["expiredSuppressions"]:
        notes.append(f"{len(report['expiredSuppressions']):,} suppressions have expired: renew or remove them.")
    if notes:
        lines += ["", " ".join(notes)]
    return "\n".join(lines) + "\n"


def _md_error(error: dict) -> str:
    return f"**{md(error['code'])}**: {md(error['message'])}"


def _md_certificate(finding: dict, region: str | None) -> str:
    return f"[{md_code(finding['certificateId'][:16] + '…')}]({console_url(finding, region)})"


def _md_table(headers: list[str], rows: list[list[str]]) -> list[str]:
    return [
        "| " + " | ".join(headers) + " |",
        "|" + "---|" * len(headers),
        *("| " + " | ".join(row) + " |" for row in rows),
    ]


def _md_more(count: int, what: str, where: str) -> list[str]:
    left = count - MARKDOWN_FINDINGS_MAX
    return ["", f"… and {left:,} more {what}: see {where}."] if left > 0 else []


FORMATS: dict[str, Format] = {
    "table": Format(terminal.table, "txt"),  # plain, for a file; the CLI fits and colours it for a terminal
    "json": Format(as_json, "json"),
    "csv": Format(as_csv, "csv"),
    "ocsf": Format(ocsf.render, "ocsf.json"),
    "asff": Format(as_asff, "asff.json"),
    "junit": Format(as_junit, "junit.xml"),
    "markdown": Format(as_markdown, "md"),
    "html": Format(html_report.render, "html"),  # the page a person opens (cert_audit.html_report)
}


def file_name(name: str) -> str:
    """The file --output-dir writes format `name` to."""
    return f"{OUTPUT_STEM}.{FORMATS[name].extension}"


def parse_names(value: str) -> list[str]:
    """The formats a --format value asks for (comma-separated, each once, in order)."""
    names = list(dict.fromkeys(part.strip().lower() for part in value.split(",") if part.strip()))
    unknown = [name for name in names if name not in FORMATS]
    if unknown or not names:
        given = ", ".join(repr(name) for name in unknown) if unknown else "no format"
        raise FormatError(
            f"--format: {given} is not a format; choose from {', '.join(FORMATS)} "
            "(several comma-separated with --output-dir, e.g. --format json,csv,ocsf)"
        )
    return names
