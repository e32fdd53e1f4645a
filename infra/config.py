"""The stack's configuration: CDK context parsed and validated once, before any construct exists.

Values come from cdk.json or `-c key=value` (always strings on the command line), so
lists are accepted as JSON lists or comma-separated strings, booleans as true/false, and
an optional key is off when empty, JSON null or the word null (`-c maxCertificateAgeDays=null`).
For `digestSchedule` and `eventBusName`, which are on by default, a key that is absent takes
the default and a key that is present and null or empty turns the feature off.
Every problem is collected into one `ConfigError` that names the key, the value and what
is allowed. The function's own validators (cert_audit.config) are reused, so the stack
refuses exactly the values the function would refuse at run time.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from cert_audit.config import (
    ALL_CAS,
    DAYS_MAX,
    DEFAULT_FLAGGED_STATUSES,
    DEFAULT_IOT_RATE_LIMIT,
    IOT_RATE_LIMIT_MAX,
    METRICS_DETAIL_CHOICES,
    NOTIFY_CHOICES,
    ConfigError,
    parse_ca_ids,
    parse_statuses,
)
from cert_audit.continuation import MAX_CONTINUATIONS_LIMIT
from infra.constants import TIMEOUT
from infra.heartbeat import HeartbeatWindow, heartbeat_window
from infra.inventory import DEFAULTS as INVENTORY_DEFAULTS
from infra.inventory import InventoryConfig, parse_inventory_context
from infra.schedule import Schedule, check_runs_cannot_overlap, check_schedules_apart, parse_schedule
from infra.suppressions import Suppressions, load_suppressions

# Reports kept in the archive: S3 lifecycle expiry (days after a report is written, and after a
# version stops being current). Ten years at most, like the engine's other day counts.
REPORT_RETENTION_DAYS_MAX = 3650
# An EventBridge bus name as PutEvents' EventBusName takes it (1..256 of these characters);
# "/" appears in partner buses' names (aws.partner/...). An ARN is refused: the stack forms it.
_EVENT_BUS_NAME = re.compile(r"^[/.\-_A-Za-z0-9]{1,256}$")
# Why the digest must come at least weekly: it is what keeps an accepted backlog in view.
DIGEST_SPARSE_REASON = (
    "too rare for the digest that keeps the open findings in view (with notifyOn=changes, the only "
    "email that lists them all); use a weekly or more frequent schedule"
)

# The defaults, also written out in cdk.json for users to read and edit (a test keeps them equal).
DEFAULTS: dict[str, object] = {
    "caCertificateIds": ALL_CAS,
    "alertEmails": [],
    "schedule": "rate(1 day)",
    "flaggedStatuses": list(DEFAULT_FLAGGED_STATUSES),
    "notifyOn": "changes",
    "alarmOnFindings": False,
    "metricsDetail": "ca",
    "runbookUrl": "",
    "caExpiryWarningDays": 90,
    "maxCertificateAgeDays": None,  # None, "" or "null": the age check is off
    "suppressionsFile": None,  # None or "": no suppressions, no parameter
    "iotRateLimit": DEFAULT_IOT_RATE_LIMIT,  # the engine's: half of ListCertificatesByCA's 10 requests/s
    "digestSchedule": "cron(0 8 ? * MON *)",  # Mondays 08:00 UTC; null or "": no digest
    "reportRetentionDays": 365,
    "alarmOnNewFindings": False,
    "eventBusName": "default",  # the account's default bus; null or "": no events
    "securityHub": False,  # import the findings into Security Hub (issue 11, infra/securityhub.py)
    # Invocations a state-machine run may add to its first (issue 12, infra/state_machine.py): each scans
    # up to 13 minutes, so 20 hold about 20 million certificates at the default rate limit (bench/RESULTS.md).
    "maxContinuations": 20,
    **INVENTORY_DEFAULTS,  # the certificate inventory and its checks (issue 13, infra/inventory.py)
}
KNOWN_KEYS = tuple(DEFAULTS)
# On by default, off when given as null or empty (so null cannot mean "the default" for them).
_OFF_WHEN_NULL = ("digestSchedule", "eventBusName")

# Deliberately simple: one @, no spaces or commas, a dot in the domain. SNS sends a
# confirmation mail anyway; this catches the typos and the list-separator mistakes.
_EMAIL = re.compile(r"^[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+$")
_URL = re.compile(r"^https://\S+$")


@dataclass(frozen=True)
class StackConfig:
    ca_certificate_ids: tuple[str, ...]  # empty = every CA in the account and region
    alert_emails: tuple[str, ...]
    schedule: Schedule
    heartbeat: HeartbeatWindow
    flagged_statuses: tuple[str, ...]  # sorted, so the template does not change with set order
    notify_on: str
    alarm_on_findings: bool
    metrics_detail: str
    runbook_url: str  # "" = no link on the dashboard, only the README section's name
    ca_expiry_warning_days: int
    max_certificate_age_days: int | None  # None: the age check is off
    suppressions: Suppressions | None  # None: no suppressions file
    iot_rate_limit: int  # IoT requests per second for the whole run (IOT_RATE_LIMIT)
    digest_schedule: Schedule | None  # None: no digest rule
    report_retention_days: int  # lifecycle expiry of archived reports (current and noncurrent versions)
    alarm_on_new_findings: bool  # alarm when a run has new CRITICAL or HIGH findings
    event_bus_name: str | None  # None: no events (EVENT_BUS_NAME unset, no PutEvents permission)
    security_hub: bool = False  # SECURITY_HUB=true and its two permissions
    max_continuations: int = 20  # the state machine's bound on invocations after a run's first
    inventory: InventoryConfig = InventoryConfig()  # the certificate inventory, its checks and the scope

    @property
    def all_cas(self) -> bool:
        return not self.ca_certificate_ids


def _items(key: str, value: object) -> list[str]:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list | tuple) and all(isinstance(item, str) for item in value):
        return [item.strip() for item in value if item.strip()]
    raise ConfigError(f"{key}: {value!r} is not allowed; give a list of strings or one comma-separated string")


def _ca_ids(value: object) -> tuple[str, ...]:
    items = _items("caCertificateIds", value)
    if items == [ALL_CAS] or not items:
        return ()
    return parse_ca_ids(items, "caCertificateIds")


def _emails(value: object) -> tuple[str, ...]:
    emails: list[str] = []
    for email in _items("alertEmails", value):
        if not _EMAIL.match(email):
            raise ConfigError(
                f"alertEmails: {email!r} is not an email address; give addresses like ops@example.com, "
                "separated by commas"
            )
        if email.lower() not in (known.lower() for known in emails):
            emails.append(email)
    return tuple(emails)


def _choice(key: str, choices: tuple[str, ...]) -> Callable[[object], str]:
    def parse(value: object) -> str:
        text = str(value).strip().lower()
        if text not in choices:
            raise ConfigError(f"{key}: {value!r} is not allowed; choose one of {', '.join(choices)}")
        return text

    return parse


def _flag(key: str) -> Callable[[object], bool]:
    def parse(value: object) -> bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text not in ("true", "false"):
            raise ConfigError(f"{key}: {value!r} is not allowed; choose true or false")
        return text == "true"

    return parse


def _runbook_url(value: object) -> str:
    text = str(value).strip()
    if text and not _URL.match(text):
        raise ConfigError(f"runbookUrl: {value!r} is not allowed; give an https:// URL or leave it empty")
    return text


def _days(key: str, optional: bool = False) -> Callable[[object], int | None]:
    """A whole number of days in the engine's range; "", null or "null" means off when the key is optional."""

    def parse(value: object) -> int | None:
        text = "" if value is None else str(value).strip()
        if optional and text.lower() in ("", "null"):
            return None
        if isinstance(value, bool) or not text.isdigit() or not 1 <= int(text) <= DAYS_MAX:
            off = ", or null (or empty) to turn the check off" if optional else ""
            raise ConfigError(f"{key}: {value!r} is not allowed; give a whole number of days from 1 to {DAYS_MAX}{off}")
        return int(text)

    return parse


def _iot_rate_limit(value: object) -> int:
    text = str(value).strip()
    if isinstance(value, bool) or not text.isdigit() or not 1 <= int(text) <= IOT_RATE_LIMIT_MAX:
        raise ConfigError(
            f"iotRateLimit: {value!r} is not allowed; give a whole number of IoT requests per second from 1 to "
            f"{IOT_RATE_LIMIT_MAX} (default {DEFAULT_IOT_RATE_LIMIT}, half of ListCertificatesByCA's default "
            "quota of 10 per second)"
        )
    return int(text)


def _max_continuations(value: object) -> int:
    text = str(value).strip()
    if isinstance(value, bool) or not text.isdigit() or not 0 <= int(text) <= MAX_CONTINUATIONS_LIMIT:
        raise ConfigError(
            f"maxContinuations: {value!r} is not allowed; give a whole number from 0 to {MAX_CONTINUATIONS_LIMIT}: "
            "how many more invocations a run may take after its first (each scans up to 13 minutes; 0 = one "
            "invocation per run, the rest ScanIncomplete)"
        )
    return int(text)


def _off(value: object) -> bool:
    return value is None or str(value).strip().lower() in ("", "null")


def _digest_schedule(value: object) -> Schedule | None:
    if _off(value):
        return None
    return parse_schedule(value, key="digestSchedule", sparse_reason=DIGEST_SPARSE_REASON)


def _report_retention_days(value: object) -> int:
    text = str(value).strip()
    if isinstance(value, bool) or not text.isdigit() or not 1 <= int(text) <= REPORT_RETENTION_DAYS_MAX:
        raise ConfigError(
            f"reportRetentionDays: {value!r} is not allowed; give a whole number of days from 1 to "
            f"{REPORT_RETENTION_DAYS_MAX} to keep each archived report"
        )
    return int(text)


def _event_bus_name(value: object) -> str | None:
    if _off(value):
        return None
    text = str(value).strip()
    if not _EVENT_BUS_NAME.match(text):
        raise ConfigError(
            f"eventBusName: {value!r} is not allowed; give the name of an EventBridge bus in this account and region "
            "(letters, digits, . - _ /; not an ARN), e.g. default, or null (or empty) to send no events"
        )
    return text


def _typos(context: Mapping[str, object]) -> list[str]:
    """Context keys that look like misspellings of ours. Others (CDK feature flags) pass."""
    problems = []
    by_lower = {key.lower(): key for key in KNOWN_KEYS}
    for key in context:
        if key in DEFAULTS:
            continue
        lowered = key.lower()
        close = [lowered] if lowered in by_lower else difflib.get_close_matches(lowered, by_lower, n=1, cutoff=0.8)
        if close:
            problems.append(
                f"{key}: unknown context key; did you mean {by_lower[close[0]]!r}? Known keys: {', '.join(KNOWN_KEYS)}"
            )
    return problems


def load_stack_config(context: Mapping[str, object]) -> StackConfig:
    """Parse and validate the stack's context, reporting every problem at once."""
    problems = _typos(context)
    parsed: dict[str, object] = {}
    parsers: dict[str, Callable[[object], object]] = {
        "caCertificateIds": _ca_ids,
        "alertEmails": _emails,
        "schedule": parse_schedule,
        "flaggedStatuses": lambda value: tuple(
            sorted(parse_statuses(_items("flaggedStatuses", value), "flaggedStatuses"))
        ),
        "notifyOn": _choice("notifyOn", NOTIFY_CHOICES),
        "alarmOnFindings": _flag("alarmOnFindings"),
        "metricsDetail": _choice("metricsDetail", METRICS_DETAIL_CHOICES),
        "runbookUrl": _runbook_url,
        "caExpiryWarningDays": _days("caExpiryWarningDays"),
        "maxCertificateAgeDays": _days("maxCertificateAgeDays", optional=True),
        "suppressionsFile": load_suppressions,
        "iotRateLimit": _iot_rate_limit,
        "digestSchedule": _digest_schedule,
        "reportRetentionDays": _report_retention_days,
        "alarmOnNewFindings": _flag("alarmOnNewFindings"),
        "eventBusName": _event_bus_name,
        "securityHub": _flag("securityHub"),
        "maxContinuations": _max_continuations,
    }
    for key, parse in parsers.items():
        if key in _OFF_WHEN_NULL:
            value = context[key] if key in context else DEFAULTS[key]
        else:
            value = DEFAULTS[key] if context.get(key) is None else context[key]
        try:
            parsed[key] = parse(value)
        except ConfigError as error:
            problems.append(str(error))
    heartbeat = None
    if "schedule" in parsed:
        timeout = int(TIMEOUT.to_seconds())
        try:
            check_runs_cannot_overlap(parsed["schedule"], timeout)
            heartbeat = heartbeat_window(parsed["schedule"].longest_gap_seconds, timeout)
        except ConfigError as error:
            problems.append(str(error))
    if parsed.get("digestSchedule"):
        # The digest runs a full audit too: the same rule, that no run starts while another may be going.
        timeout = int(TIMEOUT.to_seconds())
        try:
            check_runs_cannot_overlap(parsed["digestSchedule"], timeout)
            if "schedule" in parsed:
                check_schedules_apart(parsed["schedule"], parsed["digestSchedule"], timeout)
        except ConfigError as error:
            problems.append(str(error))
    inventory, inventory_problems = parse_inventory_context(context)
    problems += inventory_problems
    if problems:
        raise ConfigError("Invalid CDK context (cdk.json or -c key=value): " + "; ".join(problems))
    return StackConfig(
        ca_certificate_ids=parsed["caCertificateIds"],
        alert_emails=parsed["alertEmails"],
        schedule=parsed["schedule"],
        heartbeat=heartbeat,
        flagged_statuses=parsed["flaggedStatuses"],
        notify_on=parsed["notifyOn"],
        alarm_on_findings=parsed["alarmOnFindings"],
        metrics_detail=parsed["metricsDetail"],
        runbook_url=parsed["runbookUrl"],
        ca_expiry_warning_days=parsed["caExpiryWarningDays"],
        max_certificate_age_days=parsed["maxCertificateAgeDays"],
        suppressions=parsed["suppressionsFile"],
        iot_rate_limit=parsed["iotRateLimit"],
        digest_schedule=parsed["digestSchedule"],
        report_retention_days=parsed["reportRetentionDays"],
        alarm_on_new_findings=parsed["alarmOnNewFindings"],
        event_bus_name=parsed["eventBusName"],
        security_hub=parsed["securityHub"],
        max_continuations=parsed["maxContinuations"],
        inventory=inventory,
    )
