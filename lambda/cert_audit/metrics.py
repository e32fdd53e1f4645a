"""CloudWatch metrics of a run, in embedded metric format (EMF) through Powertools.

Per CA (dimensions exactly `CaCertificateId`, and `CaCertificateId`+`Status`):
`Certificates`, `Findings`, `ScanErrors`, `CaDaysToExpiry`. Run totals go on the shared
`metrics` object (dimension `service`) and are flushed by the handler's `log_metrics`
decorator; `Findings` by `service`+`FindingType` is emitted with the totals.
A CA whose scan failed gets no `Certificates` points: a partial count would read as a
drop in the fleet, while a gap is what it is. Its `Findings` (those seen before the
failure) and `ScanErrors` = 1 are emitted.
"""

from __future__ import annotations

import json
from collections import Counter

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.base import MetricManager

from cert_audit.findings import SEVERITY_ORDER
from cert_audit.observability import metrics

UNITS = {"CaDaysToExpiry": MetricUnit.NoUnit, "InventoryCoverage": MetricUnit.Percent}  # every other: Count


def _emit(dimensions: dict[str, str], values: dict[str, int]) -> None:
    # service="" keeps Powertools from adding its `service` dimension unless it is asked for.
    blob = MetricManager(service="")
    for name, value in values.items():
        blob.add_metric(name=name, unit=UNITS.get(name, MetricUnit.Count), value=value)
    for name, value in dimensions.items():
        blob.add_dimension(name=name, value=value)
    print(json.dumps(blob.serialize_metric_set(), separators=(",", ":")))


def emit_ca_metrics(report: dict) -> None:
    for ca in report["cas"]:
        ca_dimension = {"CaCertificateId": ca["caCertificateId"]}
        values = {"Findings": ca["findings"], "ScanErrors": 1 if ca["error"] else 0}
        if ca["daysToExpiry"] is not None and ca["status"] == "ACTIVE":  # as the expiry findings
            values["CaDaysToExpiry"] = ca["daysToExpiry"]
        _emit(ca_dimension, values)
        if ca["error"]:
            continue
        for status, count in ca["byStatus"].items():
            _emit({**ca_dimension, "Status": status}, {"Certificates": count})


def add_run_totals(report: dict) -> None:
    summary = report["summary"]
    for kind, count in summary["byType"].items():
        _emit({"service": metrics.service, "FindingType": kind}, {"Findings": count})
    metrics.add_metric(name="CertificatesScanned", unit=MetricUnit.Count, value=summary["certificatesScanned"])
    metrics.add_metric(name="Findings", unit=MetricUnit.Count, value=summary["findings"])
    metrics.add_metric(name="ScanErrors", unit=MetricUnit.Count, value=summary["casFailed"] + summary["errors"])
    metrics.add_metric(name="SuppressedFindings", unit=MetricUnit.Count, value=summary["suppressedFindings"])
    metrics.add_metric(name="Throttles", unit=MetricUnit.Count, value=summary["throttles"])
    metrics.add_metric(name="MalformedCertificates", unit=MetricUnit.Count, value=summary["malformedCertificates"])
    metrics.add_metric(name="FailedEvents", unit=MetricUnit.Count, value=summary["eventsFailed"])
    add_inventory_metrics(summary.get("inventory"))
    if summary["securityHubImported"] or summary["securityHubFailed"]:
        # Only from runs that gave Security Hub something: with it off, the metric (and its cost) never exists.
        metrics.add_metric(name="SecurityHubFailedFindings", unit=MetricUnit.Count, value=summary["securityHubFailed"])
    changes = report["changes"]
    if changes is None:  # the last run's state could not be read: a gap, not a false zero
        return
    metrics.add_metric(name="NewFindings", unit=MetricUnit.Count, value=changes["new"])
    metrics.add_metric(name="ResolvedFindings", unit=MetricUnit.Count, value=changes["resolved"])
    metrics.add_metric(name="OpenFindings", unit=MetricUnit.Count, value=changes["new"] + changes["ongoing"])
    new_by_severity = Counter(finding["severity"] for finding in report["findings"] if finding["isNew"])
    for severity in SEVERITY_ORDER:
        _emit({"service": metrics.service, "Severity": severity}, {"NewFindings": new_by_severity[severity]})


def add_inventory_metrics(coverage: dict | None) -> None:
    """The inventory's coverage (issue 13) and, of the ACTIVE certificates it has described, the renewal
    forecast (`ExpiringCertificates` by `MonthsAhead`, 0 = this calendar month, to 11) and the counts by
    `KeyType` and `SignatureHash` (`ActiveCertificates`). Nothing when the inventory is off."""
    if not coverage:
        return
    service = {"service": metrics.service}
    share = 100 * coverage["described"] / coverage["total"] if coverage["total"] else 100
    _emit(
        service,
        {
            "InventoryCoverage": round(share, 2),
            "InventoryRemaining": coverage["remaining"],
            "InventoryDescribed": coverage["describedThisRun"],
        },
    )
    for months_ahead, count in enumerate(coverage["activeExpiringByMonth"].values()):
        _emit({**service, "MonthsAhead": str(months_ahead)}, {"ExpiringCertificates": count})
    for key, count in coverage["activeByKey"].items():
        _emit({**service, "KeyType": key}, {"ActiveCertificates": count})
    for name, count in coverage["activeBySignatureHash"].items():
        _emit({**service, "SignatureHash": name}, {"ActiveCertificates": count})


def add_skipped_run() -> None:
    """`SkippedRuns` = 1 for an invocation that did not start because another run was under way."""
    metrics.add_metric(name="SkippedRuns", unit=MetricUnit.Count, value=1)


def add_heartbeat(duration_ms: float) -> None:
    """`AuditRuns` = 1 once a run has completed (published, if it had to), with its duration."""
    metrics.add_metric(name="AuditRuns", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="AuditDuration", unit=MetricUnit.Milliseconds, value=round(duration_ms))
