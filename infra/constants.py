"""Names and sizes of the stack, each with the reason it has that value."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Duration
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs

STACK_NAME = "IoTCertificateAudit"
STACK_DESCRIPTION = "Audits AWS IoT device certificates of registered CAs for REVOKED/INACTIVE/REGISTER_INACTIVE status"

# The engine's defaults (cert_audit.observability); a test keeps the two in step. The
# alarms and the dashboard read the metrics under exactly these names.
SERVICE_NAME = "iot-cert-audit"
METRICS_NAMESPACE = "IoTCertificateAudit"
LOG_LEVEL = "INFO"

# Code root of the function: the folder, not the package (`lambda` is a Python keyword).
LAMBDA_ASSET_DIR = Path(__file__).resolve().parent.parent / "lambda"
HANDLER = "cert_audit.handler.lambda_handler"
# Never shipped: caches, build metadata, and dev-only modules that import moto.
ASSET_EXCLUDES = [
    "**/__pycache__",
    "**/*.pyc",
    "*.egg-info",
    "requirements.txt",
    "cert_audit/emulator.py",
    "cert_audit/demo.py",
]

# The newest Python runtime the public Powertools layer is published for; arm64 because
# the layer exists for it and Graviton costs about 20% less per GB-second than x86_64.
RUNTIME = lambda_.Runtime.PYTHON_3_14
ARCHITECTURE = lambda_.Architecture.ARM_64
# The layer's public SSM parameter (/aws/service/powertools/python/{arch}/{python}/{version}),
# resolved by CloudFormation at deploy time: no account lookup at synth. Pinned to the
# Powertools version that requirements.txt installs for the tests (a test keeps them in
# step), so a redeploy never changes the library under the function without a commit.
POWERTOOLS_VERSION = "3.37.0"
POWERTOOLS_LAYER_PARAMETER = f"/aws/service/powertools/python/arm64/python3.14/{POWERTOOLS_VERSION}"

# From the measurements (bench/RESULTS.md, "Sizing and scale" and "Memory"): the function holds
# the findings and per-CA counters, never the fleet, so memory grows with findings only, about
# 0.86 KB each over a ~75 MB base; comparing them with the state of the last run adds about
# 0.5 KB per open finding while the state is read (a million open findings peaked at 1.4 GB).
# 2048 MB holds a million open findings with room to spare (to about 1.4 million), and gives
# the diff and the archive, which are CPU-bound and run in the time reserve, a full vCPU.
MEMORY_MB = 2048
# Lambda's maximum, so a large fleet gets every second there is. The engine stops asking
# for pages 60 s before the timeout (TIME_RESERVE_MS) to report what it has, so a run
# that cannot finish still reports and still publishes its findings.
TIMEOUT = Duration.minutes(15)
# One run at a time: an overlapping run would double the IoT request rate (the quota is
# per account) and publish a second, overlapping report. Not reserved concurrency: a
# reservation of 1 fails to deploy in a new account whose concurrency quota is 10 (Lambda
# keeps 10 unreserved), so the function takes a lock item in a DynamoDB table instead
# (RUN_LOCK_TABLE_NAME): a run that finds it held by a live run skips (metric SkippedRuns).
# The item's expiresAt is the end of the holder's invocation, so a crashed run's lock lapses
# by the next run; DynamoDB's TTL deletes it later (within days), the function's condition
# on expiresAt is what frees it on time.
RUN_LOCK_PARTITION_KEY = "lockId"
RUN_LOCK_TTL_ATTRIBUTE = "expiresAt"
# The memory of issue 10 (cert_audit's names): the table of open findings, keyed by the
# finding's stable ID, and the prefix under which every run's full report is archived
# (reports/YYYY/MM/DD/<auditId>.json.gz and .csv.gz). The function may write under it only.
STATE_PARTITION_KEY = "findingId"
REPORTS_PREFIX = "reports/"
# The engine's severities, as the `Severity` dimension of NewFindings; the optional alarm
# sums the new findings of these.
ALARMED_SEVERITIES = ("CRITICAL", "HIGH")

# Long enough to compare this quarter's audit lines with the last one; short enough that
# per-CA scan lines (one per CA per run) do not pile up storage cost for years.
LOG_RETENTION = logs.RetentionDays.THREE_MONTHS

# Retries for an invocation EventBridge could not deliver (throttled, service error).
# A missed run is caught by the heartbeat alarm anyway; two tries within an hour cover
# the transient cases, and a late run that meets a live one only skips (the run lock).
SCHEDULE_RETRY_ATTEMPTS = 2
SCHEDULE_MAX_EVENT_AGE = Duration.hours(1)
# Lambda's own retries of an asynchronous invocation that failed in the function: one
# retry rides out a transient SNS/IoT error; a run that fails twice goes to the DLQ.
ASYNC_RETRY_ATTEMPTS = 1
# How long an asynchronous event (schedule or `aws lambda invoke --invocation-type Event`)
# may wait in Lambda's queue, retries included, before it goes to the DLQ instead of running.
# Lambda's default is 6 hours: without reserved concurrency a throttled account could then
# start a daily audit hours late, near the next one. One hour, like the schedule's own
# bound, still covers the retry of a run that failed at the 15-minute timeout (Lambda waits
# a minute or two before retrying); an older event is dead-lettered, and the next
# scheduled run (or the heartbeat alarm) takes over.
ASYNC_MAX_EVENT_AGE = Duration.hours(1)
# Long enough to read a failed event after a weekend; SQS's maximum is 14 days.
DLQ_RETENTION = Duration.days(14)

# Alarm period for the "something went wrong in a run" alarms: one run's data point
# lands in one period, so a failing run alerts within minutes and the alarm clears itself.
ALARM_PERIOD = Duration.minutes(5)
# Period of the CA expiry alarm (a Metrics Insights query): within the 3 hours such an
# alarm may look back, and long enough that one run's data point, however late it is
# ingested, falls in a period the alarm evaluates.
CA_EXPIRY_ALARM_PERIOD = Duration.hours(1)
# The dashboard's graphs never aggregate finer than this or coarser than a day.
DASHBOARD_MIN_PERIOD = Duration.minutes(5)
DASHBOARD_MAX_PERIOD = Duration.days(1)
