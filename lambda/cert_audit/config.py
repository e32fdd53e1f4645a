"""The function's configuration: environment variables parsed and validated once.

Every problem is collected into one `ConfigError` that names the variable, the bad value
and what is allowed, so a misconfigured deployment fails before any API call.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from cert_audit.findings import Thresholds

# Certificate statuses of the IoT API (botocore's service model, CertificateStatus).
KNOWN_STATUSES = (
    "ACTIVE",
    "INACTIVE",
    "REVOKED",
    "PENDING_TRANSFER",
    "REGISTER_INACTIVE",
    "PENDING_ACTIVATION",
)
DEFAULT_FLAGGED_STATUSES = ("REVOKED", "INACTIVE", "REGISTER_INACTIVE")
ALL_CAS = "*"
NOTIFY_CHOICES = ("findings", "always", "changes")
METRICS_DETAIL_CHOICES = ("ca", "totals")
PAGE_SIZE_MAX = 250  # the API's upper bound for pageSize
SCAN_CONCURRENCY_MAX = 16
# Ten CAs at once keep ten page requests in flight, what the default IoT quota (10 requests/s)
# can take at ~1 s a page; the client's adaptive rate limiter, shared by all threads, backs
# off for all of them when throttled (bench/RESULTS.md: 0 failed CAs, 98% of the quota).
DEFAULT_SCAN_CONCURRENCY = 10
DAYS_MAX = 3652  # ten years, Device Defender's upper bound for its age check
# Half of ListCertificatesByCA's default quota (10 requests/s per account and region), which
# provisioning, just-in-time registration and operators share with the audit.
DEFAULT_IOT_RATE_LIMIT = 5
IOT_RATE_LIMIT_MAX = 100
# The inventory (issue 13): DescribeCertificate has its own quota (L-FC864907, 10 requests/s by
# default); half of it, as for the listing, leaves the rest to operators and provisioning.
DEFAULT_INVENTORY_RATE_LIMIT = 5
# Seconds a run (each invocation of a continued run) may spend describing certificates, from the
# scan's start, beside it: 300 s at 5/s is 1,500 certificates.
DEFAULT_INVENTORY_TIME_BUDGET_S = 300
INVENTORY_TIME_BUDGET_MAX_S = 840  # the function's 15 minutes less the 60 s time reserve
SCOPE_CHOICES = ("ca", "account")
# Hash names as x509.Details writes them (cryptography's names, upper case, no dash).
SIGNATURE_HASHES = ("MD5", "SHA1", "SHA224", "SHA256", "SHA384", "SHA512", "SHA3224", "SHA3256", "SHA3384", "SHA3512")
# What an on-demand invocation's event may carry.
EVENT_KEYS = ("caCertificateIds", "notify")
_TOPIC_ARN = re.compile(r"^arn:(aws[a-z-]*):sns:([a-z0-9-]+):\d{12}:([\w-]+(\.fifo)?)$")

_CA_ID = re.compile(r"^[0-9a-f]{64}$")


class ConfigError(ValueError):
    """The configuration (or an on-demand event) is invalid; the message says how to fix it."""


@dataclass(frozen=True)
class AuditConfig:
    ca_certificate_ids: tuple[str, ...]  # empty = every CA in the account and region
    alert_topic_arn: str | None
    flagged_statuses: frozenset[str]
    notify_on: str = "findings"
    page_size: int = PAGE_SIZE_MAX
    scan_concurrency: int = DEFAULT_SCAN_CONCURRENCY
    metrics_detail: str = "ca"
    ca_expiry_warning_days: int = 90
    max_certificate_age_days: int | None = None  # None: the age check is off
    suppressions_parameter: str | None = None
    iot_rate_limit: int = DEFAULT_IOT_RATE_LIMIT  # IoT requests per second, all calls together
    run_lock_table: str | None = None  # DynamoDB table that keeps two runs from overlapping
    state_table: str | None = None  # DynamoDB table of the open findings (the memory of past runs)
    report_bucket: str | None = None  # S3 bucket that archives every run's full report
    event_bus: str | None = None  # EventBridge bus that gets one event per new and resolved finding
    # The certificate inventory (issue 13): the DynamoDB cache of DescribeCertificate (None: off),
    # its own rate (DescribeCertificate's quota is its own) and time budget, the checks' thresholds.
    inventory_table: str | None = None
    inventory_rate_limit: int = DEFAULT_INVENTORY_RATE_LIMIT
    inventory_time_budget_s: int = DEFAULT_INVENTORY_TIME_BUDGET_S
    thresholds: Thresholds = field(default_factory=Thresholds)
    scope: str = "ca"  # "account": every certificate of the account (ListCertificates), not only the CAs'
    # Security Hub (issue 11): import the findings (securityhub.py); needs the state table, which
    # remembers what Security Hub was given.
    security_hub: bool = False

    @property
    def all_cas(self) -> bool:
        return not self.ca_certificate_ids


def parse_ca_ids(values: Iterable[str], source: str) -> tuple[str, ...]:
    """Normalise CA IDs (trimmed, lower-case, de-duplicated in order); raise on a malformed one."""
    ids: list[str] = []
    for raw in values:
        ca_id = raw.strip().lower()
        if not _CA_ID.match(ca_id):
            raise ConfigError(
                f"{source}: {raw!r} is not a CA certificate ID; expected 64 hexadecimal characters "
                "(the caCertificateId shown by `aws iot list-ca-certificates`)"
            )
        if ca_id not in ids:
            ids.append(ca_id)
    return tuple(ids)


def parse_statuses(values: Iterable[str], source: str) -> frozenset[str]:
    statuses = {value.strip().upper() for value in values if value.strip()}
    unknown = sorted(statuses - set(KNOWN_STATUSES))
    if unknown:
        raise ConfigError(f"{source}: unknown status {', '.join(unknown)}; allowed: {', '.join(KNOWN_STATUSES)}")
    if not statuses:
        raise ConfigError(f"{source}: no status given; allowed: {', '.join(KNOWN_STATUSES)}")
    return frozenset(statuses)


def _split(value: str) -> list[str]:
    return [part for part in value.split(",") if part.strip()]


def _int_in_range(name: str, value: str, low: int, high: int) -> int:
    try:
        number = int(value)
    except ValueError:
        number = low - 1
    if not low <= number <= high:
        raise ConfigError(f"{name}: {value!r} is not a whole number from {low} to {high}")
    return number


def _choice(name: str, value: str, choices: tuple[str, ...]) -> str:
    if value.strip().lower() not in choices:
        raise ConfigError(f"{name}: {value!r} is not allowed; choose one of {', '.join(choices)}")
    return value.strip().lower()


# Region name prefixes of the partitions other than `aws` (botocore's endpoints.json).
PARTITION_PREFIXES = {"cn-": "aws-cn", "us-gov-": "aws-us-gov", "us-isob-": "aws-iso-b", "us-iso-": "aws-iso"}


def partition_of(region: str) -> str:
    """The partition a region name belongs to."""
    return next((name for prefix, name in PARTITION_PREFIXES.items() if region.startswith(prefix)), "aws")


def topic_problems(topic: str, region: str) -> list[str]:
    """Why the function could not publish to `topic`, found before the scan instead of after it."""
    match = _TOPIC_ARN.match(topic)
    if not match:
        return [f"ALERT_TOPIC_ARN: {topic!r} is not an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)"]
    partition, topic_region, _, fifo = match.groups()
    if fifo:
        return [
            f"ALERT_TOPIC_ARN: {topic!r} is a FIFO topic, which needs a message group the audit does not send; "
            "use a standard topic"
        ]
    if region and topic_region != region:
        return [
            f"ALERT_TOPIC_ARN: {topic!r} is in {topic_region}, not in the function's region {region}; "
            f"use a topic in {region}"
        ]
    if region and partition != partition_of(region):
        return [f"ALERT_TOPIC_ARN: {topic!r} is in partition {partition}, not {partition_of(region)}"]
    return []


def load_config(env: Mapping[str, str], *, require_topic: bool = True) -> AuditConfig:
    """Build the configuration from environment variables, reporting every problem at once."""
    problems: list[str] = []

    def check(parse, *args):
        try:
            return parse(*args)
        except ConfigError as error:
            problems.append(str(error))
            return None

    raw_cas = env.get("CA_CERTIFICATE_IDS", ALL_CAS).strip()
    ca_ids = () if raw_cas in ("", ALL_CAS) else check(parse_ca_ids, _split(raw_cas), "CA_CERTIFICATE_IDS")
    topic = env.get("ALERT_TOPIC_ARN", "").strip() or None
    if require_topic and not topic:
        problems.append("ALERT_TOPIC_ARN: missing; set it to the ARN of the SNS topic that receives findings")
    elif topic:
        problems += topic_problems(topic, env.get("AWS_REGION", "").strip())
    flagged = check(
        parse_statuses, _split(env.get("FLAGGED_STATUSES", ",".join(DEFAULT_FLAGGED_STATUSES))), "FLAGGED_STATUSES"
    )
    notify_on = check(_choice, "NOTIFY_ON", env.get("NOTIFY_ON", "findings"), NOTIFY_CHOICES)
    page_size = check(_int_in_range, "PAGE_SIZE", env.get("PAGE_SIZE", str(PAGE_SIZE_MAX)), 1, PAGE_SIZE_MAX)
    concurrency = check(
        _int_in_range,
        "SCAN_CONCURRENCY",
        env.get("SCAN_CONCURRENCY", str(DEFAULT_SCAN_CONCURRENCY)),
        1,
        SCAN_CONCURRENCY_MAX,
    )
    detail = check(_choice, "METRICS_DETAIL", env.get("METRICS_DETAIL", "ca"), METRICS_DETAIL_CHOICES)
    warning_days = check(_int_in_range, "CA_EXPIRY_WARNING_DAYS", env.get("CA_EXPIRY_WARNING_DAYS", "90"), 1, DAYS_MAX)
    rate_limit = check(
        _int_in_range,
        "IOT_RATE_LIMIT",
        env.get("IOT_RATE_LIMIT", str(DEFAULT_IOT_RATE_LIMIT)),
        1,
        IOT_RATE_LIMIT_MAX,
    )
    raw_age = env.get("MAX_CERTIFICATE_AGE_DAYS", "").strip()
    max_age = check(_int_in_range, "MAX_CERTIFICATE_AGE_DAYS", raw_age, 1, DAYS_MAX) if raw_age else None
    inventory = check(inventory_settings, env)
    security_hub = check(_security_hub, env)
    if problems:
        raise ConfigError("Invalid configuration: " + "; ".join(problems))
    return AuditConfig(
        ca_certificate_ids=ca_ids,
        alert_topic_arn=topic,
        flagged_statuses=flagged,
        notify_on=notify_on,
        page_size=page_size,
        scan_concurrency=concurrency,
        metrics_detail=detail,
        ca_expiry_warning_days=warning_days,
        max_certificate_age_days=max_age,
        suppressions_parameter=env.get("SUPPRESSIONS_PARAMETER", "").strip() or None,
        iot_rate_limit=rate_limit,
        run_lock_table=env.get("RUN_LOCK_TABLE_NAME", "").strip() or None,
        state_table=env.get("STATE_TABLE_NAME", "").strip() or None,
        report_bucket=env.get("REPORT_BUCKET_NAME", "").strip() or None,
        event_bus=env.get("EVENT_BUS_NAME", "").strip() or None,
        **inventory,
        security_hub=security_hub,
    )


def _security_hub(env: Mapping[str, str]) -> bool:
    """SECURITY_HUB: true or false (default). On, it needs STATE_TABLE_NAME: without the memory
    every run would import every finding again and never archive a resolved one."""
    value = env.get("SECURITY_HUB", "false").strip().lower() or "false"
    if value not in ("true", "false"):
        raise ConfigError(f"SECURITY_HUB: {env['SECURITY_HUB']!r} is not allowed; choose true or false")
    if value == "true" and not env.get("STATE_TABLE_NAME", "").strip():
        raise ConfigError(
            "SECURITY_HUB: true needs STATE_TABLE_NAME, the state table that remembers what Security Hub was "
            "given (the stack sets both); set it, or SECURITY_HUB=false"
        )
    return value == "true"


def parse_hashes(value: str, source: str) -> frozenset[str]:
    """Signature hash names (SHA1, MD5...), comma-separated; empty: no hash is weak."""
    hashes = {part.strip().upper().replace("-", "") for part in value.split(",") if part.strip()}
    if unknown := sorted(hashes - set(SIGNATURE_HASHES)):
        raise ConfigError(f"{source}: unknown hash {', '.join(unknown)}; allowed: {', '.join(SIGNATURE_HASHES)}")
    return frozenset(hashes)


def inventory_settings(env: Mapping[str, str]) -> dict:
    """The inventory's settings (issue 13), every problem in one ConfigError."""
    problems = []

    def number(name: str, default: int, low: int, high: int) -> int | None:
        try:
            return _int_in_range(name, env.get(name, str(default)), low, high)
        except ConfigError as error:
            problems.append(str(error))
            return None

    settings = {
        "inventory_table": env.get("INVENTORY_TABLE_NAME", "").strip() or None,
        "inventory_rate_limit": number("INVENTORY_RATE_LIMIT", DEFAULT_INVENTORY_RATE_LIMIT, 1, IOT_RATE_LIMIT_MAX),
        "inventory_time_budget_s": number(
            "INVENTORY_TIME_BUDGET_SECONDS", DEFAULT_INVENTORY_TIME_BUDGET_S, 0, INVENTORY_TIME_BUDGET_MAX_S
        ),
    }
    thresholds = {
        "expiry_warning_days": number("DEVICE_EXPIRY_WARNING_DAYS", 30, 1, DAYS_MAX),
        "min_rsa_bits": number("MIN_RSA_KEY_BITS", 2048, 1024, 16384),
        "min_ec_bits": number("MIN_EC_KEY_BITS", 256, 160, 521),
    }
    try:
        thresholds["weak_hashes"] = parse_hashes(env.get("WEAK_SIGNATURE_HASHES", "SHA1,MD5"), "WEAK_SIGNATURE_HASHES")
    except ConfigError as error:
        problems.append(str(error))
    try:
        settings["scope"] = _choice("AUDIT_SCOPE", env.get("AUDIT_SCOPE", "ca"), SCOPE_CHOICES)
    except ConfigError as error:
        problems.append(str(error))
    if problems:
        raise ConfigError("; ".join(problems))
    return {**settings, "thresholds": Thresholds(**thresholds)}


def ca_ids_from_event(event: object) -> tuple[str, ...] | None:
    """The CAs an on-demand invocation asks for, or None to audit the configured ones.

    An event from AWS (the schedule's EventBridge event: it has a `source`) is never read for options.
    Any other event is an on-demand request, whose keys must be known: a misspelt key must
    not silently audit everything."""
    if not isinstance(event, dict) or "source" in event:
        return None
    unknown = sorted(str(key) for key in event if key not in EVENT_KEYS)
    if unknown:
        close = [difflib.get_close_matches(key, EVENT_KEYS, n=1) for key in unknown]
        hints = "".join(f" (did you mean {match[0]!r}?)" for match in close if match)
        raise ConfigError(
            f"event: unknown key {', '.join(map(repr, unknown))}{hints}; an on-demand event may carry only "
            f"{', '.join(EVENT_KEYS)}"
        )
    notify_from_event(event)  # every key is checked before anything runs
    if "caCertificateIds" not in event:
        return None
    requested = event["caCertificateIds"]
    if not isinstance(requested, list) or not requested or not all(isinstance(i, str) for i in requested):
        raise ConfigError(
            f"event.caCertificateIds: {requested!r} is not allowed; pass a non-empty list of CA certificate IDs"
        )
    return parse_ca_ids(requested, "event.caCertificateIds")


def notify_from_event(event: object) -> str | None:
    """The event's `notify` (always, changes or findings: NOTIFY_ON for this run), or None."""
    if not isinstance(event, dict) or "source" in event or "notify" not in event:
        return None
    value = event["notify"]
    if not isinstance(value, str) or value.strip().lower() not in NOTIFY_CHOICES:
        raise ConfigError(f"event.notify: {value!r} is not allowed; choose one of {', '.join(NOTIFY_CHOICES)}")
    return value.strip().lower()
