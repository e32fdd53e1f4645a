"""`cert-audit demo`: the real Lambda handler, end to end, on an AWS emulator in this process.

Seeds moto (extended by cert_audit.emulator) with a fleet of CAs and a few thousand device
certificates in every status, one CA whose listing is refused as a missing IAM permission
would be, and the function's memory as the stack deploys it: the open-findings table
(DynamoDB, keyed findingId), the report bucket (S3), events on the default EventBridge bus
(a rule sends them to an SQS queue, as a user's routing would) and NOTIFY_ON=changes. Then
it invokes `cert_audit.handler.lambda_handler` twice, as the schedule would, changing the
fleet in between (a certificate revoked, a revoked one deleted), and shows what happened:
the requests each run made, the findings, the second run's change-only email, the events it
sent, the archived report (written to a file too, its HTML page beside it), the CloudWatch
metrics it printed in EMF, and its logs. It ends by checking both reports against the fleet it seeded and changed.

Development only: it imports moto, which the Lambda asset does not contain.
"""

from __future__ import annotations

import contextlib
import gzip
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
from cert_audit.config import KNOWN_STATUSES
from cert_audit.findings import CERTIFICATE_STATUS
from cert_audit.message import changes_line
from cert_audit.observability import logger
from cert_audit.terminal import finding_name, text_table

REGION = "us-east-1"
ACCOUNT = DEFAULT_ACCOUNT_ID
TOPIC_NAME = "iot-cert-audit-alerts"
FUNCTION_NAME = "iot-cert-audit"
TIMEOUT_MS = 900_000  # the function's timeout: Lambda's maximum
SUPPRESSIONS_PARAMETER = "/iot-cert-audit/suppressions"
SUPPRESSION_DAYS = 60
# The function's environment variables: the demo runs with their defaults, but for these.
CONFIGURATION = (
    "CA_CERTIFICATE_IDS",
    "FLAGGED_STATUSES",
    "NOTIFY_ON",
    "PAGE_SIZE",
    "SCAN_CONCURRENCY",
    "METRICS_DETAIL",
    "CA_EXPIRY_WARNING_DAYS",
    "MAX_CERTIFICATE_AGE_DAYS",
    "IOT_RATE_LIMIT",
    "RUN_LOCK_TABLE_NAME",
    "STATE_TABLE_NAME",
    "REPORT_BUCKET_NAME",
    "EVENT_BUS_NAME",
)
# The memory, named as the stack names it.
STATE_TABLE = "iot-cert-audit-state"
REPORT_BUCKET = f"iot-cert-audit-reports-{ACCOUNT}-{REGION}"
EVENT_BUS = "default"
EVENT_QUEUE = "audit-finding-events"
MEMORY = {
    "STATE_TABLE_NAME": STATE_TABLE,
    "REPORT_BUCKET_NAME": REPORT_BUCKET,
    "EVENT_BUS_NAME": EVENT_BUS,
    "NOTIFY_ON": "changes",
    # The emulator has no request quota: at the default 5 requests/s each run would spend
    # about 5 s waiting for its 25 IoT calls' turns, and the demo would show nothing more.
    "IOT_RATE_LIMIT": "100",
}
REQUEST_IDS = ("d3m0c0de-0000-4000-8000-000000000001", "d3m0c0de-0000-4000-8000-000000000002")
# Between the runs, one ACTIVE certificate of this CA is revoked and one of its REVOKED ones deleted.
CHANGED_CA = "production-2024"


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


def seed(backend) -> tuple[dict[str, DemoCa], dict[str, list[tuple[str, str]]]]:
    """The fleet in the emulator: {CA certificate ID: its DemoCa}, and each CA's device
    certificates, oldest first, as (ID, status). Statuses are interleaved in time, as a real
    fleet's are (seeded, so every run is the same)."""
    cas, certificates = {}, {}
    for ca in FLEET:
        not_after = datetime.now(UTC) + timedelta(days=ca.days_to_expiry, hours=12)
        ca_id = emulator.seed_ca(backend, ca.name, ca.status, not_after=not_after, mode=ca.mode)
        statuses = [status for status, count in ca.certificates.items() for _ in range(count)]
        random.Random(ca.name).shuffle(statuses)
        ids = emulator.seed_certificates(backend, ca_id, statuses, mode=ca.mode)
        cas[ca_id] = ca
        certificates[ca_id] = list(zip(ids, statuses, strict=True))
    return cas, certificates


@dataclass(frozen=True)
class Change:
    """What happened to the fleet between the two runs."""

    ca_id: str
    revoked: str  # an ACTIVE certificate revoked
    deleted: str  # a REVOKED certificate deleted


def changed(ca: DemoCa) -> dict[str, int]:
    """The CA's certificates by status after the change."""
    if ca.name != CHANGED_CA:
        return ca.certificates
    after = Counter(ca.certificates)
    after.update({"ACTIVE": -1, "REVOKED": +1})  # one revoked
    after.update({"REVOKED": -1})  # one revoked deleted
    return {status: count for status, count in after.items() if count}


def change_fleet(backend, cas: dict[str, DemoCa], certificates: dict[str, list[tuple[str, str]]]) -> Change:
    """Revoke the oldest ACTIVE certificate of CHANGED_CA and delete its oldest REVOKED one."""
    [ca_id] = [ca_id for ca_id, ca in cas.items() if ca.name == CHANGED_CA]
    revoked = next(certificate for certificate, status in certificates[ca_id] if status == "ACTIVE")
    deleted = next(certificate for certificate, status in certificates[ca_id] if status == "REVOKED")
    backend.certificates[revoked].status = "REVOKED"
    del backend.certificates[deleted]
    return Change(ca_id, revoked, deleted)


def create_memory() -> str:
    """The state table, the report bucket and a rule on the default bus that sends the audit's
    events to a queue; returns the queue's URL."""
    boto3.client("dynamodb", region_name=REGION).create_table(
        TableName=STATE_TABLE,
        KeySchema=[{"AttributeName": "findingId", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "findingId", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    boto3.client("s3", region_name=REGION).create_bucket(Bucket=REPORT_BUCKET)
    sqs = boto3.client("sqs", region_name=REGION)
    queue_url = sqs.create_queue(QueueName=EVENT_QUEUE)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events = boto3.client("events", region_name=REGION)
    events.put_rule(Name="iot-cert-audit-findings", EventPattern=json.dumps({"source": ["iot-cert-audit"]}))
    events.put_targets(Rule="iot-cert-audit-findings", Targets=[{"Id": "queue", "Arn": queue_arn}])
    return queue_url


def received_events(queue_url: str) -> list[dict]:
    """Every event the rule delivered to the queue since the last call (taken off the queue)."""
    sqs = boto3.client("sqs", region_name=REGION)
    received = []
    while messages := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages"):
        received += [json.loads(message["Body"]) for message in messages]
        sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(messages)],
        )
    return received


def archived(uri: str) -> tuple[dict, dict]:
    """The archived report at `uri` (s3://bucket/key) and the object's metadata."""
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    got = boto3.client("s3", region_name=REGION).get_object(Bucket=bucket, Key=key)
    body = got.pop("Body").read()
    return json.loads(gzip.decompress(body) if got.get("ContentEncoding") == "gzip" else body), got


def archived_page(uri: str | None) -> bytes | None:
    """The archived HTML page at `uri` (s3://bucket/key), un-gzipped; None if the run archived none."""
    if not uri:
        return None
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    got = boto3.client("s3", region_name=REGION).get_object(Bucket=bucket, Key=key)
    body = got["Body"].read()
    return gzip.decompress(body) if got.get("ContentEncoding") == "gzip" else body


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


def watch_clients(cas: dict[str, DemoCa]) -> list[Counter]:
    """The handler's clients, made once inside the emulator and kept for both runs, as a warm
    Lambda container keeps them; the partner CA's listing refused. Each call is counted in the
    last Counter of the list returned (invoke adds one per run)."""
    handler.clients.cache_clear()  # clients made inside the emulator, not before it
    handler.client.cache_clear()
    iot, sns = handler.clients()
    runs: list[Counter] = [Counter()]

    def count(model, params, **_):
        ca_id = params.get("caCertificateId") or params.get("certificateId")
        runs[-1][(model.name, cas[ca_id].name if ca_id in cas else "")] += 1

    for client in (iot, sns, *(handler.client(service) for service in ("dynamodb", "events", "s3"))):
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
    return runs


def invoke(runs: list[Counter], request_id: str) -> Run:
    """The scheduled invocation, with the function's configuration and every CA."""
    runs.append(Counter())
    stdout, logs = io.StringIO(), io.StringIO()
    log_handler = logger.registered_handler
    log_stream, log_handler.stream = log_handler.stream, logs  # it holds the stdout of its import
    started = time.monotonic()
    try:
        with contextlib.redirect_stdout(stdout):
            result = handler.lambda_handler(
                {"source": "aws.events", "detail-type": "Scheduled Event"},
                emulator.LambdaContext(FUNCTION_NAME, request_id, REGION, ACCOUNT, timeout_ms=TIMEOUT_MS),
            )
    finally:
        log_handler.stream = log_stream
    return Run(result, time.monotonic() - started, runs[-1], stdout.getvalue(), logs.getvalue())


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
    lines = [f"The seeded fleet: {len(FLEET)} CAs, {total:,} device certificates (account {ACCOUNT}, {REGION})", ""]
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
    lines += [
        "",
        f"The function's memory, as the stack deploys it: open findings in DynamoDB table {STATE_TABLE} "
        "(key findingId),",
        f"full reports archived in S3 bucket {REPORT_BUCKET}, one event per change on the {EVENT_BUS} "
        f"EventBridge bus (a rule",
        f"sends them to SQS queue {EVENT_QUEUE}), NOTIFY_ON=changes: an email only when something is new or "
        "resolved (or a CA failed).",
    ]
    return lines


def show_run(title: str, run: Run, cas: dict[str, DemoCa], report: dict) -> list[str]:
    """The run: its result, its changes and the requests it made."""
    summary = run.result["summary"]
    lines = [
        f"{title}: cert_audit.handler.lambda_handler(scheduled event, context). Took {run.seconds:.1f} s.",
        f"Handler result: scanned {summary['certificatesScanned']:,} certificates of {summary['casScanned']} CAs, "
        f"{summary['findings']:,} findings, {summary['casFailed']} CA failed, {summary['retries']} retries.",
        f"Changes: {changes_line(report)}; {summary['eventsSent']} events sent, {summary['eventsFailed']} failed.",
        f"Archived: {run.result['reportUri']}",
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
    lines = [f"The first run's findings: {len(report['findings']):,} (worst first), every one of them new", ""]
    lines += text_table(["Severity", "Type", "Status", "CA", "Count"], rows, {4})
    suppressed = Counter(cas[f["caCertificateId"]].name for f in report["suppressedFindings"])
    lines += [
        f"Suppressed (not alerted, listed apart in the report): {count} of {ca}" for ca, count in suppressed.items()
    ]
    return lines


def show_first_message(published: dict) -> list[str]:
    email = published["Message"]["email"].splitlines()
    return [
        "The first run's message (NOTIFY_ON=changes: everything is new, so it is sent)",
        "",
        f"Subject: {published['Subject']}",
        *email[:3],
        "... (every finding, under 'New since the last run')",
    ]


def show_change(change: Change, cas: dict[str, DemoCa]) -> list[str]:
    name = cas[change.ca_id].name
    return [
        "The fleet changes before the next scheduled run",
        "",
        f"{name}: certificate {change.revoked} revoked (it was ACTIVE)",
        f"{name}: certificate {change.deleted} deleted (it was REVOKED, an open finding)",
    ]


def show_message(published: dict) -> list[str]:
    return [
        "The second run's change-only email, as an email subscriber receives it",
        "",
        f"Subject: {published['Subject']}",
        "",
        *published["Message"]["email"].rstrip("\n").splitlines(),
    ]


def show_events(events: list[dict], cas: dict[str, DemoCa]) -> list[str]:
    rows = [
        [
            event["detail"]["change"],
            event["detail"]["finding"]["severity"],
            finding_name(event["detail"]["finding"]),
            event["detail"]["finding"]["certificateId"],
            cas[event["detail"]["finding"]["caCertificateId"]].name,
        ]
        for event in events
    ]
    lines = [
        f"The events the second run sent: {len(events)}, as the rule delivered them to {EVENT_QUEUE} "
        "(source iot-cert-audit,",
        "detail-type 'IoT Certificate Audit Finding'; detail: change, auditId and the finding)",
        "",
    ]
    return lines + text_table(["Change", "Severity", "Finding", "Certificate ID", "CA"], rows)


def show_archive(result: dict, report: dict, metadata: dict, report_file: Path) -> list[str]:
    objects = boto3.client("s3", region_name=REGION).list_objects_v2(Bucket=REPORT_BUCKET)["Contents"]
    rows = [[o["Key"], o["Size"]] for o in sorted(objects, key=lambda o: o["Key"])]
    lines = [
        f"The second run's archived report: {result['reportUri']}",
        f"Console: {result['reportConsoleUrl']}",
        f"{metadata['ContentType']}, ContentEncoding {metadata['ContentEncoding']}: every finding, untrimmed "
        f"({len(report['findings'])} findings, {len(report['resolvedFindings'])} resolved); "
        f"written to {report_file}.",
        f"Its HTML page: {result.get('reportHtmlUri')}, written to {report_file.with_suffix('.html')}.",
        "",
        f"Objects in {REPORT_BUCKET} (each run's report in every archived format)",
    ]
    return lines + text_table(["Key", "Bytes"], rows, {1})


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
        f"CloudWatch metrics the second run emitted (EMF, namespace {os.environ['POWERTOOLS_METRICS_NAMESPACE']}): "
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
        f"The second run's logs: {len(records)} JSON lines ("
        + ", ".join(f"{message} x{count}" for message, count in counts.items())
        + "); the failed CA's:"
    ]
    keep = ("message", "caCertificateId", "certificatesScanned", "pages", "retries", "error")
    lines += [json.dumps({key: record.get(key) for key in keep}) for record in failed]
    return lines


def check(report: dict, cas: dict[str, DemoCa], fleet=lambda ca: ca.certificates) -> list[str]:
    """The report against the fleet (`fleet(ca)`: a CA's certificates by status): every
    certificate of every CA that could be read."""
    problems = []
    for ca in report["cas"]:
        seeded = cas[ca["caCertificateId"]]
        counted = {status: count for status, count in ca["byStatus"].items() if count}
        if seeded.fails_with:
            if not (ca["error"] and ca["error"]["code"] == seeded.fails_with):
                problems.append(f"{seeded.name}: expected {seeded.fails_with}, got {ca['error']}")
        elif counted != fleet(seeded) or ca["error"]:
            problems.append(f"{seeded.name}: seeded {fleet(seeded)}, reported {counted}, error {ca['error']}")
    if len(report["cas"]) != len(cas):
        problems.append(f"{len(cas)} CAs seeded, {len(report['cas'])} reported")
    return problems


def check_changes(first: dict, second: dict, events: list[dict], change: Change) -> list[str]:
    """The second run against the change: exactly it is new and resolved, sent as events;
    everything else kept its firstSeen."""
    problems = []
    new = [f["certificateId"] for f in second["findings"] if f["isNew"]]
    resolved = [f["certificateId"] for f in second["resolvedFindings"]]
    if (new, resolved) != ([change.revoked], [change.deleted]):
        problems.append(f"second run: new {new}, resolved {resolved}; expected {change.revoked}, {change.deleted}")
    sent = sorted((e["detail"]["change"], e["detail"]["finding"]["certificateId"]) for e in events)
    if sent != [("NEW", change.revoked), ("RESOLVED", change.deleted)]:
        problems.append(f"second run's events: {sent}")
    first_seen = {f["findingId"]: f["firstSeen"] for f in first["findings"]}
    if any(first_seen.get(f["findingId"]) != f["firstSeen"] for f in second["findings"] if not f["isNew"]):
        problems.append("second run: a finding seen before lost its firstSeen")
    return problems


def main(report_file: str = "demo-report.json") -> int:
    target = Path(report_file)
    if not target.parent.is_dir():
        print(f"cert-audit demo: error: folder {str(target.parent)!r} does not exist", file=sys.stderr)
        return 2
    started = time.monotonic()
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
        backend = emulator.iot_backend(REGION)
        cas, certificates = seed(backend)
        topic_arn = boto3.client("sns", region_name=REGION).create_topic(Name=TOPIC_NAME)["TopicArn"]
        event_queue = create_memory()
        store_suppressions(cas)
        os.environ.update(ALERT_TOPIC_ARN=topic_arn, SUPPRESSIONS_PARAMETER=SUPPRESSIONS_PARAMETER, **MEMORY)
        runs = watch_clients(cas)
        try:
            first_run = invoke(runs, REQUEST_IDS[0])
            first_events = received_events(event_queue)
            change = change_fleet(backend, cas, certificates)
            second_run = invoke(runs, REQUEST_IDS[1])
        finally:  # clients of an emulator that is about to end
            handler.clients.cache_clear()
            handler.client.cache_clear()
        first, _ = archived(first_run.result["reportUri"])
        second, metadata = archived(second_run.result["reportUri"])
        second_events = received_events(event_queue)
        published = emulator.published_messages(topic_arn, REGION, ACCOUNT)
        target.write_text(json.dumps(second, indent=2) + "\n", encoding="utf-8")
        page = archived_page(second_run.result.get("reportHtmlUri"))
        if page is not None:  # the page a person opens, as the archive keeps it
            target.with_suffix(".html").write_bytes(page)
        sections = [
            show_fleet(cas),
            show_run("First run, the state table empty", first_run, cas, first),
            show_findings(first, cas),
            show_first_message(published[0]),
            show_change(change, cas),
            show_run("Second run, the next day's schedule", second_run, cas, second),
            show_message(published[-1]),
            show_events(second_events, cas),
            show_archive(second_run.result, second, metadata, target),
            show_metrics(second_run.stdout, cas),
            show_logs(second_run.logs),
        ]
        problems = check(first, cas) + check(second, cas, changed) + check_changes(first, second, second_events, change)
        if len(first_events) != len(first["findings"]):
            problems.append(f"first run: {len(first_events)} events for {len(first['findings'])} new findings")
        if len(published) != 2:
            problems.append(f"{len(published)} messages published, expected one per run")
        if page is None:
            problems.append("the second run archived no HTML report")
    rule = "=" * 100
    print("IoT certificate audit: demo on an embedded AWS emulator (moto), running the real Lambda handler twice\n")
    for number, section in enumerate(sections, 1):
        print("\n".join([rule, f"{number}. {section[0]}", *section[1:], ""]))
    print(rule)
    if problems:
        print("The reports do NOT match the seeded fleet and its change:\n" + "\n".join(f"- {p}" for p in problems))
        return 1
    print(f"Both reports match the seeded fleet and its change. Demo took {time.monotonic() - started:.1f} s.")
    page_file = target.with_suffix(".html").resolve()
    print(f"Report page {second_run.result['reportHtmlUri']} written to {page_file}: open {page_file.as_uri()}")
    print(f"Archived report {second_run.result['reportUri']} written to {target}")
    return 0
