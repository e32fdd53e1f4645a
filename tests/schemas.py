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
def _validators() -> dict[str, jsonschema.protocols.Validator]:
    """The report's validator and the invocation result's (the same schema, another $defs entry),
    each with its $refs inlined: jsonschema then validates in half the time."""
    schema = json.loads(REPORT_SCHEMA.read_text())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return {name: cls(_inlined(schema["$defs"][name], schema["$defs"])) for name in ("report", "invocationResult")}


def _inlined(node: object, defs: dict) -> object:
    """`node` with each "#/$defs/..." reference replaced by what it names (the schema has no cycles)."""
    if isinstance(node, list):
        return [_inlined(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    rest = {key: _inlined(value, defs) for key, value in node.items() if key != "$ref"}
    if "$ref" not in node:
        return rest
    target = _inlined(defs[node["$ref"].removeprefix("#/$defs/")], defs)
    return {**target, **rest} if not set(target) & set(rest) - {"description"} else {"allOf": [target], **rest}


def _validate(kind: str, instance: dict, where: str) -> None:
    error = jsonschema.exceptions.best_match(_validators()[kind].iter_errors(instance))
    if error is not None:
        raise AssertionError(
            f"{where} does not match docs/report.schema.json ($defs/{kind}): {error.message[:300]} "
            f"at {error.json_path} (a new report field goes into the schema too)"
        )


def validate_report(report: dict, where: str = "the report") -> None:
    """The report (the JSON the function publishes and archives, the CLI's --format json)."""
    _validate("report", report, where)


def validate_invocation_result(result: dict, where: str = "the function's result") -> None:
    """What the function returns when invoked: the report without its findings list."""
    _validate("invocationResult", result, where)


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


# Every report the suite produces, checked where it leaves the engine. jsonschema takes about a
# millisecond a finding, so a list longer than 2 * EDGE is checked at its first and last EDGE
# items and one item of every other shape (its keys and the types of their values) in between:
# the items of one list come from the same few code paths, and a new field or type is a new shape.
EDGE = 100


def _shape(item: object) -> object:
    if isinstance(item, dict):
        return tuple((key, type(value).__name__) for key, value in item.items())
    return type(item).__name__


def sampled(report: dict) -> dict:
    """The report with each long list cut to its first and last EDGE items and one of each shape."""
    cut = dict(report)
    for key, value in report.items():
        if isinstance(value, list) and len(value) > 2 * EDGE:
            seen: set = set()
            middle = [item for item in value[EDGE:-EDGE] if (shape := _shape(item)) not in seen and not seen.add(shape)]
            cut[key] = value[:EDGE] + middle + value[-EDGE:]
    return cut


def check_reports(monkeypatch) -> None:
    """Validate every report at the points where it leaves the engine: the function's invocation
    result, the SNS message's report (the function's and the CLI's --publish), the archived JSON
    report and OCSF documents, and the CLI's --format json. A failure names the point."""
    from cert_audit import archive, cli, formats, handler, ocsf

    def wrap(module, name, check):
        real = getattr(module, name)

        def checked(*args, **kwargs):
            result = real(*args, **kwargs)
            check(result, *args, **kwargs)
            return result

        monkeypatch.setattr(module, name, checked)

    def invocation_result(result, *_, **__):
        if isinstance(result, dict) and "schemaVersion" in result:  # not a skipped run's {"skipped": ...}
            validate_invocation_result(sampled(result), "the function's invocation result")

    def published(_, report, *__, **___):
        validate_report(sampled(report), "the report in the SNS message")

    def archived(_, report, *__, **___):
        validate_report(sampled(report), "the archived JSON report")

    def archived_ocsf(_, report, *__, **___):
        for document in ocsf.documents(sampled(report)):
            validate_ocsf(document)

    wrap(handler, "lambda_handler", invocation_result)
    for module in (handler, cli):
        wrap(module, "build_message", published)
    wrap(archive, "write_report_json", archived)
    wrap(ocsf, "write_json", archived_ocsf)  # the archive writes the OCSF documents through it
    json_format = formats.FORMATS["json"]

    def cli_json(report: dict) -> str:
        text = json_format.render(report)
        validate_report(sampled(json.loads(text)), "the CLI's --format json")
        return text

    monkeypatch.setitem(formats.FORMATS, "json", formats.Format(cli_json, json_format.extension))
