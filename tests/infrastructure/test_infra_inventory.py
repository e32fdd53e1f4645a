"""The certificate inventory's infrastructure (issue 13): its table, the function's permissions and
environment, the scope, and context refused with the key and what is allowed."""

from __future__ import annotations

import json

import pytest
from aws_cdk import App

from cert_audit.config import ConfigError
from infra.application import build
from tests.infrastructure.conftest import widget


def statements(synth) -> dict[str, dict]:
    """The named statements of every IAM policy of the stack (the function's role holds the inventory's)."""
    return {
        statement.get("Sid"): statement
        for policy in synth.resources("AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    }


def variables(synth) -> dict:
    return synth.only("AWS::Lambda::Function")["Properties"]["Environment"]["Variables"]


def inventory_tables(synth) -> dict[str, dict]:
    return {
        logical_id: table
        for logical_id, table in synth.resources("AWS::DynamoDB::Table").items()
        if logical_id.startswith("AuditInventoryTable")
    }


@pytest.fixture(scope="module")
def defaults(synthesized):
    return synthesized({})


def test_the_table_is_keyed_by_certificate_and_expires_entries(defaults):
    # Given the default deployment, Then one inventory table keyed certificateId, with a TTL on expiresAt
    [(logical_id, table)] = inventory_tables(defaults).items()
    properties = table["Properties"]
    assert properties["KeySchema"] == [{"AttributeName": "certificateId", "KeyType": "HASH"}]
    assert properties["TimeToLiveSpecification"] == {"AttributeName": "expiresAt", "Enabled": True}
    assert properties["BillingMode"] == "PAY_PER_REQUEST"
    assert properties["SSESpecification"] == {"SSEEnabled": True}
    # ... deleted with the stack (it is a cache IoT can refill), and named to the function
    assert table["DeletionPolicy"] == "Delete"
    assert variables(defaults)["INVENTORY_TABLE_NAME"] == {"Ref": logical_id}


def test_the_function_reads_and_fills_it_and_describes_certificates_only(defaults):
    found = statements(defaults)
    [table_id] = inventory_tables(defaults)
    assert sorted(found["ReadAndFillTheInventory"]["Action"]) == ["dynamodb:BatchWriteItem", "dynamodb:Scan"]
    assert found["ReadAndFillTheInventory"]["Resource"] == {"Fn::GetAtt": [table_id, "Arn"]}
    describe = found["DescribeDeviceCertificates"]
    assert describe["Action"] == "iot:DescribeCertificate"
    assert describe["Resource"]["Fn::Join"][1][-1] == ":cert/*"
    assert sorted(found["ListCertificateAttachments"]["Action"]) == [
        "iot:ListAttachedPolicies",
        "iot:ListPrincipalThingsV2",
    ]
    # ... and, in the CAs' scope, never lists every certificate of the account
    assert "ListEveryCertificate" not in found


def test_the_checks_defaults_reach_the_function(defaults):
    assert {
        name: variables(defaults)[name]
        for name in (
            "INVENTORY_RATE_LIMIT",
            "INVENTORY_TIME_BUDGET_SECONDS",
            "DEVICE_EXPIRY_WARNING_DAYS",
            "MIN_RSA_KEY_BITS",
            "MIN_EC_KEY_BITS",
            "WEAK_SIGNATURE_HASHES",
            "AUDIT_SCOPE",
        )
    } == {
        "INVENTORY_RATE_LIMIT": "5",
        "INVENTORY_TIME_BUDGET_SECONDS": "300",
        "DEVICE_EXPIRY_WARNING_DAYS": "30",
        "MIN_RSA_KEY_BITS": "2048",
        "MIN_EC_KEY_BITS": "256",
        "WEAK_SIGNATURE_HASHES": "SHA1,MD5",
        "AUDIT_SCOPE": "ca",
    }


def test_inventory_off_has_no_table_and_no_permission(synthesized):
    synth = synthesized({"inventory": "false", "scope": "account"})
    assert inventory_tables(synth) == {}
    found = statements(synth)
    assert "DescribeDeviceCertificates" not in found and "ReadAndFillTheInventory" not in found
    assert "INVENTORY_TABLE_NAME" not in variables(synth)
    # ... while the account scope still lists every certificate
    assert found["ListEveryCertificate"] == {
        "Sid": "ListEveryCertificate",
        "Action": "iot:ListCertificates",
        "Effect": "Allow",
        "Resource": "*",
    }
    assert variables(synth)["AUDIT_SCOPE"] == "account"


def test_command_line_values_are_read(synthesized):
    synth = synthesized({"scope": "account", "inventoryRateLimit": "10", "weakSignatureHashes": ""})
    assert variables(synth)["INVENTORY_RATE_LIMIT"] == "10"
    assert variables(synth)["WEAK_SIGNATURE_HASHES"] == ""
    assert "ListEveryCertificate" in statements(synth)


def test_bad_inventory_context_names_each_key_and_what_is_allowed():
    # Given context the function would refuse
    app = App(
        context={
            "inventory": "maybe",
            "inventoryRateLimit": "0",
            "inventoryTimeBudgetSeconds": "3600",
            "deviceExpiryWarningDays": "-1",
            "minRsaKeyBits": "512",
            "weakSignatureHashes": "SHA1,CRC32",
            "scope": "organization",
        }
    )
    # When the stack is built, Then one error names every key with what is allowed, and nothing is built
    with pytest.raises(ConfigError) as raised:
        build(app)
    message = str(raised.value)
    for expected in (
        "inventory: 'maybe' is not allowed; choose true or false",
        "inventoryRateLimit: '0' is not a whole number from 1 to 100",
        "inventoryTimeBudgetSeconds: '3600' is not a whole number from 0 to 840",
        "deviceExpiryWarningDays: '-1' is not a whole number from 1 to 3652",
        "minRsaKeyBits: '512' is not a whole number from 1024 to 16384",
        "weakSignatureHashes: unknown hash CRC32",
        "scope: 'organization' is not allowed; choose one of ca, account",
    ):
        assert expected in message
    assert app.node.children == []


FORECAST = "Renewal forecast: ACTIVE certificates expiring per month (next 12 months)"


def test_the_dashboard_graphs_the_renewal_forecast_and_the_keys(defaults):
    # Given the default deployment's dashboard
    widgets = defaults.dashboard_widgets()
    # Then the forecast is twelve bars, one per month ahead, of the metric the engine emits
    forecast = widget(widgets, FORECAST)["properties"]
    assert forecast["view"] == "bar"
    months = [line[3] for line in forecast["metrics"]]
    assert [line[1] for line in forecast["metrics"]] == ["ExpiringCertificates"] * 12
    assert months == [str(n) for n in range(12)]
    assert forecast["metrics"][0][-1]["label"] == "this month"
    # ... and the ACTIVE certificates by key and by signature hash are pies over whatever values appear
    for title, dimension in (
        ("ACTIVE certificates by key", "KeyType"),
        ("ACTIVE certificates by signature hash", "SignatureHash"),
    ):
        properties = widget(widgets, title)["properties"]
        assert properties["view"] == "pie"
        assert f'service,{dimension}}} MetricName=\\"ActiveCertificates\\"' in json.dumps(properties["metrics"])


def test_no_forecast_without_the_inventory(synthesized):
    widgets = synthesized({"inventory": "false", "scope": "account"}).dashboard_widgets()
    assert not [w for w in widgets if w["properties"].get("title") == FORECAST]
