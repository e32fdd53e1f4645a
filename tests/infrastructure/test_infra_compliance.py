"""cdk-nag and cfn-lint on every synthesized variant: no finding, and no acknowledgement left unused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cfnlint.api import ManualArgs, lint

from infra import nag
from tests.infrastructure.conftest import QUIET

SAMPLE_SUPPRESSIONS = Path(__file__).parent / "fixtures" / "suppressions.yaml"

# cfn-lint checks ignored, each a known false positive of CDK-generated templates:
# - W3005 "obsolete DependsOn": CDK makes the function DependsOn its role and the role's
#   default policy on purpose, so the policy exists before the function can be invoked;
#   the role's GetAtt only orders the role itself, not the policy.
IGNORED_CFN_LINT_CHECKS = ["W3005"]
# Regions the template is checked against (resource and property availability).
CFN_LINT_REGIONS = ["us-east-1", "eu-west-1", "ap-southeast-2"]


# The configuration that exercises every acknowledgement (all CAs ('*') and an email) and builds
# every optional resource: the suppressions parameter and its read, the CA expiry alarm, the
# digest rule, the events permission and its alarm, the findings alarms, Security Hub's.
EVERYTHING = {
    "alertEmails": "ops@example.com",
    "suppressionsFile": str(SAMPLE_SUPPRESSIONS),
    "alarmOnFindings": "true",
    "alarmOnNewFindings": "true",
    "securityHub": "true",  # its two permissions and its alarm (issue 11)
}
VARIANTS = {
    "everything": EVERYTHING,
    "defaults": {},
    "no digest, no events": QUIET,
    "no inventory, account scope": {"inventory": "false", "scope": "account"},
    "account scope, inventory": {"scope": "account", "inventoryRateLimit": "10", "weakSignatureHashes": ""},
    "one invocation a run": {"maxContinuations": "0"},  # the state machine never continues (issue 12)
}


@pytest.fixture(scope="module", params=list(VARIANTS), ids=list(VARIANTS))
def variant(request, synthesized):
    return request.param, synthesized(VARIANTS[request.param])


@pytest.fixture(scope="module")
def synth(synthesized):
    return synthesized(EVERYTHING)


def test_cdk_nag_reports_no_unacknowledged_finding(variant):
    # Given the validation report cdk-nag wrote during the variant's synth (a finding would have failed synth)
    _, synth = variant
    reports = synth.validation_report()["pluginReports"]

    # Then both packs ran and passed
    assert {report["pluginName"]: report["conclusion"] for report in reports} == {
        "AwsSolutions": "success",
        "Serverless": "success",
    }
    assert [violation for report in reports for violation in report["violations"]] == []


def test_every_acknowledgement_is_used_and_carries_its_reason(synth):
    # Given the findings cdk-nag suppressed, with the acknowledgement that suppressed each
    suppressed = {
        (violation["acknowledgedId"], violation["reason"])
        for report in synth.validation_report()["pluginReports"]
        for violation in report["suppressedViolations"]
    }

    # Then each acknowledgement in infra/nag.py suppressed something (none is stale), with its reason
    assert {(item.rule, item.reason) for item in nag.ACKNOWLEDGEMENTS} == suppressed
    assert "AwsSolutions::AwsSolutions-S1" in {rule for rule, _ in suppressed}  # the report bucket's access logs
    assert all(len(item.reason) > 80 for item in nag.ACKNOWLEDGEMENTS)


def test_without_the_acknowledgements_synth_fails_on_the_findings(synthesize, monkeypatch):
    # Given the stack built without its acknowledgements
    monkeypatch.setattr("infra.stack.acknowledge", lambda stack: None)

    # When synthesized
    with pytest.raises(RuntimeError, match="ValidationFailed") as error:
        synthesize({"alertEmails": "ops@example.com"})

    # Then cdk-nag stops the synth and names the findings (so the checks really run on every synth)
    assert "AwsSolutions-IAM5[Resource::*]" in str(error.value)
    assert "Serverless-SNSRedrivePolicy" in str(error.value)
    assert "AwsSolutions-S1" in str(error.value)  # the report bucket has no server access logs
    assert "AwsSolutions-IAM5[Resource::<MemoryReportBucket3C9E49C7.Arn>/reports/*]" in str(error.value)


def test_cfn_lint_finds_nothing(variant):
    # Given the variant's synthesized template
    _, synth = variant
    template = json.dumps(synth.template_json)

    # When linted
    matches = lint(template, config=ManualArgs(regions=CFN_LINT_REGIONS, ignore_checks=IGNORED_CFN_LINT_CHECKS))

    # Then there is no error, warning or informational finding
    assert [str(match) for match in matches] == []


def test_cfn_lint_still_sees_the_ignored_check_so_the_ignore_is_needed(synth):
    # The ignore list holds only checks that fire on this template; remove one when it stops.
    matches = lint(json.dumps(synth.template_json), config=ManualArgs(regions=CFN_LINT_REGIONS))
    assert sorted({match.rule.id for match in matches}) == IGNORED_CFN_LINT_CHECKS
