"""What is still attached to a flagged certificate (issue 13): things and policies counted, with a
sample, for findings only, within the inventory's budget, and every lookup under fault."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ReadTimeoutError

from cert_audit import emulator, handler
from cert_audit.calls import ATTEMPT_MAX_S, RETRY_ATTEMPTS
from cert_audit.emulator import device_certificate_pem, inject_faults, seed_ca, seed_device_certificates
from tests.integration.conftest import REGION
from tests.integration.test_inventory import (  # noqa: F401 - fresh_inventory_client is an autouse fixture
    fresh_inventory_client,
    make_inventory_table,
)

NOW = datetime.now(UTC)
POLICY = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iot:Connect", "Resource": "*"}]}
)


@pytest.fixture
def fleet(backend, alerts, monkeypatch) -> dict[str, str]:
    """A CA with a REVOKED certificate attached to 3 things and 2 policies, a REVOKED one attached to
    nothing, and an ACTIVE one attached to a thing (not a finding: never looked up)."""
    make_inventory_table(monkeypatch)
    ca = seed_ca(backend, "fleet")
    monkeypatch.setenv("CA_CERTIFICATE_IDS", ca)
    pem = [device_certificate_pem(NOW + timedelta(days=300)) for _ in range(3)]
    attached, loose = seed_device_certificates(backend, ca, pem[:2], "REVOKED")
    [active] = seed_device_certificates(backend, ca, pem[2:], "ACTIVE")
    iot = boto3.client("iot", region_name=REGION)
    for n in range(3):
        iot.create_thing(thingName=f"sensor-{n}")
        iot.attach_thing_principal(thingName=f"sensor-{n}", principal=backend.certificates[attached].arn)
    iot.create_thing(thingName="live")
    iot.attach_thing_principal(thingName="live", principal=backend.certificates[active].arn)
    for name in ("fleet-policy", "legacy-policy"):
        iot.create_policy(policyName=name, policyDocument=POLICY)
        iot.attach_policy(policyName=name, target=backend.certificates[attached].arn)
    return {"attached": attached, "loose": loose, "active": active}


def finding_of(report: dict, certificate_id: str) -> dict:
    [finding] = [f for f in report["findings"] if f["certificateId"] == certificate_id]
    return finding


def test_an_attached_revoked_certificate_says_what_to_detach(fleet, alerts, context):
    # Given a REVOKED certificate attached to 3 things and 2 policies, When the audit runs
    result = handler.lambda_handler({}, context)
    [published] = alerts.published()
    report = json.loads(published["Message"]["default"])

    # Then its finding counts them, with a sample, and says to detach before deleting
    attached = finding_of(report, fleet["attached"])
    assert (attached["attachedThings"], attached["attachedPolicies"]) == (3, 2)
    assert sorted(attached["attachedThingsSample"]) == ["sensor-0", "sensor-1", "sensor-2"]
    assert sorted(attached["attachedPoliciesSample"]) == ["fleet-policy", "legacy-policy"]
    assert attached["attachmentsComplete"] is True
    assert "detach them" in attached["remediation"] and "before deleting" in attached["remediation"]
    assert "detach them (DetachThingPrincipal, DetachPolicy)" in published["Message"]["email"]
    # ... the one attached to nothing says so, with no detach step
    loose = finding_of(report, fleet["loose"])
    assert (loose["attachedThings"], loose["attachedPolicies"]) == (0, 0)
    assert "remediation" not in loose
    assert result["summary"]["inventory"]["attachmentsLookedUp"] == 2


def test_only_findings_are_looked_up(fleet, alerts, context):
    # Given the lookups are counted by principal
    principals = []
    inject_faults(
        handler.clients()[0], "ListPrincipalThingsV2", lambda r: principals.append(r.headers["x-amzn-principal"])
    )
    # When the audit runs, Then the ACTIVE certificate (no finding) was never looked up
    handler.lambda_handler({}, context)
    assert len(principals) == 2
    assert not [p for p in principals if fleet["active"] in (p.decode() if isinstance(p, bytes) else p)]


def test_three_hundred_things_are_counted_across_pages_with_a_sample_of_five(backend, alerts, context, monkeypatch):
    # Given a REVOKED certificate attached to 300 things (two pages of 250)
    make_inventory_table(monkeypatch)
    ca = seed_ca(backend, "crowded")
    monkeypatch.setenv("CA_CERTIFICATE_IDS", ca)
    [crowded] = seed_device_certificates(backend, ca, [device_certificate_pem(NOW + timedelta(days=9))], "REVOKED")
    arn = backend.certificates[crowded].arn
    for n in range(300):
        backend.principal_things[(arn, f"thing-{n}")] = (None, None)  # straight into moto's attachment index
    # When the audit runs
    handler.lambda_handler({}, context)
    # Then all 300 are counted, five named
    finding = finding_of(json.loads(alerts.published()[0]["Message"]["default"]), crowded)
    assert finding["attachedThings"] == 300 and len(finding["attachedThingsSample"]) == 5


def hang(virtual_time):
    def rule(request):
        virtual_time.advance(ATTEMPT_MAX_S, None)
        return ReadTimeoutError(endpoint_url=request.url)

    return rule


def crafted(body: bytes) -> AWSResponse:
    client = handler.clients()[0]
    headers = {"Content-Type": "application/json", "x-amzn-RequestId": "crafted"}
    return AWSResponse(client.meta.endpoint_url, 200, headers, emulator._Body(body))


@pytest.mark.parametrize("operation", ["ListPrincipalThingsV2", "ListAttachedPolicies"])
@pytest.mark.parametrize(
    "fault, code, attempts",
    [
        ("AccessDeniedException", "AccessDeniedException", 1),
        ("ServiceUnavailableException", "ServiceUnavailableException", RETRY_ATTEMPTS),
        ("not a list", "MalformedResponse", 1),
        ("token not a string", "MalformedResponse", 1),
    ],
)
def test_a_failing_lookup_leaves_that_finding_unknown_and_costs_nothing_else(
    fleet, alerts, context, virtual_time, operation, fault, code, attempts
):
    # Given every lookup of the attached certificate fails this way
    arn = emulator.iot_backend(REGION).certificates[fleet["attached"]].arn
    items = "principalThingObjects" if operation == "ListPrincipalThingsV2" else "policies"
    token = "nextToken" if operation == "ListPrincipalThingsV2" else "nextMarker"
    answers = {
        "not a list": lambda r: crafted(json.dumps({items: "many"}).encode()),
        "token not a string": lambda r: crafted(json.dumps({items: [], token: 7}).encode()),
    }
    tries = []

    def fail(request):
        if fleet["attached"] not in request.url and fleet["attached"] not in str(
            request.headers.get("x-amzn-principal")
        ):
            return None
        tries.append(1)
        return answers[fault](request) if fault in answers else fault

    inject_faults(handler.clients()[0], operation, fail)

    # When the audit runs
    result = handler.lambda_handler({}, context)

    # Then after the retries its error deserves, that finding's attachments are unknown (absent, not 0),
    # the other finding is looked up, the run error names the code, the report goes out
    assert len(tries) == attempts
    report = json.loads(alerts.published()[0]["Message"]["default"])
    assert "attachedThings" not in finding_of(report, fleet["attached"])
    assert finding_of(report, fleet["loose"])["attachedThings"] == 0
    [error] = [e for e in result["errors"] if e["source"] == "inventory"]
    assert error["code"] == code and "attachment lookups" in error["message"]
    assert arn  # the certificate the lookups named


def test_throttled_lookups_are_ridden_out(fleet, alerts, context):
    tries = []
    inject_faults(
        handler.clients()[0],
        "ListAttachedPolicies",
        lambda r: (tries.append(1), "ThrottlingException")[1] if len(tries) < 3 else None,
    )
    result = handler.lambda_handler({}, context)
    report = json.loads(alerts.published()[0]["Message"]["default"])
    assert finding_of(report, fleet["attached"])["attachedPolicies"] == 2
    assert [e for e in result["errors"] if e["source"] == "inventory"] == []


def test_lookups_take_at_most_half_the_budget_and_the_rest_wait(backend, alerts, context, monkeypatch):
    # Given 40 REVOKED certificates and a budget of 10 s at 2 calls a second (two calls a lookup)
    make_inventory_table(monkeypatch)
    ca = seed_ca(backend, "revoked")
    monkeypatch.setenv("CA_CERTIFICATE_IDS", ca)
    monkeypatch.setenv("INVENTORY_RATE_LIMIT", "2")
    monkeypatch.setenv("INVENTORY_TIME_BUDGET_SECONDS", "10")
    seed_device_certificates(
        backend, ca, [device_certificate_pem(NOW + timedelta(days=300)) for _ in range(40)], "REVOKED"
    )
    # When the audit runs
    result = handler.lambda_handler({}, context)
    # Then half the budget (5 s: 10 calls) looked up at most 5, and the describes had the other half
    looked_up = result["summary"]["inventory"]["attachmentsLookedUp"]
    assert 1 <= looked_up <= 5
    report = json.loads(alerts.published()[0]["Message"]["default"])
    assert sum("attachedThings" in f for f in report["findings"]) == looked_up
    assert result["summary"]["inventory"]["describedThisRun"] >= 9


@pytest.mark.parametrize("operation", ["ListPrincipalThingsV2", "ListAttachedPolicies"])
def test_a_hanging_lookup_ends_within_half_the_budget_and_the_describes_still_run(
    fleet, alerts, context, virtual_time, operation
):
    # Given every lookup hangs until botocore's read timeout gives up on it
    started = virtual_time.monotonic()
    inject_faults(handler.clients()[0], operation, hang(virtual_time))
    # When the audit runs
    result = handler.lambda_handler({}, context)
    # Then no finding says anything of its attachments, the certificates were still described,
    # the run took about half the budget for the lookups (and their last attempts), and the report went out
    report = json.loads(alerts.published()[0]["Message"]["default"])
    assert not [f for f in report["findings"] if "attachedThings" in f]
    assert result["summary"]["inventory"]["describedThisRun"] == 3
    assert virtual_time.monotonic() - started < 150 + 4 * ATTEMPT_MAX_S + 60
