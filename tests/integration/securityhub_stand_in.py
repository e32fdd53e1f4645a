"""Security Hub for the tests: moto's falls short, so a stand-in answers the function's calls.

moto 5.2 keeps imported findings in a list keyed by Id alone, lets an import overwrite Workflow
and Note, ignores UpdatedAt, accepts a finding whatever its account, and has no
BatchUpdateFindings (its URL map has no /findings/batchupdate). So BatchImportFindings and
BatchUpdateFindings of the function's client are answered here, through botocore's before-send
hook (botocore still serializes every request and parses every answer), by a register of
findings that applies the rules of the Security Hub user guide:
- a finding is keyed by (ProductArn, Id): an import with a known key updates, never adds;
- an update whose UpdatedAt is not after the finding's is ignored;
- after creation an import cannot change Note, UserDefinedFields, VerificationState or Workflow;
- FindingProviderFields' Severity and Types are copied to the top level unless BatchUpdateFindings
  changed the top level;
- a finding moving from ARCHIVED to ACTIVE, or from PASSED to FAILED, with its workflow NOTIFIED
  or RESOLVED goes back to NEW;
- BatchUpdateFindings sets Workflow and Note (Note.UpdatedAt is the call's time), never
  UpdatedAt, and answers an unknown finding as unprocessed;
- the caller's account only, with Security Hub enabled: else every finding fails InvalidAccess.
Every imported document is validated too: against botocore's model for BatchImportFindings
(ParamValidator), the required attributes of the ASFF documentation (Severity and Types may come
in FindingProviderFields, the providers' place for them), the length limits the model's
documentation states, the timestamp format and the Types taxonomy's namespaces. A document that
fails is refused InvalidInput, as Security Hub would, and kept in `invalid` for the test to see.
Not emulated: the 10 TPS quota (faults stand in for throttling), size limits in bytes, ageing.
"""

from __future__ import annotations

import copy
import json
import re
from collections import Counter
from datetime import UTC, datetime

import botocore.session
from botocore.awsrequest import AWSResponse
from botocore.validate import ParamValidator

from cert_audit.emulator import _Body

MODEL = botocore.session.get_session().get_service_model("securityhub")
FINDING_SHAPE = MODEL.operation_model("BatchImportFindings").input_shape.members["Findings"].member
# Required top-level attributes of the ASFF documentation (asff-required-attributes).
DOCUMENTED_REQUIRED = (
    "AwsAccountId",
    "CreatedAt",
    "Description",
    "GeneratorId",
    "Id",
    "ProductArn",
    "Resources",
    "SchemaVersion",
    "Severity",
    "Title",
    "Types",
    "UpdatedAt",
)
RESTRICTED = ("Note", "UserDefinedFields", "VerificationState", "Workflow")  # BatchUpdateFindings' only
PROVIDER_FIELDS = ("Severity", "Types", "Confidence", "Criticality", "RelatedFindings")
TAXONOMY_NAMESPACES = (
    "Software and Configuration Checks",
    "TTPs",
    "Effects",
    "Unusual Behaviors",
    "Sensitive Data Identifications",
)
# ASFF timestamps: RFC 3339, UTC with Z (or an offset), optional fraction of a second.
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$")
TIMESTAMPS = ("CreatedAt", "UpdatedAt", "FirstObservedAt", "LastObservedAt")
# Where test_memory_faults.inject_faults sends a request it answered: botocore calls every
# before-send handler, so the stand-in must not act on a call the fault refused.
FAULT_URL = "fault.invalid"


def documented_max(shape) -> int | None:
    """The maximum length a member's documentation states ("Maximum length of 256")."""
    found = re.search(r"Maximum (?:length )?of (\d+)", re.sub("<[^>]+>", "", shape.documentation or ""))
    return int(found.group(1)) if found else None


LIMITS = {
    ("Title",): documented_max(FINDING_SHAPE.members["Title"]),
    ("Description",): documented_max(FINDING_SHAPE.members["Description"]),
    ("GeneratorId",): documented_max(FINDING_SHAPE.members["GeneratorId"]),
    ("Id",): documented_max(FINDING_SHAPE.members["Id"]),
    ("Remediation", "Recommendation", "Text"): documented_max(
        FINDING_SHAPE.members["Remediation"].members["Recommendation"].members["Text"]
    ),
    ("Note", "Text"): documented_max(FINDING_SHAPE.members["Note"].members["Text"]),
}


def asff_problems(document: dict, account: str, region: str) -> list[str]:
    """Why Security Hub would refuse the document; [] if it is a valid finding of this account."""
    report = ParamValidator().validate(document, FINDING_SHAPE)
    problems = [report.generate_report()] if report.has_errors() else []
    provider = document.get("FindingProviderFields") or {}
    for name in DOCUMENTED_REQUIRED:
        if name not in document and name not in provider:
            problems.append(f"{name} missing (the ASFF documentation requires it)")
    severity = document.get("Severity") or provider.get("Severity") or {}
    if not (severity.get("Label") or "Normalized" in severity):
        problems.append("Severity has neither Label nor Normalized")
    for path, limit in LIMITS.items():
        value = document
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        if isinstance(value, str) and len(value) > limit:
            problems.append(f"{'.'.join(path)} is {len(value)} characters, more than {limit}")
    for name in TIMESTAMPS:
        if name in document and not TIMESTAMP.match(document[name]):
            problems.append(f"{name} {document[name]!r} is not an RFC 3339 time")
    if document.get("SchemaVersion") != "2018-10-08":
        problems.append(f"SchemaVersion {document.get('SchemaVersion')!r}")
    for kind in document.get("Types") or provider.get("Types") or []:
        if not kind.startswith(TAXONOMY_NAMESPACES) or len(kind.split("/")) > 3:
            problems.append(f"type {kind!r} is not namespace/category/classifier of the taxonomy")
    resources = document.get("Resources") or []
    if not 1 <= len(resources) <= 32:
        problems.append(f"{len(resources)} resources")
    for resource in resources:
        other = (resource.get("Details") or {}).get("Other") or {}
        if len(other) > 50 or any(len(key) >= 128 or len(value) >= 1024 for key, value in other.items()):
            problems.append("Details.Other over 50 pairs, or a key or value too long")
        if resource.get("Region") != region or resource.get("Partition") != "aws":
            problems.append(f"resource {resource.get('Id')} in {resource.get('Partition')}/{resource.get('Region')}")
    fields = document.get("ProductFields") or {}
    if len(fields) > 50 or any(len(key) > 128 or len(value) > 2048 for key, value in fields.items()):
        problems.append("ProductFields over 50 pairs, or a key or value too long")
    if document.get("CreatedAt", "") > document.get("UpdatedAt", ""):
        problems.append("CreatedAt after UpdatedAt")
    return problems


def error(code: str, message: str | None = None) -> AWSResponse:
    """An error as Security Hub sends it (REST-JSON: the code in x-amzn-ErrorType), with the HTTP
    status its model gives the code (403 for IAM's AccessDeniedException)."""
    statuses = {shape.name: shape.metadata["error"]["httpStatusCode"] for shape in MODEL.error_shapes}
    headers = {"x-amzn-ErrorType": f"{code}:", "Content-Type": "application/json", "x-amzn-RequestId": "fault"}
    body = json.dumps({"Code": code, "Message": message or f"Injected {code}"}).encode()
    return AWSResponse("https://securityhub", statuses.get(code, 403), headers, _Body(body))


def answer(body: dict | str | bytes) -> AWSResponse:
    """A successful answer with this body (a dict as JSON; text or bytes as they are)."""
    raw = body if isinstance(body, bytes) else (body if isinstance(body, str) else json.dumps(body)).encode()
    headers = {"Content-Type": "application/json", "x-amzn-RequestId": "stand-in"}
    return AWSResponse("https://securityhub", 200, headers, _Body(raw))


class SecurityHub:
    """The register of findings, and the calls the function made of it."""

    def __init__(self, account: str, region: str):
        self.account, self.region = account, region
        self.product = f"arn:aws:securityhub:{region}:{account}:product/{account}/default"
        self.findings: dict[tuple[str, str], dict] = {}
        self.customer_set: dict[tuple[str, str], set[str]] = {}  # top-level fields BatchUpdateFindings set
        self.enabled = True
        self.calls: Counter = Counter()  # operation name: calls
        self.batches: list[list[str]] = []  # the Ids of each BatchImportFindings call, in order
        self.updates: list[dict] = []  # each BatchUpdateFindings request
        self.invalid: list[tuple[str, list[str]]] = []  # (Id, problems) of every document refused as invalid
        self.refuse = None  # optional rule: document -> (ErrorCode, ErrorMessage) to refuse it, or None

    def install(self, client) -> None:
        """Answer the client's two calls from the register. Registered for the operation's own
        event, it comes before moto (registered for every before-send); registered after the
        faults' register_first, it lets the faults a test injects answer first."""
        events = client.meta.events
        events.register("before-send.securityhub.BatchImportFindings", self._import)
        events.register("before-send.securityhub.BatchUpdateFindings", self._update)

    # --- what the tests read ----------------------------------------------------------------

    def finding(self, finding_id: str) -> dict:
        return self.findings[self.product, finding_id]

    def active(self) -> dict[str, dict]:
        return {key[1]: f for key, f in self.findings.items() if f["RecordState"] == "ACTIVE"}

    def imported_ids(self) -> list[str]:
        return [finding_id for batch in self.batches for finding_id in batch]

    # --- the two operations -----------------------------------------------------------------

    def _import(self, request, **_) -> AWSResponse | None:
        if FAULT_URL in request.url:
            return None  # a fault answered it
        self.calls["BatchImportFindings"] += 1
        documents = json.loads(request.body)["Findings"]
        self.batches.append([document["Id"] for document in documents])
        failed = []
        for document in documents:
            refusal = self._refusal(document)
            if refusal:
                failed.append({"Id": document["Id"], "ErrorCode": refusal[0], "ErrorMessage": refusal[1]})
            else:
                self._store(document)
        taken = len(documents) - len(failed)
        return answer({"FailedCount": len(failed), "SuccessCount": taken, "FailedFindings": failed})

    def _refusal(self, document: dict) -> tuple[str, str] | None:
        if not self.enabled:
            return "InvalidAccess", f"Account {self.account} is not subscribed to AWS Security Hub"
        if document.get("AwsAccountId") != self.account or document.get("ProductArn") != self.product:
            return "InvalidAccess", "findings of another account or product"
        problems = asff_problems(document, self.account, self.region)
        if problems:
            self.invalid.append((document["Id"], problems))
            return "InvalidInput", "; ".join(problems)
        return self.refuse(document) if self.refuse else None

    def _store(self, document: dict) -> None:
        key = (document["ProductArn"], document["Id"])
        existing = self.findings.get(key)
        new = copy.deepcopy(document)
        provider = new.get("FindingProviderFields") or {}
        if existing is None:
            for name in PROVIDER_FIELDS:
                if name in provider:
                    new[name] = copy.deepcopy(provider[name])
            new.setdefault("Workflow", {"Status": "NEW"})
            self.findings[key] = new
            return
        if document["UpdatedAt"] <= existing["UpdatedAt"]:
            return  # ignored: not newer than what Security Hub has
        for name in RESTRICTED:
            new.pop(name, None)
            if name in existing:
                new[name] = existing[name]
        for name in PROVIDER_FIELDS:
            if name in self.customer_set.get(key, ()):
                new[name] = existing[name]
            elif name in provider:
                new[name] = copy.deepcopy(provider[name])
        reactivated = existing["RecordState"] == "ARCHIVED" and new.get("RecordState") == "ACTIVE"
        failing_again = (existing.get("Compliance") or {}).get("Status") == "PASSED" and (
            new.get("Compliance") or {}
        ).get("Status") in ("FAILED", "WARNING", "NOT_AVAILABLE")
        if (reactivated or failing_again) and new["Workflow"]["Status"] in ("NOTIFIED", "RESOLVED"):
            new["Workflow"] = {"Status": "NEW"}
        self.findings[key] = new

    def _update(self, request, **_) -> AWSResponse | None:
        if FAULT_URL in request.url:
            return None  # a fault answered it
        self.calls["BatchUpdateFindings"] += 1
        body = json.loads(request.body)
        self.updates.append(body)
        processed, unprocessed = [], []
        for identifier in body["FindingIdentifiers"]:
            key = (identifier["ProductArn"], identifier["Id"])
            finding = self.findings.get(key)
            if finding is None or not self.enabled:
                unprocessed.append(
                    {"FindingIdentifier": identifier, "ErrorCode": "FindingNotFound", "ErrorMessage": "no such finding"}
                )
                continue
            if "Workflow" in body:
                finding["Workflow"] = {"Status": body["Workflow"]["Status"]}
            if "Note" in body:
                now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
                finding["Note"] = {**body["Note"], "UpdatedAt": now}
            for name in ("Severity", "Types"):
                if name in body:
                    finding[name] = body[name]
                    self.customer_set.setdefault(key, set()).add(name)
            processed.append(identifier)
        return answer({"ProcessedFindings": processed, "UnprocessedFindings": unprocessed})
