"""Suppressions: findings a team has decided to accept, kept out of alerts but never out of sight.

A suppression names a device certificate (`certificateId`) or a CA (`caCertificateId`: every
finding under it), optionally a finding `type`, always a `reason`, and optionally an `expires`
date (a date is valid through that day, UTC). Suppressed findings are counted and listed apart;
expired suppressions stop applying and are listed so someone renews or removes them.

The file form (JSON or YAML) is a list of entries, or {"suppressions": [...]}:

    suppressions:
      - certificateId: 3f2a...e91c          # 64 hex characters
        type: CERTIFICATE_STATUS             # optional: only this finding type
        reason: Lab bench devices, kept revoked for the forensics team
        expires: 2027-03-31                  # optional
      - caCertificateId: 9b1d...04aa
        reason: Legacy CA being decommissioned (CHG-1234)
"""

from __future__ import annotations

import difflib
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from cert_audit.findings import FINDING_TYPES, iso_utc

_ID = re.compile(r"^[0-9a-f]{64}$")
FIELDS = ("certificateId", "caCertificateId", "type", "reason", "expires")


class SuppressionError(ValueError):
    """The suppressions are malformed; the message gives the place and the problem."""


@dataclass(frozen=True)
class Suppression:
    reason: str
    certificate_id: str | None = None
    ca_certificate_id: str | None = None
    type: str | None = None
    expires: datetime | None = None  # the first instant at which it no longer applies

    def applies(self, now: datetime) -> bool:
        return self.expires is None or now < self.expires

    def as_dict(self) -> dict:
        """The wire form, as in a suppressions file (expires as the ISO instant it ends)."""
        entry = {
            "certificateId": self.certificate_id,
            "caCertificateId": self.ca_certificate_id,
            "type": self.type,
            "reason": self.reason,
            "expires": iso_utc(self.expires),
        }
        return {key: value for key, value in entry.items() if value is not None}


def _expiry(value: object) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC) + timedelta(days=1)
    if isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return _expiry(date.fromisoformat(text))
        return _expiry(datetime.fromisoformat(text.replace("Z", "+00:00")))
    raise ValueError(value)


def _parse_entry(entry: object) -> Suppression:
    if not isinstance(entry, dict):
        raise SuppressionError(f"expected a mapping with {', '.join(FIELDS)}, got {entry!r}")
    for key in entry:
        if key not in FIELDS:
            close = difflib.get_close_matches(str(key), FIELDS, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else f"; allowed: {', '.join(FIELDS)}"
            raise SuppressionError(f"unknown field {key!r}{hint}")
    ids = [key for key in ("certificateId", "caCertificateId") if entry.get(key)]
    if len(ids) != 1:
        raise SuppressionError("give exactly one of certificateId or caCertificateId")
    value = str(entry[ids[0]]).strip().lower()
    if not _ID.match(value):
        raise SuppressionError(f"{ids[0]} {entry[ids[0]]!r} is not 64 hexadecimal characters")
    kind = entry.get("type")
    if kind is not None and kind not in FINDING_TYPES:
        raise SuppressionError(f"type {kind!r} is not a finding type; allowed: {', '.join(FINDING_TYPES)}")
    reason = entry.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise SuppressionError("reason is required: say why this finding is accepted")
    expires = None
    if entry.get("expires") is not None:
        try:
            expires = _expiry(entry["expires"])
        except ValueError:
            raise SuppressionError(
                f"expires {entry['expires']!r} is not a date (YYYY-MM-DD) or ISO-8601 time"
            ) from None
    return Suppression(
        reason=reason.strip(),
        certificate_id=value if ids[0] == "certificateId" else None,
        ca_certificate_id=value if ids[0] == "caCertificateId" else None,
        type=kind,
        expires=expires,
    )


def parse_suppressions(data: object, place: Callable[[int], str] = lambda i: f"entry {i + 1}") -> list[Suppression]:
    """Validate parsed JSON/YAML; every problem is reported, each at its place."""
    if isinstance(data, dict) and set(data) == {"suppressions"}:
        data = data["suppressions"]
    if data is None:
        return []
    if not isinstance(data, list):
        raise SuppressionError("expected a list of suppressions, or a mapping with the key 'suppressions'")
    suppressions, problems = [], []
    for index, entry in enumerate(data):
        try:
            suppressions.append(_parse_entry(entry))
        except SuppressionError as error:
            problems.append(f"{place(index)}: {error}")
    if problems:
        raise SuppressionError("; ".join(problems))
    return suppressions


def load_suppressions_file(path: str) -> list[Suppression]:
    """Read a JSON or YAML suppressions file; errors name the file and line."""
    import yaml  # development and deployment machines only: the function reads JSON

    with open(path, "rb") as file:
        raw = file.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise SuppressionError(f"{path}, line {line}: not UTF-8 text; save the file as UTF-8") from None
    try:
        root = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f", line {mark.line + 1}" if mark else ""
        raise SuppressionError(f"{path}{line}: not valid JSON or YAML: {getattr(error, 'problem', error)}") from None
    except ValueError as error:  # YAML reads 2027-13-45 as a date, and there is no such date
        raise SuppressionError(f"{path}: a date that does not exist ({error}); write dates as YYYY-MM-DD") from None
    items = root
    if isinstance(root, yaml.MappingNode):
        items = next((value for key, value in root.value if key.value == "suppressions"), root)
    lines = [node.start_mark.line + 1 for node in items.value] if isinstance(items, yaml.SequenceNode) else []
    return parse_suppressions(data, lambda i: f"{path}, line {lines[i] if i < len(lines) else '?'}")


def apply_suppressions(
    findings: list[dict], suppressions: list[Suppression], now: datetime
) -> tuple[list[dict], list[dict]]:
    """Split findings into (alerted, suppressed); a suppressed one carries its suppression."""
    by_key: dict[tuple[str, str], list[Suppression]] = defaultdict(list)
    for suppression in suppressions:
        if suppression.applies(now):
            if suppression.certificate_id:
                by_key["certificateId", suppression.certificate_id].append(suppression)
            else:
                by_key["caCertificateId", suppression.ca_certificate_id].append(suppression)
    if not by_key:
        return findings, []
    kept, suppressed = [], []
    for finding in findings:
        candidates = by_key.get(("certificateId", finding["certificateId"]), []) + by_key.get(
            ("caCertificateId", finding["caCertificateId"]), []
        )
        match = next((s for s in candidates if s.type in (None, finding["type"])), None)
        if match:
            suppressed.append({**finding, "suppression": match.as_dict()})
        else:
            kept.append(finding)
    return kept, suppressed


def expired_suppressions(suppressions: list[Suppression], now: datetime) -> list[dict]:
    return [s.as_dict() for s in suppressions if not s.applies(now)]
