"""Without `cryptography` (a layer without Powertools' [all] extra), the inventory says so and stays off."""

from __future__ import annotations

from datetime import UTC, datetime

from cert_audit import inventory
from cert_audit.calls import NO_DEADLINE
from cert_audit.config import load_config


def test_without_a_pem_parser_the_inventory_is_off_and_says_why(monkeypatch):
    # Given cryptography could not be imported
    monkeypatch.setattr(inventory, "x509_missing", "No module named 'cryptography'")
    config = load_config({"INVENTORY_TABLE_NAME": "inventory"}, require_topic=False)

    # When the run opens its inventory (no table is touched: the client would fail if it were)
    opened = inventory.open_inventory(None, config, datetime.now(UTC), NO_DEADLINE, dynamodb=object())

    # Then it is off, and its error names the cause and where cryptography comes from
    assert opened.on is False
    [error] = opened.run_errors()
    assert error["source"] == "inventory" and error["code"] == "ImportError"
    assert "No module named 'cryptography'" in error["message"]


def test_the_account_scope_in_a_continued_run_says_it_audited_the_cas(monkeypatch):
    # Given the account scope and a run the state machine continues (resume given, even empty)
    config = load_config({"AUDIT_SCOPE": "account"}, require_topic=False)
    opened = inventory.open_inventory(None, config, datetime.now(UTC), NO_DEADLINE)
    listed = []
    monkeypatch.setattr(inventory, "scan_cas", lambda *args, **kwargs: listed.append(kwargs) or [])

    # When it scans, Then the CAs' scan ran (with the resume) and a run error says why
    opened.scan(type("Iot", (), {})(), [], config, datetime.now(UTC), resume={})
    assert listed == [{"resume": {}}]
    [error] = opened.run_errors()
    assert error["code"] == "ScopeNotSupported" and "AUDIT_SCOPE=account" in error["message"]
