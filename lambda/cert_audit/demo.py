"""`cert-audit demo`: the real Lambda handler, end to end, on an AWS emulator in this process.

Seeds moto (extended by cert_audit.emulator) with a fleet of CAs and a few thousand device
certificates in every status, one CA whose listing is refused as a missing IAM permission
would be, then invokes `cert_audit.handler.lambda_handler` as the schedule would and shows
what happened: the requests it made, the findings, the SNS message as an email subscriber
reads it (a queue subscribed to the topic receives the JSON report, written to a file), the
CloudWatch metrics it printed in EMF, and its logs.

Development only: it imports moto, which the Lambda asset does not contain.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest import mock

import boto3
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID

from cert_audit import emulator, handler
from cert_audit.cli import text_table
from cert_audit.config import KNOWN_STATUSES
from cert_audit.findings import CERTIFICATE_STATUS
from cert_audit.observability import logger

REGION = "us-east-1"
ACCOUNT = DEFAULT_ACCOUNT_ID
TOPIC_NAME = "iot-cert-audit-alerts"
FUNCTION_NAME = "iot-cert-audit"
TIMEOUT_MS = 900_000  # the function's timeout: Lambda's maximum
SUPPRESSIONS_PARAMETER = "/iot-cert-audit/suppressions"
SUPPRESSION_DAYS = 60
# The function's environment variables: the demo runs with their defaults.
CONFIGURATION = (
    "CA_CERTIFICATE_IDS",
    "FLAGGED_STATUSES",
    "NOTIFY_ON",
    "PAGE_SIZE",
    "SCAN_CONCURRENCY",
    "METRICS_DETAIL",
    "CA_EXPIRY_WARNING_DAYS",
    "MAX_CERTIFICATE_AGE_DAYS",
)


@dataclass(frozen=True)
class DemoCa:
    """One CA of the demo fleet and the device certificates it signed, by status."""

    name: str
    certificates: dict[str, int]
    status: str = "ACTIVE"
    days_to_expiry: int = 3650
    mode: str = "DEFAULT"  # the CA's and its device certificates' certificateMode
    fails_with: str | None = None  # the error ListCertificatesByCA answers with for this CA
    accepted: str | None = None  # why the team accepts its certificates' status findings (a suppression)

    @property
    def size(self) -> int:
        return sum(self.certificates.values())


FLEET = (
    DemoCa("production-2024", {"ACTIVE": 1850, "PENDING_ACTIVATION": 12, "REVOKED": 6, "INACTIVE": 3}),
    DemoCa(
        "field-service",
        {"ACTIVE": 700, "PENDING_TRANSFER": 4, "REVOKED": 2, "INACTIVE": 1, "REGISTER_INACTIVE": 1},
        days_to_expiry=45,
    ),
    DemoCa(
        "contract-manufacturer",
        {"ACTIVE": 420, "REGISTER_INACTIVE": 5},
        mode="SNI_ONLY",
        accepted="Batch 7 is re-registered by the manufacturer next month (CHG-2041)",
    ),
    DemoCa("retired-2019", {"ACTIVE": 40, "REVOKED": 4}, status="INACTIVE"),
    DemoCa("partner-gateways", {"ACTIVE": 380, "REVOKED": 2}, fails_with="AccessDeniedException"),
)


def seed(backend) -> dict[str, DemoCa]:
    """The fleet in the emulator: {CA certificate ID: its DemoCa}. Statuses are interleaved in
    time, as a real fleet's are (seeded, so every run is the same)."""
    cas = {}
    for ca in FLEET:
        not_after = datetime.now(UTC) + timedelta(days=ca.days_to_expiry, hours=12)
        ca_id = emulator.seed_ca(backend, ca.name, ca.status, not_after=not_after, mode=ca.mode)
        statuses = [status for status, count in ca.certificates.items() for _ in range(count)]
        random.Random(ca.name).shuffle(statuses)
        emulator.seed_certificates(backend, ca_id, statuses, mode=ca.mode)
        cas[ca_id] = ca
    return cas


def store_suppressions(cas: dict[str, DemoCa]) -> None:
    """The accepted CAs' status findings as suppressions, in the SSM parameter the function reads."""
    expires = (datetime.now(UTC) + timedelta(days=SUPPRESSION_DAYS)).date().isoformat()
    suppressions = [
        {"caCertificateId": ca_id, "type": CERTIFICATE_STATUS, "reason": ca.accepted, "expires": expires}
        for ca_id, ca in cas.items()
        if ca.accepted
    ]
    boto3.client("ssm", region_name=REGION).put_parameter(
        Name=SUPPRESSIONS_PARAMETER, Value=json.dumps(suppressions), Type="String"
    )


@dataclass
class Run:
    """What one invocation did and printed."""

    result: dict
    seconds: float
    calls: Counter
    stdout: str
    logs: str


def invoke(cas: dict[str, DemoCa], topic_arn: str) -> Run:
    """The scheduled invocation, with the function's default configuration and every CA."""
    handler.clients.cache_clear()  # clients made inside the emulator, not before it
    iot, sns = handler.clients()
    calls: Counter = Counter()

    def count(model, params, **_):
        ca_id = params.get("caCertificateId") or params.get("certificateId")
        calls[(model.name, cas[ca_id].name if ca_id in cas else "")] += 1

    for client in (iot, sns):
        client.meta.events.register("provide-client-params", count)  # once per call, not per retry
    failing = {ca_id: ca.fails_with for ca_id, ca in cas.items() if ca.fails_with}

    def refuse(request):
        # Worded as IAM words it when the function's role lacks the permission for one CA.
        for ca_id, code in failing.items():
            if ca_id in request.url:
                return code, (
                    f"User: arn:aws:sts::{ACCOUNT}:assumed-role/{FUNCTION_NAME}-role/{FUNCTION_NAME} is not "
                    f"authorized to perform: iot:ListCertificatesByCA on resource: "
                    f"arn:aws:iot:{REGION}:{ACCOUNT}:cacert/{ca_id}"
                )
        return None

    emulator.inject_faults(iot, "ListCertificatesByCA", refuse)
    stdout, logs = io.StringIO(), io.StringIO()
    log_handler = logger.registered_handler
    log_stream, log_handler.stream = log_handler.stream, logs  # it holds the stdout of its import
    started = time.monotonic()
    try:
        with contextlib.redirect_stdout(stdout):
            result = handler.lambda_handler(
                {"source": "aws.events", "detail-type": "Scheduled Event"},
                emulator.LambdaContext(
                    FUNCTION_NAME, "d3m0c0de-0000-4000-8000-000000000001", REGION, ACCOUNT, timeout_ms=TIMEOUT_MS
                ),
            )
    finally:
        log_handler.stream = log_stream
        handler.clients.cache_clear()
    return Run(result, time.monotonic() - started, calls, stdout.getvalue(), logs.getvalue())


def subscribe_queue(topic_arn: str) -> str:
    sqs = boto3.client("sqs", region_name=REGION)
    queue_url = sqs.create_queue(QueueName="audit-reports")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    boto3.client("sns", region_name=REGION).subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    return queue_url


def received_reports(queue_url: str) -> list[dict]:
    """The JSON reports (SNS `default`) that reached the subscribed queue."""
    messages = boto3.client("sqs", region_name=REGION).receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
    return [json.loads(json.loads(m["Body"])["Message"]) for m in messages.get("Messages", [])]


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def show_fleet(cas: dict[str, DemoCa]) -> list[str]:
    statuses = [s for s in KNOWN_STATUSES if any(s in ca.certificates for ca in FLEET)]
    rows = [
        [ca.name, ca_id[:12], ca.status, f"{ca.days_to_expiry} d", ca.mode]
        + [ca.certificates.get(status, "") for status in statuses]
        + [ca.size]
        for ca_id, ca in cas.items()
    ]
    total = sum(ca.size for ca in FLEET)
    lines = [f"1. The seeded fleet: {len(FLEET)} CAs, {total:,} device certificates (account {ACCOUNT}, {REGION})", ""]
    headers = ["CA", "ID", "CA status", "Expires", "Mode", *statuses, "Total"]
    lines += text_table(headers, rows, set(range(5, len(headers))))
    for ca in FLEET:
        if ca.fails_with:
            lines.append(
                f"{ca.name}: ListCertificatesByCA answers {ca.fails_with}, as when the function's role "
                "lacks the permission for this CA"
            )
        if ca.accepted:
            lines.append(
                f"{ca.name}: its status findings are suppressed for {SUPPRESSION_DAYS} days "
                f"({SUPPRESSIONS_PARAMETER}): {ca.accepted}"
            )
    return lines


def show_run(run: Run, cas: dict[str, DemoCa]) -> list[str]:
    summary = run.result["summary"]
    lines = [
        "2. The function ran: cert_audit.handler.lambda_handler(scheduled event, context)",
        f"Default configuration, every CA (CA_CERTIFICATE_IDS=*), suppressions from {SUPPRESSIONS_PARAMETER}, "
        f"alerts to {TOPIC_NAME}. Took {run.seconds:.1f} s.",
        f"Handler result: scanned {summary['certificatesScanned']:,} certificates of {summary['casScanned']} CAs, "
        f"{summary['findings']:,} findings, {summary['casFailed']} CA failed, {summary['retries']} retries.",
        "",
        "Requests it made (pages requested per CA; the report's count of pages read in brackets)",
    ]
    pages = {ca["caCertificateId"]: ca["pages"] for ca in run.result["cas"]}
    names = {ca.name: ca_id for ca_id, ca in cas.items()}
    rows = []
    for (operation, ca_name), count in sorted(run.calls.items()):
        read = f" [{pages[names[ca_name]]}]" if operation == "ListCertificatesByCA" else ""
        rows.append([operation, ca_name or "-", f"{count}{read}"])
    lines += text_table(["Operation", "CA", "Requests"], rows, {2})
    return lines


def show_findings(report: dict, cas: dict[str, DemoCa]) -> list[str]:
    by_kind = Counter(
        (f["severity"], f["type"], f["status"], cas[f["caCertificateId"]].name) for f in report["findings"]
    )
    rows = [[severity, kind, status, ca, count] for (severity, kind, status, ca), count in by_kind.items()]
    lines = [f"3. Findings: {len(report['findings']):,} (worst first)", ""]
    lines += text_table(["Severity", "Type", "Status", "CA", "Count"], rows, {4})
    suppressed = Counter(cas[f["caCertificateId"]].name for f in report["suppressedFindings"])
    lines += [
        f"Suppressed (not alerted, listed apart in the report): {count} of {ca}" for ca, count in suppressed.items()
    ]
    return lines


def show_message(subject: str, message: dict, report: dict, report_file: Path) -> list[str]:
    return [
        "4. The SNS message, as an email subscriber receives it",
        "",
        f"Subject: {subject}",
        "",
        *message["email"].rstrip("\n").splitlines(),
        "",
        f"(A queue subscribed to the topic received the JSON report: {len(report['findings'])} findings, "
        f"audit {report['auditId']}; written to {report_file}.)",
    ]


def show_metrics(stdout: str, cas: dict[str, DemoCa]) -> list[str]:
    rows = emulator.metric_rows(stdout)
    per_ca: dict[str, dict[str, float]] = defaultdict(dict)
    run_rows = []
    for name, dimensions, value, unit in rows:
        ca_id = dimensions.get("CaCertificateId")
        if ca_id:
            column = dimensions.get("Status") or name
            per_ca[cas[ca_id].name][column] = value
        else:
            extra = ", ".join(f"{k}={v}" for k, v in dimensions.items() if k != "service")
            run_rows.append([name, extra or "-", _number(value), unit])
    lines = [
        f"5. CloudWatch metrics it emitted (EMF, namespace {os.environ['POWERTOOLS_METRICS_NAMESPACE']}): "
        f"{len(rows)} data points",
        "",
        "Run (dimension service)",
    ]
    lines += text_table(["Metric", "Other dimensions", "Value", "Unit"], run_rows, {2})
    columns = ["Findings", "ScanErrors", "CaDaysToExpiry"]
    statuses = [s for s in KNOWN_STATUSES if any(s in values for values in per_ca.values())]
    table = [
        [ca] + [_number(values[c]) if c in values else "-" for c in columns + statuses] for ca, values in per_ca.items()
    ]
    lines += ["", "Per CA (dimension CaCertificateId; the status columns are Certificates by CaCertificateId, Status)"]
    lines += text_table(["CA", *columns, *statuses], table, set(range(1, 1 + len(columns) + len(statuses))))
    lines.append("A CA whose scan failed gets no Certificates points: a partial count would read as a drop.")
    return lines


def show_logs(logs: str) -> list[str]:
    records = [json.loads(line) for line in logs.splitlines() if line.startswith("{")]
    counts = Counter(record["message"] if isinstance(record["message"], str) else "event" for record in records)
    failed = [r for r in records if r["message"] == "CA scanned" and r.get("error")]
    lines = [
        f"6. Logs: {len(records)} JSON lines ("
        + ", ".join(f"{message} x{count}" for message, count in counts.items())
        + "); the failed CA's:"
    ]
    keep = ("message", "caCertificateId", "certificatesScanned", "pages", "retries", "error")
    lines += [json.dumps({key: record.get(key) for key in keep}) for record in failed]
    return lines


def check(report: dict, cas: dict[str, DemoCa]) -> list[str]:
    """The report against the seeded fleet: every certificate of every CA that could be read."""
    problems = []
    for ca in report["cas"]:
        seeded = cas[ca["caCertificateId"]]
        counted = {status: count for status, count in ca["byStatus"].items() if count}
        if seeded.fails_with:
            if not (ca["error"] and ca["error"]["code"] == seeded.fails_with):
                problems.append(f"{seeded.name}: expected {seeded.fails_with}, got {ca['error']}")
        elif counted != seeded.certificates or ca["error"]:
            problems.append(f"{seeded.name}: seeded {seeded.certificates}, reported {counted}, error {ca['error']}")
    if len(report["cas"]) != len(cas):
        problems.append(f"{len(cas)} CAs seeded, {len(report['cas'])} reported")
    return problems


def main(report_file: str = "demo-report.json") -> int:
    target = Path(report_file)
    if not target.parent.is_dir():
        print(f"cert-audit demo: error: folder {str(target.parent)!r} does not exist", file=sys.stderr)
        return 2
    emulator.install()
    environment = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    environment.update(
        AWS_DEFAULT_REGION=REGION,
        AWS_REGION=REGION,
        POWERTOOLS_TRACE_DISABLED="true",  # no X-Ray daemon here
        POWERTOOLS_METRICS_NAMESPACE=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "IoTCertificateAudit"),
    )
    for name in CONFIGURATION:
        environment.pop(name, None)  # the function's defaults, whatever this shell says
    with mock.patch.dict(os.environ, environment, clear=True), mock_aws():
        cas = seed(emulator.iot_backend(REGION))
        topic_arn = boto3.client("sns", region_name=REGION).create_topic(Name=TOPIC_NAME)["TopicArn"]
        queue_url = subscribe_queue(topic_arn)
        store_suppressions(cas)
        os.environ.update(ALERT_TOPIC_ARN=topic_arn, SUPPRESSIONS_PARAMETER=SUPPRESSIONS_PARAMETER)
        run = invoke(cas, topic_arn)
        [report] = received_reports(queue_url)
        [published] = emulator.published_messages(topic_arn, REGION, ACCOUNT)
        subject, message = published["Subject"], published["Message"]
        target.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        sections = [
            show_fleet(cas),
            show_run(run, cas),
            show_findings(report, cas),
            show_message(subject, message, report, target),
            show_metrics(run.stdout, cas),
            show_logs(run.logs),
        ]
        problems = check(report, cas)
    rule = "=" * 100
    print("IoT certificate audit: demo on an embedded AWS emulator (moto), running the real Lambda handler\n")
    for section in sections:
        print("\n".join([rule, *section, ""]))
    print(rule)
    if problems:
        print("The report does NOT match the seeded fleet:\n" + "\n".join(f"- {p}" for p in problems))
        return 1
    print(f"The report matches the seeded fleet. JSON report: {target}")
    return 0
