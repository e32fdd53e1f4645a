"""The SNS message of a run: JSON report for machines, plain text for people, within SNS limits.

Published with MessageStructure="json": `default` carries the JSON report, `email` the
text an email subscriber reads. SNS caps a message at 256 KiB, so when the findings do
not fit, as many as fit are kept (worst first) and the report says how many were left out.
"""

from __future__ import annotations

import json

from cert_audit.findings import CA_EXPIRED, CA_EXPIRING, CA_NOT_ACTIVE, severity_rank

SNS_MAX_BYTES = 256 * 1024
# Room for the subject and message attributes, which count towards the SNS limit too.
ENVELOPE_BYTES = 2 * 1024
SUBJECT_MAX = 100
CA_FINDING_TYPES = (CA_NOT_ACTIVE, CA_EXPIRING, CA_EXPIRED)
CONSOLE_HOSTS = {"aws-cn": "console.amazonaws.cn", "aws-us-gov": "console.amazonaws-us-gov.com"}


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def subject(report: dict) -> str:
    """At most 100 ASCII characters: findings, CAs, failures and region."""
    summary = report["summary"]
    cas_with_findings = sum(1 for ca in report["cas"] if ca["findings"])
    text = f"IoT certificate audit: {_plural(summary['findings'], 'finding')}"
    if summary["findings"]:
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
    return f"{head}  {finding['reason']}\n  {console_url(finding, region)}\n"


def _grouped_by_type(findings: list[dict], region: str | None) -> list[str]:
    """Findings under a heading per type, the type with the worst finding first, worst first within."""
    groups: dict[str, list[dict]] = {}
    for finding in findings:  # already worst first, so each group's first finding is its worst
        groups.setdefault(finding.get("type"), []).append(finding)
    lines = []
    for kind, of_kind in sorted(groups.items(), key=lambda group: severity_rank(group[1][0]["severity"])):
        lines += [f"{kind} ({len(of_kind):,})", ""]
        lines += [_finding_lines(finding, region) for finding in of_kind]
    return lines


def error_lines(report: dict) -> list[str]:
    """One line per CA not fully audited and per run-level error (email and CLI alike)."""
    failed = [ca for ca in report["cas"] if ca["error"]]
    return [f"- CA {ca['caCertificateId']}: {ca['error']['code']}: {ca['error']['message']}" for ca in failed] + [
        f"- {error['source']}: {error['code']}: {error['message']}" for error in report["errors"]
    ]


def email_text(report: dict) -> str:
    summary = report["summary"]
    region = report["region"]
    lines = [
        f"{subject(report)}.",
        "",
        f"Account {report['accountId']}, region {region}, audit {report['auditId']}.",
        f"Scanned {summary['certificatesScanned']:,} device certificates of {_plural(summary['casScanned'], 'CA')} "
        f"from {report['startedAt']} to {report['finishedAt']}.",
        "",
        "Certificates by CA and status",
    ]
    for ca in report["cas"]:
        outcome = f"FAILED ({ca['error']['code']})" if ca["error"] else "scanned"
        lines.append(f"CA {ca['caCertificateId']}: {outcome}, {_plural(ca['findings'], 'finding')}")
        lines += [f"  {status:<20} {count:>10,}" for status, count in ca["byStatus"].items()]
    lines.append("All CAs")
    lines += [f"  {status:<20} {count:>10,}" for status, count in summary["byStatus"].items()]
    failed = [ca for ca in report["cas"] if ca["error"]]
    if failed or report["errors"]:
        lines += ["", "Scan errors (not everything was audited as configured)", *error_lines(report)]
    lines.append("")
    if report["findings"]:
        lines += ["Findings by type (worst first)", ""]
        lines += _grouped_by_type(report["findings"], region)
    if report["findingsTruncated"]:
        lines.append(
            f"{_plural(report['findingsOmitted'], 'more finding')} did not fit in one SNS message (256 KiB). "
            "Run `cert-audit scan --format csv` for the full list."
        )
    if not summary["findings"] and not failed:
        lines.append("No findings: nothing the audit checks needs attention.")
    if summary["suppressedFindings"]:
        lines.append(
            f"{_plural(summary['suppressedFindings'], 'finding')} suppressed by your suppressions "
            "(listed in the JSON report under suppressedFindings)."
        )
    if report["expiredSuppressions"]:
        lines += ["", "Expired suppressions (no longer applied: renew or remove them)"]
        lines += [f"- {json.dumps(entry)}" for entry in report["expiredSuppressions"]]
    return "\n".join(lines) + "\n"


def _message_body(report: dict) -> str:
    return json.dumps(
        {"default": json.dumps(report, separators=(",", ":")), "email": email_text(report)},
        separators=(",", ":"),
    )


def _size(report: dict) -> int:
    return len(_message_body(report).encode())


def _escaped_size(text: str) -> int:
    # Inside the outer JSON every character of the inner text is escaped on its own,
    # so the size an item adds is the size of its escaped text.
    return len(json.dumps(text)) - 2


def _json_cost(item: dict) -> int:
    """Bytes one list item adds to the message's `default` (its JSON and a comma)."""
    return _escaped_size(json.dumps(item, separators=(",", ":"))) + 1


def _finding_cost(finding: dict, region: str | None) -> int:
    """Bytes one finding adds to the message: in `default`, and its lines in `email`."""
    return _json_cost(finding) + _escaped_size(_finding_lines(finding, region) + "\n")


def _fit(costs, room: int) -> tuple[int, int]:
    """How many items, taken in order, fit in `room` bytes, and the room left after them."""
    kept = 0
    for cost in costs:
        if cost > room:
            break
        room -= cost
        kept += 1
    return kept, room


def _with_findings(report: dict, findings: list[dict], kept: int) -> dict:
    return {
        **report,
        "findings": findings[:kept],
        "findingsTruncated": kept < len(findings),
        "findingsOmitted": len(findings) - kept,
    }


# What the item costs leave out: the email's headings per finding type and the line that
# says how many were left out, and the digits of the counts.
HEADROOM_BYTES = 1024


def fit_report(report: dict, max_bytes: int = SNS_MAX_BYTES - ENVELOPE_BYTES) -> dict:
    """The report with as many findings (worst first) as fit in one SNS message.

    Suppressed findings go first when space runs out: they are listed in full only when
    everything fits (their count stays in the summary). The fit is worked out from what each
    item costs, so the message of a run with 100,000 findings is never rendered whole.
    """
    findings, suppressed, region = report["findings"], report["suppressedFindings"], report["region"]
    room = max_bytes - HEADROOM_BYTES - _size({**report, "findings": [], "suppressedFindings": []})
    kept, room = _fit((_finding_cost(finding, region) for finding in findings), room)
    fitted = _with_findings(report, findings, kept)
    if suppressed and (kept < len(findings) or _fit(map(_json_cost, suppressed), room)[0] < len(suppressed)):
        fitted = {**fitted, "suppressedFindings": [], "suppressedFindingsOmitted": len(suppressed)}
    while kept and _size(fitted) > max_bytes:  # only if the headroom was not enough
        kept -= 1
        fitted = _with_findings(fitted, findings, kept)
    return fitted


def build_message(report: dict) -> dict:
    """Publish arguments (Subject, Message, MessageAttributes) for the report, fitted to SNS."""
    summary = report["summary"]
    return {
        "Subject": subject(report),
        "Message": _message_body(report),
        "MessageAttributes": {
            "findings": {"DataType": "Number", "StringValue": str(summary["findings"])},
            "worstSeverity": {"DataType": "String", "StringValue": summary["worstSeverity"] or "NONE"},
            "casFailed": {"DataType": "Number", "StringValue": str(summary["casFailed"])},
        },
    }


def should_notify(report: dict, notify_on: str) -> bool:
    summary = report["summary"]
    return notify_on == "always" or bool(summary["findings"] or summary["casFailed"] or summary["errors"])
