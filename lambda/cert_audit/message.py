"""The SNS message of a run: JSON report for machines, plain text for people, within SNS limits.

Published with MessageStructure="json": `default` carries the JSON report, `email` the
text an email subscriber reads. SNS caps a message at 256 KiB. When a report does not fit,
every list that grows with the fleet (CAs, errors, findings, expired suppressions,
suppressed findings) is cut, worst first, and the report and the email say how many of
each were left out; the summary's counts always stay whole.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable

from cert_audit.findings import CA_EXPIRED, CA_EXPIRING, CA_NOT_ACTIVE, CERTIFICATE_STATUS, severity_rank
from cert_audit.inventory import coverage_line

# A Publish request's subject, message and attributes together (the topic's default maximum).
SNS_MAX_BYTES = 256 * 1024
SUBJECT_MAX = 100
CA_FINDING_TYPES = (CA_NOT_ACTIVE, CA_EXPIRING, CA_EXPIRED)
CONSOLE_HOSTS = {"aws-cn": "console.amazonaws.cn", "aws-us-gov": "console.amazonaws-us-gov.com"}
FULL_REPORT = "run `cert-audit scan --format json` for the full report"


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def subject(report: dict) -> str:
    """At most 100 ASCII characters: findings, CAs, failures and region."""
    summary = report["summary"]
    text = f"IoT certificate audit: {_plural(summary['findings'], 'finding')}"
    if summary["findings"] and not report.get("casOmitted"):  # with CAs left out, their findings are unknown
        cas_with_findings = sum(1 for ca in report["cas"] if ca["findings"])
        text += f" in {cas_with_findings} of {_plural(summary['casScanned'], 'CA')}"
    else:
        text += f" in {_plural(summary['casScanned'], 'CA')}"
    if summary["casFailed"]:
        text += f", {summary['casFailed']} failed"
    elif summary["errors"]:
        text += ", with errors"
    text += f" ({report['region']})"
    return text.encode("ascii", "replace").decode()[:SUBJECT_MAX]


def console_url(finding: dict, region: str | None) -> str:
    """The certificate's page in the AWS IoT console (the CA's page for a CA finding)."""
    partition = (finding.get("certificateArn") or "arn:aws").split(":")[1]
    host = CONSOLE_HOSTS.get(partition, "console.aws.amazon.com")
    page = "cacertificate" if finding.get("type") in CA_FINDING_TYPES else "certificate"
    return f"https://{region}.{host}/iot/home?region={region}#/{page}/{finding['certificateId']}"


def _finding_lines(finding: dict, region: str | None) -> str:
    if finding.get("type") in CA_FINDING_TYPES:
        head = f"[{finding['severity']}] CA {finding['caCertificateId']} ({finding['status']})\n"
    else:
        head = (
            f"[{finding['severity']}] {finding['status']} certificate {finding['certificateId']}\n"
            f"  CA {finding['caCertificateId']}, created {finding['creationDate']}, "
            f"mode {finding['certificateMode'] or 'unknown'}\n"
        )
    reason = f"{finding['reason']} {finding['remediation']}" if finding.get("remediation") else finding["reason"]
    return f"{head}  {reason}\n  {console_url(finding, region)}\n"


def _type_heading(kind: str, count: int) -> list[str]:
    return [f"{kind} ({count:,})", ""]


def _grouped_by_type(findings: list[dict], region: str | None) -> list[str]:
    """Findings under a heading per type, the type with the worst finding first, worst first within."""
    groups: dict[str, list[dict]] = {}
    for finding in findings:  # already worst first, so each group's first finding is its worst
        groups.setdefault(finding.get("type"), []).append(finding)
    lines = []
    for kind, of_kind in sorted(groups.items(), key=lambda group: severity_rank(group[1][0]["severity"])):
        lines += _type_heading(kind, len(of_kind))
        lines += [_finding_lines(finding, region) for finding in of_kind]
    return lines


def _sections(report: dict, findings: list[dict]) -> list[tuple[str, list[dict]]]:
    """The email's sections of findings: with a memory of the last run, what is new first,
    then what is still open; without one, all of them."""
    if report.get("changes") is None:
        return [("Findings by type (worst first)", findings)]
    return [
        ("New since the last run (worst first)", [f for f in findings if f.get("isNew")]),
        ("Still open (worst first)", [f for f in findings if not f.get("isNew")]),
    ]


def _resolved_line(finding: dict) -> str:
    name = finding["status"] if finding.get("type") == CERTIFICATE_STATUS else finding.get("type")
    return (
        f"- [{finding['severity']}] {name} {finding['certificateId']} (CA {finding['caCertificateId'][:12]}...): "
        f"open since {(finding.get('firstSeen') or '?')[:10]}, gone at {finding['resolvedAt']}"
    )


def changes_line(report: dict) -> str | None:
    """'3 new, 1 resolved, 297 still open (oldest since 2026-03-02)', or None without a memory."""
    changes = report.get("changes")
    if changes is None:
        return None
    line = f"{changes['new']:,} new, {changes['resolved']:,} resolved, {changes['ongoing']:,} still open"
    if report.get("oldestOpenSince"):
        line += f" (oldest since {report['oldestOpenSince'][:10]})"
    return line


def _ca_lines(ca: dict) -> list[str]:
    outcome = f"FAILED ({ca['error']['code']})" if ca["error"] else "scanned"
    return [f"CA {ca['caCertificateId']}: {outcome}, {_plural(ca['findings'], 'finding')}"] + [
        f"  {status:<20} {count:>10,}" for status, count in ca["byStatus"].items()
    ]


def _ca_error_line(ca: dict) -> str:
    return f"- CA {ca['caCertificateId']}: {ca['error']['code']}: {ca['error']['message']}"


def _run_error_line(error: dict) -> str:
    return f"- {error['source']}: {error['code']}: {error['message']}"


def _expired_line(entry: dict) -> str:
    return f"- {json.dumps(entry)}"


def _more(count: int, what: str) -> list[str]:
    """The line that stands for the items of a list that were left out, if any."""
    return [f"... and {count:,} more {what} not shown: {FULL_REPORT}."] if count else []


def error_lines(report: dict) -> list[str]:
    """One line per CA not fully audited and per run-level error (email and CLI alike), and
    how many of them a message cut to fit leaves out."""
    failed = [ca for ca in report["cas"] if ca["error"]]
    failed_omitted = report["summary"]["casFailed"] - len(failed) if report.get("casOmitted") else 0
    return (
        [_ca_error_line(ca) for ca in failed]
        + [_run_error_line(e) for e in report["errors"]]
        + _more(failed_omitted + report.get("errorsOmitted", 0), "scan errors")
    )


def email_text(report: dict) -> str:
    """The text an email subscriber reads. Each section shows whatever the lists hold; whether a
    section is there at all depends only on the summary's counts and the omitted counts."""
    summary = report["summary"]
    region = report["region"]
    lines = [f"{subject(report)}.", ""]
    if changes_line(report):
        lines += [f"{changes_line(report)}.", ""]
    lines += [
        f"Account {report['accountId']}, region {region}, audit {report['auditId']}.",
        f"Scanned {summary['certificatesScanned']:,} device certificates of {_plural(summary['casScanned'], 'CA')} "
        f"from {report['startedAt']} to {report['finishedAt']}.",
    ]
    if summary.get("inventory"):  # issue 13: how much of the fleet the certificate checks saw
        lines.append(coverage_line(summary["inventory"]))
    if summary.get("malformedCertificates"):
        lines.append(
            f"{_plural(summary['malformedCertificates'], 'malformed certificate')} (a missing or unparseable "
            "field) counted but not fully checked: see each CA's malformedCertificates and malformedExample "
            "in the JSON report."
        )
    lines += ["", "Certificates by CA and status"]
    for ca in report["cas"]:
        lines += _ca_lines(ca)
    lines += _more(report.get("casOmitted", 0), "CAs")
    lines.append("All CAs")
    lines += [f"  {status:<20} {count:>10,}" for status, count in summary["byStatus"].items()]
    if summary["casFailed"] or summary["errors"]:
        lines += ["", "Scan errors (not everything was audited as configured)", *error_lines(report)]
    lines.append("")
    for title, findings in _sections(report, report["findings"]):
        if findings:
            lines += [title, "", *_grouped_by_type(findings, region)]
    if report["findingsOmitted"]:
        lines.append(
            f"{_plural(report['findingsOmitted'], 'more finding')} did not fit in one SNS message (256 KiB): "
            + ("every finding is in the archived report below." if report.get("reportUri") else FULL_REPORT + ".")
        )
    resolved_omitted = report.get("resolvedFindingsOmitted", 0)
    if report.get("resolvedFindings") or resolved_omitted:
        lines += ["", "Resolved since the last run", *map(_resolved_line, report["resolvedFindings"])]
        lines += _more(resolved_omitted, "resolved findings")
    if not summary["findings"] and not summary["casFailed"]:
        lines.append("No findings: nothing the audit checks needs attention.")
    if summary["suppressedFindings"]:
        left_out = report.get("suppressedFindingsOmitted")
        lines.append(
            f"{_plural(summary['suppressedFindings'], 'finding')} suppressed by your suppressions "
            "(listed in the JSON report under suppressedFindings"
            + (f"; {left_out:,} left out to fit one SNS message)." if left_out else ").")
        )
    expired_omitted = report.get("expiredSuppressionsOmitted", 0)
    if report["expiredSuppressions"] or expired_omitted:
        lines += ["", "Expired suppressions (no longer applied: renew or remove them)"]
        lines += [_expired_line(entry) for entry in report["expiredSuppressions"]]
        lines += _more(expired_omitted, "expired suppressions")
    if report.get("reportHtmlConsoleUrl"):
        # The page a person reads (charts, a table to sort and filter); its console page opens it.
        lines += ["", f"Report page (HTML, open it from the S3 console): {report['reportHtmlConsoleUrl']}"]
    if report.get("reportUri"):
        lines += [
            "",
            f"Full report (every finding, as JSON and CSV): {report['reportUri']}",
            report["reportConsoleUrl"],
        ]
    return "\n".join(lines) + "\n"


def _message_body(report: dict) -> str:
    return json.dumps(
        {"default": json.dumps(report, separators=(",", ":")), "email": email_text(report)},
        separators=(",", ":"),
    )


def _escaped_size(text: str) -> int:
    # Inside the outer JSON every character of the inner text is escaped on its own,
    # so the size an item adds is the size of its escaped text.
    return len(json.dumps(text)) - 2


def _cost(item: dict, email_lines: list[str] = ()) -> int:
    """Bytes one list item adds to the message: its JSON and a comma in `default` (the first
    item has none, which pays for `findingsTruncated` being `false` rather than `true`), and
    its lines in `email`."""
    text = json.dumps(item, separators=(",", ":"))
    return _escaped_size(text) + 1 + sum(_escaped_size(f"{line}\n") for line in email_lines)


def ca_rank(ca: dict) -> tuple:
    """Which CAs a message cut to fit keeps first: failed CAs, then CAs by findings (most first),
    then clean ones."""
    return ca["error"] is None, -ca["findings"]


def _finding_cost(report: dict, findings: list[dict]) -> Callable[[dict], int]:
    """The cost of a finding; the first of its section and type also pays for the headings
    above it in the email (with the counts of the whole list, at least as long as those shown)."""
    sections = _sections(report, findings)
    headings = {}
    for title, of_section in sections:
        for finding, heading in _first_headings(title, of_section):
            headings[id(finding)] = heading
    region = report["region"]
    return lambda finding: _cost(finding, [_finding_lines(finding, region), *headings.get(id(finding), [])])


def _first_headings(title: str, findings: list[dict]) -> list[tuple[dict, list[str]]]:
    """(finding, the heading lines the email writes just above it) for each finding that starts
    its section or its type."""
    of_type = Counter(finding.get("type") for finding in findings)
    firsts: dict[str, dict] = {}
    for finding in findings:
        firsts.setdefault(finding.get("type"), finding)
    starts = [(first, _type_heading(kind, of_type[kind])) for kind, first in firsts.items()]
    if starts:
        starts[0] = (starts[0][0], [title, "", *starts[0][1]])
    return starts


def _take_turns(
    lists: list[tuple[list, Callable[[dict], int]]], room: int, kept: list[int] | None = None
) -> tuple[list[int], int]:
    """How many items of each list (items, cost of one) fit in `room` bytes besides the `kept`
    ones, and the room left.

    The lists take one item each in turn, in order, so that no list crowds out the others; a
    list is done at its first item that does not fit. Costs are asked for in order and only
    while an item may still fit: 100,000 findings cost a few hundred calls."""
    kept = list(kept or [0] * len(lists))
    taking = [i for i, (items, _) in enumerate(lists) if kept[i] < len(items)]
    while taking:
        still_taking = []
        for i in taking:
            items, cost_of = lists[i]
            cost = cost_of(items[kept[i]])
            if cost > room:
                continue
            room -= cost
            kept[i] += 1
            if kept[i] < len(items):
                still_taking.append(i)
        taking = still_taking
    return kept, room


# Each list a message cut to fit may shorten, and the field that counts what it left out.
OMITTED = {
    "cas": "casOmitted",
    "errors": "errorsOmitted",
    "findings": "findingsOmitted",
    "resolvedFindings": "resolvedFindingsOmitted",
    "expiredSuppressions": "expiredSuppressionsOmitted",
    "suppressedFindings": "suppressedFindingsOmitted",
}


def _in_order(report: dict) -> dict[str, list]:
    """Each list in the order a message cut to fit keeps its items: CAs by `ca_rank`, findings
    new first (each part still worst first), the others as they are."""
    order = {
        "cas": lambda cas: sorted(cas, key=ca_rank),
        "findings": lambda findings: sorted(findings, key=lambda finding: not finding.get("isNew")),
    }
    return {name: order.get(name, list)(report.get(name, [])) for name in OMITTED}


def _costed(report: dict, lists: dict[str, list]) -> dict[str, tuple[list, Callable[[dict], int]]]:
    """Each list with what one of its items costs (a fresh count of the findings' headings)."""
    costs = {
        "cas": lambda ca: _cost(ca, [*_ca_lines(ca), *([_ca_error_line(ca)] if ca["error"] else [])]),
        "errors": lambda error: _cost(error, [_run_error_line(error)]),
        "findings": _finding_cost(report, lists["findings"]),
        "resolvedFindings": lambda finding: _cost(finding, [_resolved_line(finding)]),
        "expiredSuppressions": lambda entry: _cost(entry, [_expired_line(entry)]),
        "suppressedFindings": _cost,
    }
    return {name: (lists[name], costs[name]) for name in OMITTED}


def _cut(report: dict, lists: dict[str, list], kept: dict[str, int]) -> dict:
    """The report with the first kept[name] items of each list (CAs back in the report's order)."""
    fitted = {**report}
    for name, items in lists.items():
        fitted[name] = items[: kept[name]]
        fitted[OMITTED[name]] = report.get(OMITTED[name], 0) + len(items) - kept[name]
    position = {id(ca): n for n, ca in enumerate(report["cas"])}
    fitted["cas"] = sorted(fitted["cas"], key=lambda ca: position[id(ca)])
    fitted["findingsTruncated"] = fitted["findingsOmitted"] > 0
    if not fitted["suppressedFindingsOmitted"]:
        del fitted["suppressedFindingsOmitted"]  # present only when some were left out
    return fitted


def _room(report: dict, skeleton: dict, max_bytes: int) -> int:
    """Bytes left for the lists' items in a Publish request of `max_bytes` around `skeleton`
    (the report with its lists empty)."""
    # The subject (in Subject and in the email) counts the listed CAs with findings, which the
    # skeleton has none of: count it at the length it has with all of them.
    longer_subject = max(0, len(subject(report)) - len(subject(skeleton)))
    return max_bytes - publish_size(build_message(skeleton)) - 2 * longer_subject


def fit_report(report: dict, max_bytes: int = SNS_MAX_BYTES) -> dict:
    """The report cut so that its Publish request (subject, message and attributes) is at most
    `max_bytes`, keeping as much as fits, worst first.

    If the lists do not all fit, CAs (in `ca_rank` order), run errors, findings and expired
    suppressions take turns at the room the rest of the message leaves; suppressed findings get
    what is left only if none of those lost anything. Each list's `...Omitted` count says how many it lost
    (`findingsTruncated` too). The fit is worked out from what each item costs, so the message
    of a run with 100,000 findings is never rendered whole; the result is measured once to
    guarantee the bound all the same.
    """
    lists = _in_order(report)
    everything = {name: len(items) for name, items in lists.items()}
    fitted = _cut(report, lists, everything)
    room = _room(report, {**fitted, **dict.fromkeys(lists, [])}, max_bytes)
    kept, _ = _take_turns(list(_costed(report, lists).values()), room)
    if kept != list(everything.values()):
        # First with each count of left-out items at its largest (keeping items only shortens
        # them), then again with the counts this leaves, at their largest from here on.
        room = _room(report, _cut(report, lists, dict.fromkeys(lists, 0)), max_bytes)
        *alerting, suppressed = _costed(report, lists).values()
        kept, left = _take_turns(alerting, room)
        skeleton = {**_cut(report, lists, dict(zip(lists, [*kept, 0], strict=True))), **dict.fromkeys(lists, [])}
        kept, room = _take_turns(alerting, _room(report, skeleton, max_bytes) - (room - left), kept)
        # Suppressed findings are listed only once nothing that alerts is left out.
        whole = kept == [len(items) for items, _ in alerting]
        kept += _take_turns([suppressed], room)[0] if whole else [0]
        fitted = _cut(report, lists, dict(zip(lists, kept, strict=True)))
    size = publish_size(build_message(fitted))
    while size > max_bytes and any(kept):  # only if an item's cost was misjudged
        # Fewer of every list, in proportion to the excess (at least one fewer of each).
        kept = [count * max_bytes // size for count in kept]
        fitted = _cut(report, lists, dict(zip(lists, kept, strict=True)))
        size = publish_size(build_message(fitted))
    return fitted


def _attributes(summary: dict) -> dict:
    """The message attributes that subscription filter policies match on."""
    return {
        "findings": {"DataType": "Number", "StringValue": str(summary["findings"])},
        "worstSeverity": {"DataType": "String", "StringValue": summary["worstSeverity"] or "NONE"},
        "casFailed": {"DataType": "Number", "StringValue": str(summary["casFailed"])},
    }


def build_message(report: dict) -> dict:
    """Publish arguments (Subject, Message, MessageAttributes) for the report, fitted to SNS."""
    return {
        "Subject": subject(report),
        "Message": _message_body(report),
        "MessageAttributes": _attributes(report["summary"]),
    }


def publish_size(message: dict) -> int:
    """Bytes of a Publish request that count towards SNS's limit: the subject, the message, and
    each attribute's name, type and value."""
    attributes = message["MessageAttributes"].items()
    return sum(
        len(text.encode())
        for text in (
            message["Subject"],
            message["Message"],
            *(f"{name}{value['DataType']}{value['StringValue']}" for name, value in attributes),
        )
    )


def should_notify(report: dict, notify_on: str) -> bool:
    """always: every run; findings: when there is a finding; changes: when a finding is new or
    resolved. A failed CA or a run error is always told, whatever the setting."""
    summary = report["summary"]
    if notify_on == "always" or summary["casFailed"] or summary["errors"]:
        return True
    if notify_on == "changes":
        changes = report["changes"] or {}
        return bool(changes.get("new") or changes.get("resolved"))
    return bool(summary["findings"])
