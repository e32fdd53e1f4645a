"""The inventory's configuration (issue 13): environment variables, defaults and clear errors."""

from __future__ import annotations

import pytest

from cert_audit.config import ConfigError, load_config
from cert_audit.findings import Thresholds

TOPIC = {"ALERT_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:alerts", "AWS_REGION": "us-east-1"}


def test_defaults_inventory_off_thresholds_as_device_defender():
    # Given no inventory variable, When the configuration is loaded
    config = load_config(TOPIC)
    # Then the inventory is off, the scope is the CAs', the checks have their defaults
    assert config.inventory_table is None
    assert config.scope == "ca"
    assert (config.inventory_rate_limit, config.inventory_time_budget_s) == (5, 300)
    assert config.thresholds == Thresholds(30, 2048, 256, frozenset({"SHA1", "MD5"}))


def test_every_setting_is_read():
    env = {
        **TOPIC,
        "INVENTORY_TABLE_NAME": " inventory ",
        "INVENTORY_RATE_LIMIT": "8",
        "INVENTORY_TIME_BUDGET_SECONDS": "0",
        "DEVICE_EXPIRY_WARNING_DAYS": "45",
        "MIN_RSA_KEY_BITS": "3072",
        "MIN_EC_KEY_BITS": "384",
        "WEAK_SIGNATURE_HASHES": "sha-1, md5,SHA224",
        "AUDIT_SCOPE": "Account",
    }
    config = load_config(env)
    assert config.inventory_table == "inventory"
    assert (config.inventory_rate_limit, config.inventory_time_budget_s, config.scope) == (8, 0, "account")
    assert config.thresholds == Thresholds(45, 3072, 384, frozenset({"SHA1", "MD5", "SHA224"}))


def test_no_weak_hash_at_all():
    assert load_config({**TOPIC, "WEAK_SIGNATURE_HASHES": ""}).thresholds.weak_hashes == frozenset()


def test_every_bad_value_is_named_with_what_is_allowed():
    # Given bad values for every inventory setting
    env = {
        **TOPIC,
        "INVENTORY_RATE_LIMIT": "0",
        "INVENTORY_TIME_BUDGET_SECONDS": "900",
        "DEVICE_EXPIRY_WARNING_DAYS": "soon",
        "MIN_RSA_KEY_BITS": "512",
        "MIN_EC_KEY_BITS": "1000",
        "WEAK_SIGNATURE_HASHES": "SHA1,CRC32",
        "AUDIT_SCOPE": "org",
    }
    # When the configuration is loaded, Then one error names each, with the allowed values
    with pytest.raises(ConfigError) as raised:
        load_config(env)
    message = str(raised.value)
    for expected in (
        "INVENTORY_RATE_LIMIT: '0' is not a whole number from 1 to 100",
        "INVENTORY_TIME_BUDGET_SECONDS: '900' is not a whole number from 0 to 840",
        "DEVICE_EXPIRY_WARNING_DAYS: 'soon' is not a whole number from 1 to 3652",
        "MIN_RSA_KEY_BITS: '512' is not a whole number from 1024 to 16384",
        "MIN_EC_KEY_BITS: '1000' is not a whole number from 160 to 521",
        "WEAK_SIGNATURE_HASHES: unknown hash CRC32; allowed: MD5, SHA1",
        "AUDIT_SCOPE: 'org' is not allowed; choose one of ca, account",
    ):
        assert expected in message
