"""What changed since the last run: new, resolved and ongoing findings. Pure: no AWS calls.

The open findings of earlier runs come as records (from the state table, or from a
baseline report in the CLI): {"findingId", "firstSeen", "caCertificateId", "type",
"suppressed", "finding"}. A finding is resolved only where this run could see it was gone
(`Scope.can_see_gone`): a CA that failed or stopped early keeps its open findings open,
never resolved and never new again. Suppressed findings are remembered too, so a lapsed
suppression brings a finding back with its first `firstSeen`, but they are never new or
resolved themselves.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable
from dataclasses import dataclass, field

from cert_audit.config import ALL_CAS
from cert_audit.findings import CA_EXPIRED, CA_EXPIRING, worst_first
from cert_audit.report import FINDING_FIELDS

# CA-level findings that need only the CA's description to be seen gone; every other finding
# needs its CA scanned to the end (CA_NOT_ACTIVE counts the CA's ACTIVE certificates).
DESCRIBE_ONLY = (CA_EXPIRING, CA_EXPIRED)
# Fields of a finding whose change is written to the state (so a resolved finding is reported
# as it last was), while it stays the same open finding. Not the reason or the day counts,
# which change every day for an age or expiry finding: writes must scale with changes.
TRACKED = ("status", "severity")


@dataclass(frozen=True)
class Scope:
    """What this run saw to the end."""

    audited: frozenset[str]  # CAs this run looked at
    complete: frozenset[str]  # CAs scanned to the end without error
    described: frozenset[str]  # CAs whose DescribeCACertificate answered
    every_ca_listed: bool  # the run audited every CA and listed them all: an unlisted CA is gone

    def can_see_gone(self, record: dict) -> bool:
        ca = record["caCertificateId"]
        if ca is None or record["type"] is None:  # an unreadable record: where it was is unknown
            return False
        if ca not in self.audited:
            return self.every_ca_listed
        return ca in (self.described if record["type"] in DESCRIBE_ONLY else self.complete)


@dataclass
class Changes:
    new: list[dict] = field(default_factory=list)  # findings first seen in this run
    resolved: list[dict] = field(default_factory=list)  # open before, gone now, each with resolvedAt
    ongoing: int = 0  # open before and still open (seen again, or their CA could not be checked)
    oldest: str | None = None  # the earliest firstSeen of the open findings
    writes: list[dict] = field(default_factory=list)  # records to put in the state
    deletes: list[str] = field(default_factory=list)  # findingIds to delete from the state
    # For Security Hub (securityhub.py), with `refresh_before` given: open findings whose record is
    # unchanged but was never imported or last imported before then, as (lastImported or "", findingId);
    # findings whose suppression ended in this run; suppressed findings that are gone.
    stale: list[tuple[str, str]] = field(default_factory=list)
    unsuppressed: list[str] = field(default_factory=list)
    gone_suppressed: list[dict] = field(default_factory=list)

    def see_open_since(self, first_seen: str | None) -> None:
        """Keep the earliest firstSeen of the open findings (a running minimum: no list of a
        million dates)."""
        if first_seen and (self.oldest is None or first_seen < self.oldest):
            self.oldest = first_seen

    def counts(self) -> dict[str, int]:
        return {"new": len(self.new), "resolved": len(self.resolved), "ongoing": self.ongoing}


def record_of(finding: dict, suppressed: bool) -> dict:
    """The state record of an open finding."""
    return {
        "findingId": finding["findingId"],
        "firstSeen": finding["firstSeen"],
        "caCertificateId": finding["caCertificateId"],
        "type": finding["type"],
        "status": finding.get("status"),
        "severity": finding.get("severity"),
        "suppressed": suppressed,
        "finding": {key: value for key, value in finding.items() if key not in ("isNew", "suppression")},
    }


def finding_of(record: dict) -> dict:
    """The finding a record holds (the state keeps it as JSON text until it is needed); one
    that is missing or not a JSON object is rebuilt from the record's own fields (every field a
    finding has is there, None where unknown)."""
    finding = record["finding"]
    if isinstance(finding, str):
        try:
            finding = json.loads(finding)
        except ValueError:
            finding = None
    known = {key: record.get(key) for key in ("findingId", "caCertificateId", "type", "status", "severity")}
    return {**dict.fromkeys(FINDING_FIELDS), **known, **(finding if isinstance(finding, dict) else {})}


def compare(
    findings: list[dict],
    suppressed: list[dict],
    previous: Iterable[dict],
    scope: Scope,
    now: str,
    refresh_before: str | None = None,
) -> Changes:
    """Mark each finding's `firstSeen` and `isNew` (in place) and work out what changed.

    `previous` is read once, as a stream: only the records that change are kept. A record read
    twice counts once (unless its finding is neither open now nor gone: those are not kept).
    A record with a field missing (`unreadable`) is rewritten if its finding is open now."""
    current = {finding["findingId"]: finding for finding in findings}
    quiet = {finding["findingId"]: finding for finding in suppressed}
    changes = Changes()
    gone = set()
    for record in previous:
        finding_id = record["findingId"]
        finding = current.get(finding_id) or quiet.get(finding_id)
        if finding_id in gone or (finding is not None and "isNew" in finding):
            continue  # the same record again
        if finding is None and scope.can_see_gone(record):
            gone.add(finding_id)
            changes.deletes.append(finding_id)
            gone_finding = {**finding_of(record), "firstSeen": record["firstSeen"], "resolvedAt": now}
            (changes.gone_suppressed if record["suppressed"] else changes.resolved).append(gone_finding)
            continue
        if finding is None:  # its CA could not be checked this time: it stays as it was
            still_open = not record["suppressed"]
        else:
            finding.update(firstSeen=record["firstSeen"] or now, isNew=False)
            still_open = finding_id in current
            changed = any(finding.get(key) != record.get(key) for key in TRACKED)
            if still_open == record["suppressed"] or changed or record.get("unreadable"):
                changes.writes.append(record_of(finding, not still_open))
                if still_open and record["suppressed"]:
                    changes.unsuppressed.append(finding_id)
            elif refresh_before is not None and (record.get("lastImported") or "") < refresh_before:
                changes.stale.append((record.get("lastImported") or "", finding_id))
        if still_open:
            changes.ongoing += 1
            changes.see_open_since((finding or record)["firstSeen"])
    for finding_id, finding in itertools.chain(quiet.items(), current.items()):
        if "isNew" not in finding:
            is_new = finding_id in current
            finding.update(firstSeen=now, isNew=is_new)
            changes.writes.append(record_of(finding, not is_new))
            if is_new:
                changes.new.append(finding)
                changes.see_open_since(now)
    changes.new = worst_first(changes.new)
    changes.resolved = worst_first(changes.resolved)
    return changes


def scope_of(report: dict, every_ca_requested: bool) -> Scope:
    """What the run saw to the end, from its report's CAs. Discovery that failed (the CA entry
    '*') means an unlisted CA may still exist."""
    cas = [ca for ca in report["cas"] if ca["caCertificateId"] != ALL_CAS]
    return Scope(
        audited=frozenset(ca["caCertificateId"] for ca in cas),
        complete=frozenset(ca["caCertificateId"] for ca in cas if not ca["error"]),
        described=frozenset(ca["caCertificateId"] for ca in cas if ca["status"]),
        every_ca_listed=every_ca_requested and len(cas) == len(report["cas"]),
    )


def changes_of(
    report: dict,
    previous: Iterable[dict] | None,
    every_ca_requested: bool,
    now: str,
    refresh_before: str | None = None,
) -> Changes:
    """The report's changes against the open findings of `previous` (None: no memory, so every
    finding is new, as before the state table existed). Marks the report's findings in place.
    `refresh_before` (Security Hub on): collect the stale records (Changes.stale)."""
    scope = scope_of(report, every_ca_requested) if previous is not None else Scope(*[frozenset()] * 3, False)
    return compare(report["findings"], report["suppressedFindings"], previous or (), scope, now, refresh_before)
