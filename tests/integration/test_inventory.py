"""The certificate inventory (issue 13) on moto: real X.509 device certificates, the DynamoDB cache,
the describe budget, and the new findings through report, metrics, email, suppressions and memory."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import urlparse

import boto3
import pytest

from cert_audit import handler, inventory
from cert_audit.emulator import device_certificate_pem, inject_faults, seed_ca, seed_device_certificates
from cert_audit.findings import DEVICE_EXPIRED, DEVICE_EXPIRING, WEAK_KEY, WEAK_SIGNATURE
from cert_audit.inventory import CACHE_RETENTION_DAYS
from tests.integration.conftest import REGION, create_table, metric_points

NOW = datetime.now(UTC)
TABLE = "inventory"


@pytest.fixture(autouse=True)
def fresh_inventory_client():
    """No cached cache client (nor the fault hooks a test put on it) from one test to the next."""
    inventory._session.clear()
    inventory.dynamodb_client.cache_clear()
    yield
    inventory._session.clear()
    inventory.dynamodb_client.cache_clear()


def make_inventory_table(monkeypatch):
    """The inventory table, configured; its client."""
    create_table(TABLE, "certificateId")
    monkeypatch.setenv("INVENTORY_TABLE_NAME", TABLE)
    return boto3.client("dynamodb", region_name=REGION)


@pytest.fixture
def inventory_table(aws, alerts, monkeypatch):
    """The inventory table (after the alert fixtures, which clear the CA list)."""
    return make_inventory_table(monkeypatch)


def certificate_id_of(request) -> str:
    return urlparse(request.url).path.rsplit("/", 1)[-1]


class Describes:
    """Counts the DescribeCertificate requests that reach the emulator, by certificate."""

    def __init__(self):
        self.calls: list[str] = []
        inject_faults(handler.clients()[0], "DescribeCertificate", lambda r: self.calls.append(certificate_id_of(r)))


@pytest.fixture
def mixed(backend, inventory_table, monkeypatch) -> dict[str, str]:
    return seed_mixed(backend, monkeypatch)


def seed_mixed(backend, monkeypatch) -> dict[str, str]:
    """One CA with a real certificate of each kind the checks look at, the only one configured:
    name -> certificate ID."""
    ca = seed_ca(backend, "fleet")
    monkeypatch.setenv("CA_CERTIFICATE_IDS", ca)
    made = {
        "rsa1024": device_certificate_pem(NOW + timedelta(days=400), key_type="RSA", key_size=1024),
        "sha1": device_certificate_pem(NOW + timedelta(days=400), key_type="RSA", key_size=2048, signature_hash="SHA1"),
        "expiring": device_certificate_pem(NOW + timedelta(days=10)),
        "expired": device_certificate_pem(NOW - timedelta(days=1)),
        "healthy": device_certificate_pem(NOW + timedelta(days=400)),
    }
    ids = {name: seed_device_certificates(backend, ca, [pem])[0] for name, pem in made.items()}
    revoked = device_certificate_pem(NOW - timedelta(days=1), key_type="RSA", key_size=1024)
    ids["revoked"] = seed_device_certificates(backend, ca, [revoked], "REVOKED")[0]
    ids["ca"] = ca
    return ids


def by_type(report: dict) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for finding in report["findings"]:
        found.setdefault(finding["type"], set()).add(finding["certificateId"])
    return found


def test_each_kind_of_certificate_gets_its_finding(mixed, alerts, context, capsys):
    # Given a CA with an RSA-1024, a SHA-1, an expiring, an expired, a healthy and a REVOKED certificate
    describes = Describes()

    # When the audit runs with the inventory
    handler.lambda_handler({}, context)

    # Then each certificate was described once and each problem is a finding of its type
    assert sorted(describes.calls) == sorted(v for k, v in mixed.items() if k != "ca")
    [published] = alerts.published()
    report = json.loads(published["Message"]["default"])
    found = by_type(report)
    assert found[WEAK_KEY] == {mixed["rsa1024"]}
    assert found[WEAK_SIGNATURE] == {mixed["sha1"]}
    assert found[DEVICE_EXPIRING] == {mixed["expiring"]}
    assert found[DEVICE_EXPIRED] == {mixed["expired"]}
    # ... the REVOKED one (expired, RSA-1024) is only the status finding it always was
    assert {f["type"] for f in report["findings"] if f["certificateId"] == mixed["revoked"]} == {"CERTIFICATE_STATUS"}
    summary = report["summary"]
    assert {kind: summary["byType"][kind] for kind in found if kind != "CERTIFICATE_STATUS"} == {
        WEAK_KEY: 1,
        WEAK_SIGNATURE: 1,
        DEVICE_EXPIRING: 1,
        DEVICE_EXPIRED: 1,
    }
    # ... each has its findingId, a remediation line, and the CA it was listed under
    expired = next(f for f in report["findings"] if f["type"] == DEVICE_EXPIRED)
    assert len(expired["findingId"]) == 32 and expired["severity"] == "HIGH" and expired["remediation"]
    assert expired["caCertificateId"] == mixed["ca"]
    # ... the coverage is whole
    assert summary["inventory"]["described"] == summary["inventory"]["total"] == 6
    assert summary["inventory"]["runsToComplete"] == 0
    assert summary["inventory"]["activeByKey"] == {"EC-256": 3, "RSA-1024": 1, "RSA-2048": 1}
    assert summary["inventory"]["activeBySignatureHash"] == {"SHA1": 1, "SHA256": 4}
    # ... the email says it, and the metrics count each type
    assert "Inventory: 6 of 6 device certificates described" in published["Message"]["email"]
    points = metric_points(capsys.readouterr().out)
    for kind in (WEAK_KEY, WEAK_SIGNATURE, DEVICE_EXPIRING, DEVICE_EXPIRED):
        assert points[("Findings", (("FindingType", kind), ("service", "iot-cert-audit")))] == 1
    assert points[("InventoryCoverage", (("service", "iot-cert-audit"),))] == 100


def test_the_cache_answers_the_next_run_without_a_describe(mixed, inventory_table, alerts, context):
    # Given a run that described every certificate
    handler.lambda_handler({}, context)
    items = inventory_table.scan(TableName=TABLE)["Items"]
    assert len(items) == 6
    entry = next(i for i in items if i["certificateId"]["S"] == mixed["rsa1024"])
    assert (entry["keyType"]["S"], entry["keySize"]["N"], entry["signatureHash"]["S"]) == ("RSA", "1024", "SHA256")
    assert entry["caCertificateId"]["S"] == mixed["ca"]
    assert int(entry["expiresAt"]["N"]) >= (NOW + timedelta(days=CACHE_RETENTION_DAYS - 1)).timestamp()
    describes = Describes()

    # When the audit runs again
    handler.lambda_handler({}, context)

    # Then nothing is described again and the findings are the same
    assert describes.calls == []
    report = json.loads(alerts.published()[-1]["Message"]["default"])
    assert by_type(report)[WEAK_KEY] == {mixed["rsa1024"]}
    assert report["summary"]["inventory"]["describedThisRun"] == 0


def test_the_inventory_fills_over_runs_within_the_budget_never_describing_twice(
    backend, inventory_table, alerts, context, monkeypatch
):
    # Given 60 certificates and a budget of 10 s at 2 describes a second (20 a run)
    ca = seed_ca(backend, "big")
    pem_ids = seed_device_certificates(
        backend, ca, [device_certificate_pem(NOW + timedelta(days=200 + n)) for n in range(60)]
    )
    monkeypatch.setenv("CA_CERTIFICATE_IDS", ca)
    monkeypatch.setenv("INVENTORY_RATE_LIMIT", "2")
    monkeypatch.setenv("INVENTORY_TIME_BUDGET_SECONDS", "10")
    describes = Describes()

    # When the audit runs three times, Then each run describes 20 new ones and says how many runs remain
    progress = []
    for _ in range(3):
        coverage = handler.lambda_handler({}, context)["summary"]["inventory"]
        progress.append((coverage["described"], coverage["describedThisRun"], coverage["runsToComplete"]))
    assert progress == [(20, 20, 2), (40, 20, 1), (60, 20, 0)]
    assert sorted(describes.calls) == sorted(pem_ids)  # each once


def test_a_listed_certificates_entry_is_kept_alive_a_deleted_ones_is_left_to_expire(
    mixed, inventory_table, alerts, context
):
    # Given cache entries that expire in 10 days: one of a listed certificate, one of a deleted one
    handler.lambda_handler({}, context)
    soon = str(int((NOW + timedelta(days=10)).timestamp()))
    for certificate_id in (mixed["healthy"], "d" * 64):
        item = {
            "certificateId": {"S": certificate_id},
            "keyType": {"S": "EC"},
            "keySize": {"N": "256"},
            "signatureHash": {"S": "SHA256"},
            "notBefore": {"N": "0"},
            "notAfter": {"N": str(int((NOW + timedelta(days=400)).timestamp()))},
            "expiresAt": {"N": soon},
        }
        inventory_table.put_item(TableName=TABLE, Item=item)

    # When the audit runs
    handler.lambda_handler({}, context)

    # Then the listed one lives another CACHE_RETENTION_DAYS; the deleted one keeps its expiry (TTL removes it)
    def expires(certificate_id):
        return int(
            inventory_table.get_item(TableName=TABLE, Key={"certificateId": {"S": certificate_id}})["Item"][
                "expiresAt"
            ]["N"]
        )

    assert expires(mixed["healthy"]) >= (NOW + timedelta(days=CACHE_RETENTION_DAYS - 1)).timestamp()
    assert expires("d" * 64) == int(soon)


def test_suppressions_by_type_and_certificate_and_the_memory_take_the_new_types(
    mixed, inventory_table, alerts, context, monkeypatch
):
    # Given the state table, and suppressions of WEAK_SIGNATURE (by type) and one certificate's expiry
    create_table("state", "findingId")
    monkeypatch.setenv("STATE_TABLE_NAME", "state")
    suppressions = [
        {"caCertificateId": mixed["ca"], "type": WEAK_SIGNATURE, "reason": "legacy batch (SEC-9)"},
        {"certificateId": mixed["expiring"], "type": DEVICE_EXPIRING, "reason": "device retired next week"},
    ]
    boto3.client("ssm", region_name=REGION).put_parameter(Name="/s", Value=json.dumps(suppressions), Type="String")
    monkeypatch.setenv("SUPPRESSIONS_PARAMETER", "/s")

    # When the audit runs twice
    first = handler.lambda_handler({}, context)
    second = handler.lambda_handler({}, context)

    # Then the suppressed ones are set apart, and the second run finds nothing new (same findingIds)
    assert first["summary"]["byType"][WEAK_SIGNATURE] == 0 and first["summary"]["byType"][DEVICE_EXPIRING] == 0
    assert {f["type"] for f in first["suppressedFindings"]} == {WEAK_SIGNATURE, DEVICE_EXPIRING}
    # ... the others (weak key, expired, the REVOKED status) are new once, then still open
    assert first["changes"]["new"] == first["summary"]["findings"] == 3
    assert (second["changes"]["new"], second["changes"]["resolved"], second["changes"]["ongoing"]) == (0, 0, 3)


def test_the_renewal_forecast_and_key_counts_are_metrics(mixed, alerts, context, capsys):
    # Given one ACTIVE certificate expiring in 10 days among the mixed fleet
    expires = NOW + timedelta(days=10)
    ahead = (expires.year * 12 + expires.month) - (NOW.year * 12 + NOW.month)

    # When the audit runs
    result = handler.lambda_handler({}, context)

    # Then the forecast has it in its month (and nothing else within 12 months), and the keys are counted
    points = metric_points(capsys.readouterr().out)
    forecast = {
        int(dict(dims)["MonthsAhead"]): value
        for (name, dims), value in points.items()
        if name == "ExpiringCertificates"
    }
    assert forecast == {n: (1 if n == ahead else 0) for n in range(12)}
    by_key = {
        dict(dims)["KeyType"]: v
        for (name, dims), v in points.items()
        if name == "ActiveCertificates" and "KeyType" in dict(dims)
    }
    assert by_key == {"EC-256": 3, "RSA-1024": 1, "RSA-2048": 1}
    assert sum(result["summary"]["inventory"]["activeExpiringByMonth"].values()) == 1


def test_the_coverage_line_says_how_many_runs_remain():
    base = {"described": 412_000, "total": 1_000_000}
    assert inventory.coverage_line({**base, "runsToComplete": 3}) == (
        "Inventory: 412,000 of 1,000,000 device certificates described (expiry, key and signature checked); "
        "complete in about 3 more runs."
    )
    assert inventory.coverage_line({**base, "runsToComplete": 1}).endswith("about 1 more run.")
    assert "none could be described this run" in inventory.coverage_line({**base, "runsToComplete": None})
    assert inventory.coverage_line({"described": 5, "total": 5, "runsToComplete": 0}).endswith("checked).")


def test_the_new_types_flow_through_every_format(mixed, alerts, context):
    # Given a report with every new type of finding
    from cert_audit import asff, formats, ocsf

    handler.lambda_handler({}, context)
    report = json.loads(alerts.published()[0]["Message"]["default"])
    kinds = {DEVICE_EXPIRED, DEVICE_EXPIRING, WEAK_KEY, WEAK_SIGNATURE}
    assert kinds <= {f["type"] for f in report["findings"]}

    # When it is rendered in every format, Then each new finding is in the ASFF and OCSF documents
    ids = {f["findingId"] for f in report["findings"] if f["type"] in kinds}
    assert ids <= {document["Id"] for document in asff.documents(report)}
    assert ids <= {document["finding_info"]["uid"] for document in ocsf.documents(report)}
    for name, fmt in formats.FORMATS.items():
        rendered = fmt.render(report)
        assert isinstance(rendered, str) and rendered, name
