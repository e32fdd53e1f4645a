"""Validation of what the audit hands out against published schemas, for every test that wants it.

- The report: docs/report.schema.json (JSON Schema 2020-12) with `jsonschema`.
- OCSF documents (cert_audit.ocsf): the maintained model package py-ocsf-models, whose
  version of OCSF must be the one the documents name.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import jsonschema
import py_ocsf_models
from py_ocsf_models.events.findings.compliance_finding import ComplianceFinding
from py_ocsf_models.objects.account import TypeID as AccountTypeID
from py_ocsf_models.objects.cloud import Cloud
from py_ocsf_models.objects.compliance_status import StatusID as ComplianceStatusID

REPORT_SCHEMA = Path(__file__).resolve().parents[1] / "docs" / "report.schema.json"


@functools.cache
def report_validator() -> jsonschema.protocols.Validator:
    schema = json.loads(REPORT_SCHEMA.read_text())
    validator = jsonschema.validators.validator_for(schema)
    validator.check_schema(schema)
    return validator(schema, format_checker=validator.FORMAT_CHECKER)


def validate_report(report: dict) -> None:
    """The report (the JSON the function publishes and archives, the CLI's --format json)."""
    report_validator().validate(report)


def validate_invocation_result(result: dict) -> None:
    """What the function returns when invoked: the report without its findings list."""
    validator = report_validator()
    validator.evolve(schema={"$ref": "#/$defs/invocationResult", **_root_keywords(validator.schema)}).validate(result)


def _root_keywords(schema: dict) -> dict:
    # A $ref to the root's $defs resolves against the root document ($id and $defs).
    return {key: schema[key] for key in ("$schema", "$id", "$defs") if key in schema}


# What OCSF 1.5.0 has and py-ocsf-models' ComplianceFinding lacks: the cloud profile's `cloud`
# (the package's Account also requires a `name`, which OCSF does not) and the compliance
# object's `status` caption. Checked here by hand, against the package's own enums.
MODEL_GAPS = ("cloud",)


def validate_ocsf(document: dict) -> None:
    """One OCSF document: valid for the package's ComplianceFinding model, every attribute kept
    (the model ignores attributes it does not know, so a round trip shows one it dropped)."""
    assert document["metadata"]["version"] == py_ocsf_models.OCSF_VERSION
    model = ComplianceFinding.model_validate(document)
    kept = model.model_dump(mode="json", exclude_unset=True)
    expected = {key: value for key, value in document.items() if key not in MODEL_GAPS}
    compliance = {**expected["compliance"]}
    status = compliance.pop("status", None)
    assert status is None or status == ComplianceStatusID(compliance["status_id"]).name
    assert kept == {**expected, "compliance": compliance}
    cloud = {**document["cloud"]}
    account = cloud.pop("account", None)
    assert Cloud.model_validate(cloud).model_dump(mode="json", exclude_unset=True) == cloud
    if account is not None:
        assert set(account) == {"uid", "type_id", "type"}
        assert AccountTypeID(account["type_id"]) == AccountTypeID.AWS_Account
