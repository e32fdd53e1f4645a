"""The certificate inventory (issue 13): what each device certificate's PEM says, described once and kept.

ListCertificatesByCA gives a certificate's status and creation date only. Its validity, key and
signature come from DescribeCertificate, one call per certificate against its own quota (10
requests/s by default: a million certificates take about 28 hours). None of that ever changes
for a certificate, so it is cached in DynamoDB (INVENTORY_TABLE_NAME, one item per
`certificateId`) and asked for once:

1. `open_inventory` reads the whole cache (one Scan, page by page) before the scan.
2. While the scan lists pages, `watching(iot)` hands each page to `observe`: a cached certificate
   is checked at once (with its status of today, from the listing: expiry and key checks apply
   to ACTIVE certificates only); an uncached one is described at once, beside the scan, each
   once, by DESCRIBE_WORKERS threads at INVENTORY_RATE_LIMIT, for INVENTORY_TIME_BUDGET_SECONDS
   from the scan's start and within the run's deadline. DescribeCertificate has its own quota and
   its own rate limiter here, so the listing's rate and time are untouched; and the describes
   happen in the invocation that listed the page, which a run continued over several
   invocations (continuation.py), whose scans end at their deadline, needs.
3. `complete(scans)`, after the scan: the attachments of flagged certificates (attachments.py,
   in at most half the budget), waits for the describes, writes the new and refreshed entries
   (BatchWriteItem), and adds the findings to their CA's scan, where suppressions and
   findingIds apply as to any finding.
4. `annotate(report)` adds the coverage (`summary.inventory`) and any run error (source
   `inventory`). A continued run keeps its counts between invocations in a progress item of the
   table (PROGRESS_PREFIX + auditId), so its coverage is the whole run's.

Entries of deleted certificates expire (TTL `expiresAt`): an entry lives CACHE_RETENTION_DAYS
and a listed certificate whose entry has less than REFRESH_WITHIN_DAYS left is written again,
so a certificate still listed never expires (about one write per entry every two months), and
one nobody lists any more (deleted) is gone within CACHE_RETENTION_DAYS. A run that does not
list a certificate (a failed CA, another scope) deletes nothing.

Why its own table rather than items in the state table: the state table is read whole every
run to find what changed and must stay the size of the open findings (bench: 106,000 read
units a run at a million); the inventory is the size of the fleet, has its own lifecycle (TTL)
and is rebuilt from IoT if lost, so it needs no point-in-time recovery.
"""

from __future__ import annotations

import functools
import json
import math
import threading
from collections import Counter, defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

import boto3

from cert_audit import calls
from cert_audit.account_scan import scan_account
from cert_audit.attachments import look_up
from cert_audit.aws import Iot, MalformedResponse, PageGuard, error_of, make_client
from cert_audit.calls import Deadline, RateLimiter, Stopped, call, error_code, send_in_batches
from cert_audit.config import AuditConfig
from cert_audit.findings import certificate_findings, worst_first
from cert_audit.observability import logger
from cert_audit.report import add_error
from cert_audit.scan import scan_cas
from cert_audit.x509 import MISSING as x509_missing
from cert_audit.x509 import UNKNOWN, UnreadablePem, parse_pem

CACHE_RETENTION_DAYS = 90
REFRESH_WITHIN_DAYS = 30
DESCRIBE_WORKERS = 4  # enough calls in flight to keep the rate at ~100 ms a call
WRITE_BATCH = 25  # BatchWriteItem's limit
WRITERS = 2
# Seconds of the run's time reserve (60 s direct, 120 s continued) the cache's writes may use past the
# scan's deadline: one attempt's worth (calls.ATTEMPT_MAX_S), the reserve's other 45 s left to the report.
WRITE_GRACE_S = 15
FORECAST_MONTHS = 12
SOURCE = "inventory"


class Entry(NamedTuple):
    """One cached certificate: x509.Details' fields, its CA (None: no registered CA) and the
    entry's expiry (epoch seconds, the table's TTL attribute)."""

    ca_certificate_id: str | None
    key_type: str
    key_size: int
    signature_hash: str
    not_before: int
    not_after: int
    issuer: str
    expires_at: int


@dataclass
class _Stats:
    retries: int = 0
    throttles: int = 0


@dataclass(frozen=True)
class WatchedIot(Iot):
    """The scan's Iot, handing every listed page to the inventory as well (scan.py is unchanged)."""

    watcher: Callable[[str, list, threading.Event], None] | None = None

    def certificate_page(self, ca_certificate_id, page_size, marker, stats):
        certificates, next_marker = super().certificate_page(ca_certificate_id, page_size, marker, stats)
        if self.watcher:
            self.watcher(ca_certificate_id, certificates, self.deadline.interrupted)
        return certificates, next_marker


@dataclass
class Inventory:
    """One run's use of the inventory; `on` is False when it is not configured or could not be read."""

    config: AuditConfig
    now: datetime
    deadline: Deadline
    iot_client: object = None
    dynamodb: object = None
    on: bool = False
    cache: dict[str, Entry] = field(default_factory=dict)
    capacity: int = 0  # describes this run's budget could make at most
    pending: dict[str, tuple[str, dict]] = field(default_factory=dict)  # id -> (CA of the listing, certificate)
    listed: int = 0
    uncached: int = 0
    described: int = 0
    gone: int = 0  # deleted between the listing and the describe
    failed: int = 0
    unreadable_pems: int = 0
    malformed_entries: int = 0
    refresh: dict[str, Entry] = field(default_factory=dict)
    findings: dict[str, list[dict]] = field(default_factory=lambda: defaultdict(list))
    forecast: Counter = field(default_factory=Counter)  # "YYYY-MM" -> ACTIVE certificates expiring then
    by_key: Counter = field(default_factory=Counter)  # "RSA-2048" -> ACTIVE certificates
    by_hash: Counter = field(default_factory=Counter)  # "SHA256" -> ACTIVE certificates

    @functools.cached_property
    def forecast_end(self) -> datetime:
        """The end of the renewal forecast's window, once a run rather than once a certificate."""
        return _months_later(self.now, FORECAST_MONTHS)

    attachments_looked_up: int = 0
    run_id: str | None = None  # a continued run's auditId: its counts are kept between invocations
    previous: dict = field(default_factory=dict)  # the counts of the run's earlier invocations
    write_deadline: Deadline | None = None  # for the cache's writes (None: the scan's, plus WRITE_GRACE_S)
    # The describes, beside the scan: their pool, rate, budget, results, and the scan's Ctrl-C.
    pool: ThreadPoolExecutor | None = None
    limiter: RateLimiter | None = None
    describe_budget: Deadline | None = None
    new: dict[str, Entry] = field(default_factory=dict)
    describe_failures: list[Exception] = field(default_factory=list)
    scan_interrupted: threading.Event | None = None
    errors: list[dict] = field(default_factory=list)
    stats: _Stats = field(default_factory=_Stats)
    lock: threading.Lock = field(default_factory=threading.Lock)

    # -- 1. the cache -------------------------------------------------------------------------

    def load(self) -> None:
        guard = PageGuard(f"Scan of {self.config.inventory_table}", "LastEvaluatedKey")
        request = {"TableName": self.config.inventory_table}
        while True:
            page = call(self.dynamodb.scan, self.deadline, **request)
            items = page.get("Items", [])
            if not isinstance(items, list):
                raise MalformedResponse("Scan answered with Items that are not a list")
            for item in items:
                if self._progress(item):
                    continue
                certificate_id, entry = _entry_of(item)
                if entry is None:
                    self.malformed_entries += 1  # described again and written over
                else:
                    self.cache[certificate_id] = entry
            if "LastEvaluatedKey" not in page:
                return
            guard.follow(repr(sorted(page["LastEvaluatedKey"].items())))
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _progress(self, item: object) -> bool:
        """Whether the item is a run's progress (a continued run's counts so far, see below); this
        run's is kept."""
        key = item.get("certificateId") if isinstance(item, dict) else None
        key = key.get("S") if isinstance(key, dict) else None
        if not isinstance(key, str) or not key.startswith(PROGRESS_PREFIX):
            return False
        if self.run_id and key == PROGRESS_PREFIX + self.run_id:
            try:
                self.previous = json.loads(item["progress"]["S"])
            except (KeyError, TypeError, ValueError):
                self.previous = {}  # unreadable: this run's coverage counts from here
        return True

    # -- 2. while the scan lists --------------------------------------------------------------

    def watching(self, iot: Iot) -> Iot:
        if not self.on:
            return iot
        return WatchedIot(iot.client, iot.limiter, iot.deadline, watcher=self.observe)

    def scan(self, iot: Iot, ca_ids: list[str], config: AuditConfig, now: datetime, on_page=None, resume=None) -> list:
        """The scan of the configured scope: the CAs' certificates (scan_cas, watched; `resume` as
        scan_cas takes it), or with AUDIT_SCOPE=account every certificate of the account
        (account_scan; a run continued over several invocations audits the CAs' certificates)."""
        if config.scope == "account" and resume is None:
            return scan_account(iot, ca_ids, config, now, self, on_page)
        if config.scope == "account":
            self._told(
                "ScopeNotSupported",
                "AUDIT_SCOPE=account is not supported yet in a run the state machine continues over several "
                "invocations; this run audited the registered CAs' certificates (an on-demand invocation of the "
                "function audits the whole account)",
            )
        return scan_cas(self.watching(iot), ca_ids, config, now, on_page, resume=resume)

    def ca_of(self, certificate: object) -> str | None:
        """The CA a listed certificate was issued under, as the cache knows it (None: unknown or none)."""
        certificate_id = certificate.get("certificateId") if isinstance(certificate, dict) else None
        entry = self.cache.get(certificate_id) if isinstance(certificate_id, str) else None
        return entry.ca_certificate_id if entry else None

    def observe(self, ca_certificate_id: str, certificates: list, interrupted: threading.Event | None = None) -> None:
        """One listed page. Never raises: a problem here must not cost the CA its scan."""
        if not self.on:
            return
        self.scan_interrupted = interrupted or self.scan_interrupted
        try:
            with self.lock:
                for certificate in certificates:
                    if _usable(certificate):
                        self._observe_one(ca_certificate_id, certificate)
        except Exception as problem:  # noqa: BLE001 - told in the report, the scan goes on
            self._error(problem, "A listed page could not be checked against the inventory")

    def _observe_one(self, ca_certificate_id: str, certificate: dict) -> None:
        certificate_id = certificate["certificateId"]
        self.listed += 1
        entry = self.cache.get(certificate_id)
        if entry is None:
            self.uncached += 1
            self._queue(certificate_id, ca_certificate_id, certificate)
            return
        self._check(ca_certificate_id, certificate, entry)
        if entry.expires_at - self.now.timestamp() < REFRESH_WITHIN_DAYS * 86400:
            self.refresh[certificate_id] = entry._replace(expires_at=self._expiry())

    def _check(self, ca_certificate_id: str, certificate: dict, entry: Entry) -> None:
        self.findings[ca_certificate_id] += certificate_findings(
            certificate, ca_certificate_id, entry, self.now, self.config.thresholds
        )
        if certificate["status"] != "ACTIVE":
            return
        self.by_key[f"{entry.key_type}-{entry.key_size}" if entry.key_type != UNKNOWN else UNKNOWN] += 1
        self.by_hash[entry.signature_hash] += 1
        expires = datetime.fromtimestamp(entry.not_after, UTC)
        if self.now <= expires < self.forecast_end:
            self.forecast[expires.strftime("%Y-%m")] += 1

    # -- 3. after the scan: attachments, the describes' end, the writes ---------------------------

    def complete(self, scans: list) -> None:
        """Look up what is still attached to flagged certificates (at most half the budget), describe
        what the rest of it allows, write the new entries, hand the findings to their CAs."""
        if not self.on:
            return
        interrupted = self.scan_interrupted is not None and self.scan_interrupted.is_set()  # Ctrl-C in the CLI
        flagged = [] if interrupted else worst_first([finding for scan in scans for finding in scan.findings])
        self.attachments_looked_up, failures = look_up(
            self.iot_client, flagged, self._budget(self.config.inventory_time_budget_s / 2), self.limiter, self.stats
        )
        if failures:
            error = error_of(failures[0])
            self._told(
                error["code"],
                f"{len(failures)} attachment lookups (ListPrincipalThingsV2, ListAttachedPolicies) failed "
                f"(first: {error['message']}); those findings say nothing of their attachments",
            )
        new = self._finish_describing()
        progress = [_progress_item(self.run_id, self._totals())] if self.run_id else []
        self._write({**self.refresh, **new}, progress)
        by_ca = {scan.ca_certificate_id: scan for scan in scans}
        for ca_certificate_id, findings in self.findings.items():
            scan = by_ca.get(ca_certificate_id)
            if scan is not None:
                scan.findings += findings

    def _budget(self, seconds: float) -> Deadline:
        ends = calls.clock() + seconds
        outer = self.deadline
        # Each worker may start an attempt just before the deadline: the run's time reserve holds one
        # attempt under way (calls.ATTEMPT_MAX_S), so the describes stop early enough for all of them.
        in_flight = calls.ATTEMPT_MAX_S * (DESCRIBE_WORKERS - 1)
        return Deadline(
            lambda: min(outer.seconds_left() - in_flight, ends - calls.clock()),
            f"the inventory's time budget ({self.config.inventory_time_budget_s} s, INVENTORY_TIME_BUDGET_SECONDS) "
            "or the run's deadline was reached; the rest is described by the next runs",
            outer.interrupted,
        )

    def _start_describing(self, budget: Deadline, limiter: RateLimiter) -> None:
        self.describe_budget, self.limiter = budget, limiter
        self.pool = ThreadPoolExecutor(max_workers=DESCRIBE_WORKERS, thread_name_prefix="describe")

    def _queue(self, certificate_id: str, ca_certificate_id: str, certificate: dict) -> None:
        """Describe it now, beside the scan (DescribeCertificate has its own quota), each once."""
        if certificate_id in self.pending or len(self.pending) >= self.capacity or self.pool is None:
            return
        self.pending[certificate_id] = (ca_certificate_id, certificate)
        self.pool.submit(self._describe_one, certificate_id, ca_certificate_id, certificate)

    def _describe_one(self, certificate_id: str, ca_certificate_id: str, certificate: dict) -> None:
        budget = self.describe_budget
        if budget.stop_reason() or (self.scan_interrupted and self.scan_interrupted.is_set()):
            return
        try:
            response = call(
                self.iot_client.describe_certificate,
                budget,
                limiter=self.limiter,
                stats=self.stats,
                certificateId=certificate_id,
            )
            entry = self._entry_from(response)
        except Stopped:
            return
        except (AttributeError, TypeError, ValueError) as problem:  # botocore tripped over the answer's shape
            with self.lock:
                self.failed += 1
                self.describe_failures.append(MalformedResponse(f"DescribeCertificate: unreadable answer ({problem})"))
            return
        except Exception as problem:  # noqa: BLE001 - one certificate's failure costs no other
            with self.lock:
                if error_code(problem) == "ResourceNotFoundException":
                    self.gone += 1
                else:
                    self.failed += 1
                    self.describe_failures.append(problem)
            return
        with self.lock:
            self.new[certificate_id] = entry
            self.cache[certificate_id] = entry
            self.described += 1
            self._check(ca_certificate_id, certificate, entry)

    def _finish_describing(self) -> dict[str, Entry]:
        """Wait for the describes under way (each stops at the budget), say what failed."""
        if self.pool is not None:
            self.pool.shutdown(wait=True)
            self.pool = None
        if self.describe_failures:
            error = error_of(self.describe_failures[0])
            self._told(
                error["code"],
                f"{self.failed} DescribeCertificate calls failed (first: {error['message']}); "
                "those certificates are described again by the next run",
            )
        return self.new

    def _describe_pending(self, budget: Deadline, limiter: RateLimiter) -> dict[str, Entry]:
        """Describe what is pending now and wait for it (the benchmark's entry point)."""
        self._start_describing(budget, limiter)
        for certificate_id, (ca_certificate_id, certificate) in list(self.pending.items()):
            self.pool.submit(self._describe_one, certificate_id, ca_certificate_id, certificate)
        return self._finish_describing()

    def _entry_from(self, response: dict) -> Entry:
        description = response.get("certificateDescription") if isinstance(response, dict) else None
        if not isinstance(description, dict) or not isinstance(description.get("certificateId"), str):
            raise MalformedResponse("DescribeCertificate answered without a certificateDescription")
        ca = description.get("caCertificateId")
        ca = ca.lower() if isinstance(ca, str) and ca else None
        try:
            details = parse_pem(description.get("certificatePem"))
        except UnreadablePem:
            details = None
        if details:
            return Entry(
                ca,
                details.key_type,
                details.key_size,
                details.signature_hash,
                details.not_before,
                details.not_after,
                details.issuer,
                self._expiry(),
            )
        # What the API says of the validity, when the PEM cannot tell: expiry is still checked.
        validity = description.get("validity")
        not_after = validity.get("notAfter") if isinstance(validity, dict) else None
        if not isinstance(not_after, datetime):
            raise MalformedResponse("DescribeCertificate answered with neither a readable PEM nor a validity")
        not_before = validity.get("notBefore")
        with self.lock:
            self.unreadable_pems += 1
        return Entry(
            ca,
            UNKNOWN,
            0,
            UNKNOWN,
            int(not_before.timestamp()) if isinstance(not_before, datetime) else 0,
            int(not_after.timestamp()),
            "",
            self._expiry(),
        )

    def _write(self, entries: dict[str, Entry], items: list[dict] = ()) -> None:
        table = self.config.inventory_table
        requests = [{"PutRequest": {"Item": _item(certificate_id, e)}} for certificate_id, e in entries.items()]
        requests += [{"PutRequest": {"Item": item}} for item in items]
        if not requests:
            return

        # The writes may take a little of the time reserve after the scan's deadline (which a stopped
        # scan has reached): what was described must not be lost for want of a few seconds.
        outer = self.deadline
        deadline = self.write_deadline or Deadline(
            lambda: outer.seconds_left() + WRITE_GRACE_S, outer.reason, outer.interrupted
        )

        def write(batch: list[dict]) -> list[dict]:
            response = call(self.dynamodb.batch_write_item, deadline, RequestItems={table: batch})
            return response.get("UnprocessedItems", {}).get(table, [])

        left, problem = send_in_batches(write, requests, WRITE_BATCH, WRITERS, deadline)
        if left:
            code = error_of(problem)["code"] if problem else "UnprocessedItems"
            detail = f" ({error_of(problem)['message']})" if problem else ""
            self._told(
                code,
                f"{len(left)} of {len(requests)} inventory entries were not written{detail}; "
                "new ones are described again by the next run",
            )

    def _expiry(self) -> int:
        return int((self.now + timedelta(days=CACHE_RETENTION_DAYS)).timestamp())

    # -- 4. the report ------------------------------------------------------------------------

    def _totals(self) -> dict:
        """This invocation's counts, added to those of the run's earlier invocations (a continued run)."""
        own = {
            "listed": self.listed,
            "uncached": self.uncached,
            "described": self.described,
            "failed": self.failed,
            "unreadablePems": self.unreadable_pems,
            "throttles": self.stats.throttles,
            "attachments": self.attachments_looked_up,
            "byKey": dict(self.by_key),
            "byHash": dict(self.by_hash),
            "forecast": dict(self.forecast),
        }
        totals = {}
        for name, value in own.items():
            earlier = self.previous.get(name)
            if isinstance(value, dict):
                merged = Counter(earlier if isinstance(earlier, dict) else {})
                merged.update(value)
                totals[name] = dict(merged)
            else:
                totals[name] = value + (earlier if isinstance(earlier, int) else 0)
        return totals

    def coverage(self) -> dict:
        totals = self._totals()
        described = totals["listed"] - totals["uncached"] + totals["described"]
        remaining = totals["listed"] - described
        if remaining <= 0:
            runs = 0
        elif totals["described"]:
            runs = math.ceil(remaining / totals["described"])
        else:
            runs = None  # nothing described this run: no pace to tell from
        forecast = totals["forecast"]
        return {
            "described": described,
            "total": totals["listed"],
            "describedThisRun": totals["described"],
            "remaining": remaining,
            "runsToComplete": runs,
            "failed": totals["failed"],
            "unreadablePems": totals["unreadablePems"],
            "throttles": totals["throttles"],
            "attachmentsLookedUp": totals["attachments"],
            "activeByKey": dict(sorted(totals["byKey"].items())),
            "activeBySignatureHash": dict(sorted(totals["byHash"].items())),
            "activeExpiringByMonth": {month: forecast.get(month, 0) for month in _months(self.now, FORECAST_MONTHS)},
        }

    def annotate(self, report: dict, with_errors: bool = True) -> dict:
        """The report with the coverage (summary.inventory) and, unless they were handed over as
        run errors already (`run_errors`, a continued run), the inventory's errors."""
        report["summary"]["inventory"] = self.coverage() if self.on else None
        for error in self.errors if with_errors else ():
            add_error(report, SOURCE, error["code"], error["message"])
        return report

    def run_errors(self) -> list[dict]:
        """The inventory's errors as run errors ({"source": "inventory", ...})."""
        return [{"source": SOURCE, **error} for error in self.errors]

    def _error(self, problem: Exception, consequence: str) -> None:
        error = error_of(problem)
        self._told(error["code"], f"{error['message']}. {consequence}")

    def _told(self, code: str, message: str) -> None:
        self.errors.append({"code": code, "message": message})
        logger.error("Inventory step failed", extra={"error": {"code": code, "message": message}})


_session: list[boto3.Session] = []  # the CLI's (profile and region); the function uses the default


def use_session(session: boto3.Session) -> None:
    """Read the cache with this session's credentials (the CLI's --profile)."""
    _session[:] = [session]
    dynamodb_client.cache_clear()


@functools.cache
def dynamodb_client(region: str):
    """The cache's DynamoDB client, made once per container (and region) and reused by warm invocations."""
    return make_client("dynamodb", _session[0] if _session else boto3.Session(region_name=region))


def open_inventory(
    iot_client,
    config: AuditConfig,
    now: datetime,
    deadline: Deadline,
    dynamodb=None,
    run_id: str | None = None,
    write_deadline: Deadline | None = None,
) -> Inventory:
    """The run's inventory, its cache read; off (and a run error) when the cache cannot be read,
    since describing without it would describe certificates a second time. `run_id`: a run that
    goes on over several invocations, whose coverage adds up its invocations'."""
    inventory = Inventory(config, now, deadline, iot_client, run_id=run_id, write_deadline=write_deadline)
    if not config.inventory_table:
        return inventory
    inventory.capacity = math.ceil(config.inventory_rate_limit * config.inventory_time_budget_s)
    if x509_missing:  # without a PEM parser every certificate would be cached as unreadable
        inventory._told("ImportError", f"cryptography is not importable ({x509_missing}); the inventory did not run")
        return inventory
    try:
        inventory.dynamodb = dynamodb or dynamodb_client(iot_client.meta.region_name)
        inventory.load()
        inventory.on = True
        # The describes start with the scan, on DescribeCertificate's own quota and rate.
        budget = inventory._budget(config.inventory_time_budget_s)
        inventory._start_describing(budget, RateLimiter(config.inventory_rate_limit))
    except Exception as problem:  # noqa: BLE001 - the audit goes on without the inventory's checks
        inventory.cache.clear()
        inventory._error(problem, "The inventory's checks did not run and nothing was described")
    return inventory


# A continued run's counts so far, kept in the cache's table between its invocations under this
# key prefix (no certificate ID starts with '#'), gone two days later (TTL).
PROGRESS_PREFIX = "#run/"
PROGRESS_RETENTION_DAYS = 2


def _progress_item(run_id: str, totals: dict) -> dict:
    expires = int((datetime.now(UTC) + timedelta(days=PROGRESS_RETENTION_DAYS)).timestamp())
    return {
        "certificateId": {"S": PROGRESS_PREFIX + run_id},
        "progress": {"S": json.dumps(totals, separators=(",", ":"))},
        "expiresAt": {"N": str(expires)},
    }


def _usable(certificate: object) -> bool:
    return (
        isinstance(certificate, dict)
        and isinstance(certificate.get("certificateId"), str)
        and bool(certificate["certificateId"])
        and isinstance(certificate.get("status"), str)
    )


def _months_later(moment: datetime, months: int) -> datetime:
    year, month = divmod(moment.month - 1 + months, 12)
    return datetime(moment.year + year, month + 1, 1, tzinfo=UTC)


def _months(now: datetime, count: int) -> list[str]:
    """'YYYY-MM' of this month and the next count - 1."""
    return [_months_later(now, n).strftime("%Y-%m") for n in range(count)]


def _item(certificate_id: str, entry: Entry) -> dict:
    item = {
        "certificateId": {"S": certificate_id},
        "keyType": {"S": entry.key_type},
        "keySize": {"N": str(entry.key_size)},
        "signatureHash": {"S": entry.signature_hash},
        "notBefore": {"N": str(entry.not_before)},
        "notAfter": {"N": str(entry.not_after)},
        "expiresAt": {"N": str(entry.expires_at)},
    }
    if entry.issuer:
        item["issuer"] = {"S": entry.issuer}
    if entry.ca_certificate_id:
        item["caCertificateId"] = {"S": entry.ca_certificate_id}
    return item


def _entry_of(item: object) -> tuple[str | None, Entry | None]:
    """(certificateId, Entry) of a cache item, or (id, None) if it is not whole."""
    if not isinstance(item, dict):
        return None, None

    def value(name: str, kind: str):
        attribute = item.get(name)
        return attribute.get(kind) if isinstance(attribute, dict) else None

    certificate_id = value("certificateId", "S")
    try:
        entry = Entry(
            value("caCertificateId", "S"),
            value("keyType", "S"),
            int(value("keySize", "N")),
            value("signatureHash", "S"),
            int(value("notBefore", "N")),
            int(value("notAfter", "N")),
            value("issuer", "S") or "",
            int(value("expiresAt", "N")),
        )
    except (TypeError, ValueError):
        return certificate_id, None
    if not isinstance(certificate_id, str) or not isinstance(entry.key_type, str) or not entry.signature_hash:
        return certificate_id, None
    return certificate_id, entry


def coverage_line(coverage: dict) -> str:
    """The email's sentence on the inventory: how much of the fleet the certificate checks saw."""
    text = (
        f"Inventory: {coverage['described']:,} of {coverage['total']:,} device certificates described "
        "(expiry, key and signature checked)"
    )
    if coverage["runsToComplete"] == 0:
        return text + "."
    if coverage["runsToComplete"] is None:
        return text + "; none could be described this run, so the rest waits for the next runs."
    runs = coverage["runsToComplete"]
    return text + f"; complete in about {runs:,} more run{'s' if runs != 1 else ''}."
