"""The command line's inventory options (issue 13): --scope, --inventory-table and the checks' thresholds."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from cert_audit import inventory
from cert_audit.emulator import device_certificate_pem, seed_ca, seed_device_certificates
from tests.cli.conftest import REGION


@pytest.fixture(autouse=True)
def no_session_left_behind():
    """The CLI hands the inventory its session; no test leaves it to the next."""
    yield
    inventory._session.clear()
    inventory.dynamodb_client.cache_clear()


@pytest.fixture
def fleet(backend):
    now = datetime.now(UTC)
    ca = seed_ca(backend, "fleet")
    [weak] = seed_device_certificates(
        backend, ca, [device_certificate_pem(now + timedelta(days=300), key_type="RSA", key_size=2048)]
    )
    [soon] = seed_device_certificates(backend, ca, [device_certificate_pem(now + timedelta(days=40))])
    [alone] = seed_device_certificates(backend, None, [device_certificate_pem(now + timedelta(days=300))], "INACTIVE")
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    dynamodb.create_table(
        TableName="inventory",
        KeySchema=[{"AttributeName": "certificateId", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "certificateId", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return {"ca": ca, "weak": weak, "soon": soon, "alone": alone}


def test_the_thresholds_and_the_account_scope_reach_the_checks(fleet, run):
    # Given a 2048-bit RSA key, a certificate 40 days from expiry and one without a CA
    # When the CLI audits the account with the inventory, a 3072-bit RSA minimum and a 45-day warning
    code, out, _ = run(
        "--scope", "account", "--inventory-table", "inventory", "--min-rsa-key-bits", "3072",
        "--device-expiry-warning-days", "45", "--format", "json", "--fail-on", "never",
    )  # fmt: skip
    # Then each is a finding, the one without a CA included
    assert code == 0
    report = json.loads(out)
    found = {(f["certificateId"], f["type"]) for f in report["findings"]}
    assert (fleet["weak"], "WEAK_KEY") in found
    assert (fleet["soon"], "DEVICE_CERTIFICATE_EXPIRING") in found
    assert (fleet["alone"], "CERTIFICATE_STATUS") in found
    assert report["summary"]["certificatesScanned"] == 3
    assert report["summary"]["inventory"]["described"] == 3


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--scope", "org"], "--scope: 'org' is not allowed; choose one of ca, account"),
        (["--device-expiry-warning-days", "0"], "--device-expiry-warning-days: '0' is not a whole number from 1"),
        (["--min-ec-key-bits", "99"], "--min-ec-key-bits: '99' is not a whole number from 160 to 521"),
        (["--weak-signature-hashes", "CRC"], "--weak-signature-hashes: unknown hash CRC"),
    ],
)
def test_bad_values_are_one_line_and_exit_2(run, argv, message):
    code, _, err = run(*argv)
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1
