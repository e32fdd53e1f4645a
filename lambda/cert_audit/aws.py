"""The only module that talks to AWS: clients, IoT listing and SNS publishing.

Everything above it receives plain dicts and lists; clients are passed in, so tests and
the CLI can hand over clients for an emulator or another profile.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.parsers import ResponseParserError

from cert_audit.calls import CONNECT_TIMEOUT_S, NO_DEADLINE, READ_TIMEOUT_S, CallStats, Deadline, RateLimiter, call

# botocore's retries are off: every call is retried by calls.call, per call and within the
# deadline (see calls.py for why). The pool is sized for the concurrent CA scans that share
# one client; the timeouts bound one attempt (calls.ATTEMPT_MAX_S).
CLIENT_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": 1},
    max_pool_connections=32,
    connect_timeout=CONNECT_TIMEOUT_S,
    read_timeout=READ_TIMEOUT_S,
    user_agent_extra="iot-certificate-audit",
)
# A run of empty pages this long, each with a nextMarker, is a loop, not a fleet.
EMPTY_PAGES_MAX = 100


class MalformedResponse(Exception):
    """An answer that lacks a field the audit needs, or has it with the wrong type."""


class PagingLoop(Exception):
    """A paginated listing that would go round in circles: a nextMarker or a page came back."""


def make_clients(session: boto3.Session | None = None, endpoint_url: str | None = None) -> tuple[Any, Any]:
    """IoT and SNS clients with the audit's configuration and fast certificate pages."""
    session = session or boto3.Session()
    iot = session.client("iot", config=CLIENT_CONFIG, endpoint_url=endpoint_url)
    iot.meta.events.register("before-parse.iot.ListCertificatesByCA", read_page_fast)
    for operation in ("ListCACertificates", "DescribeCACertificate"):
        iot.meta.events.register(f"before-parse.iot.{operation}", reject_unreadable)
    return iot, session.client("sns", config=CLIENT_CONFIG, endpoint_url=endpoint_url)


def make_client(service: str, session: boto3.Session | None = None, endpoint_url: str | None = None) -> Any:
    """Any other client the function needs, with the audit's configuration (and fast Scan pages
    for DynamoDB)."""
    client = (session or boto3.Session()).client(service, config=CLIENT_CONFIG, endpoint_url=endpoint_url)
    if service == "dynamodb":
        client.meta.events.register("before-parse.dynamodb.Scan", read_scan_fast)
    return client


def read_page_fast(response_dict: dict, customized_response_dict: dict, **_) -> None:
    """Read a successful ListCertificatesByCA page with json.loads instead of botocore's parser.

    Profiling (bench/RESULTS.md) shows botocore's shape walker and its timestamp parser
    (dateutil, per creationDate) are nearly all of a scan's CPU; this reads the same REST-JSON
    body in C and turns creationDate (epoch seconds) into the same aware UTC datetime. botocore
    merges `customized_response_dict` into what it parses, and still parses error responses
    (any status but 200), so its error handling and response metadata are unchanged. Fields
    of the wrong type are left as they came, for the scan to count as malformed.
    """
    if response_dict["status_code"] != 200:
        return
    page = _json_object(response_dict["body"], "ListCertificatesByCA")
    certificates = page.get("certificates")
    for certificate in certificates if isinstance(certificates, list) else ():
        created = certificate.get("creationDate") if isinstance(certificate, dict) else None
        if isinstance(created, int | float) and not isinstance(created, bool):
            with contextlib.suppress(ValueError, OverflowError, OSError):  # out of range: milliseconds, say
                certificate["creationDate"] = datetime.fromtimestamp(created, UTC)
    customized_response_dict.update(page)
    response_dict["body"] = b"{}"


def read_scan_fast(response_dict: dict, customized_response_dict: dict, **_) -> None:
    """Read a successful DynamoDB Scan page of the state with json.loads instead of botocore's parser.

    The bench (bench/RESULTS.md, "Memory") found botocore's shape walk three quarters of the CPU
    of reading a million open findings. The state's attributes are strings, numbers and
    booleans, which botocore leaves as they came ({"S": "..."}, {"N": "..."}, {"BOOL": true}), so
    the page is the same either way; error answers are still botocore's to parse."""
    if response_dict["status_code"] != 200:
        return
    customized_response_dict.update(_json_object(response_dict["body"], "Scan"))
    response_dict["body"] = b"{}"


def _json_object(body: bytes, operation: str) -> dict:
    """The body of a successful answer as a JSON object. botocore reads a body that is not JSON
    as {"message": body}, an answer without items that would end a listing silently, so an
    unreadable answer raises ResponseParserError here (reported as MalformedResponse)."""
    try:
        answer = json.loads(body)
    except ValueError as error:
        raise ResponseParserError(f"{operation} answered with a body that is not JSON: {body[:80]!r}") from error
    if not isinstance(answer, dict):
        raise ResponseParserError(f"{operation} answered with a JSON {type(answer).__name__}, not an object")
    return answer


def reject_unreadable(response_dict: dict, operation_model, **_) -> None:
    if response_dict["status_code"] == 200:
        _json_object(response_dict["body"], operation_model.name)


def error_of(error: Exception) -> dict:
    """{"code", "message"} of a failed call: the AWS error code, else the exception's class name."""
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        return {"code": details.get("Code") or "Unknown", "message": details.get("Message") or str(error)}
    if isinstance(error, ResponseParserError):
        return {"code": MalformedResponse.__name__, "message": f"unreadable answer: {error}"}
    return {"code": type(error).__name__, "message": str(error)}


def certificate_problem(certificate: object) -> str | None:
    """What makes a listed certificate unusable for the audit, or None if it is well formed."""
    if not isinstance(certificate, dict):
        return "not an object"
    for name in ("certificateId", "status"):
        if not isinstance(certificate.get(name), str) or not certificate[name]:
            return f"{name} missing or not a string"
    if not isinstance(certificate.get("creationDate"), datetime):
        return "creationDate missing or not a time in epoch seconds"
    return None


class PageGuard:
    """Ends a listing that goes round in circles, before anything is counted twice: a page that
    starts with an item an earlier page started with, a nextMarker already followed, or a long
    run of empty pages that each promise more."""

    def __init__(self, operation: str, marker_name: str = "nextMarker"):
        self.operation = operation
        self.marker_name = marker_name
        self.markers: set[str] = set()
        self.first_items: set[str] = set()
        self.empty_pages = 0

    def admit(self, items: list, key: str) -> None:
        """Call before counting a page's items. A page is known by its first item with an ID,
        or, with none, by all of it: a repeated page of malformed items is a loop as well."""
        ids = (item.get(key) for item in items if isinstance(item, dict))
        first = next((i for i in ids if isinstance(i, str)), None) or (repr(items) if items else None)
        if first:
            if first in self.first_items:
                raise PagingLoop(f"{self.operation} returned a page it had returned before (from {key} {first[:80]})")
            self.first_items.add(first)
        self.empty_pages = 0 if items else self.empty_pages + 1
        if self.empty_pages >= EMPTY_PAGES_MAX:
            raise PagingLoop(
                f"{self.operation} returned {EMPTY_PAGES_MAX} empty pages in a row, each with more to come"
            )

    def follow(self, marker: str) -> None:
        """Call before requesting the page of `marker`."""
        if marker in self.markers:
            raise PagingLoop(f"{self.operation} returned {self.marker_name} {marker[:40]!r} a second time")
        self.markers.add(marker)


def _next_marker(response: dict) -> str | None:
    marker = response.get("nextMarker")
    if marker is not None and not isinstance(marker, str):
        raise MalformedResponse(f"nextMarker is a {type(marker).__name__}, not a string")
    return marker or None


def _items(response: dict, operation: str) -> list:
    items = response.get("certificates", [])
    if not isinstance(items, list):
        raise MalformedResponse(f"{operation}: certificates is a {type(items).__name__}, not a list")
    return items


@dataclass(frozen=True)
class Iot:
    """The audit's IoT calls: one client shared by every CA, the run's rate limit and deadline."""

    client: Any
    limiter: RateLimiter | None = None
    deadline: Deadline = NO_DEADLINE

    def _call(self, operation: str, stats: CallStats | None, **request: Any) -> dict:
        try:
            return call(getattr(self.client, operation), self.deadline, limiter=self.limiter, stats=stats, **request)
        except (AttributeError, TypeError, ValueError) as error:
            # botocore's parser trips over an answer of the wrong shape (a string for an object...)
            raise MalformedResponse(f"{operation}: unreadable answer ({type(error).__name__}: {error})") from error

    def certificate_page(
        self, ca_certificate_id: str, page_size: int, marker: str | None, stats: CallStats
    ) -> tuple[list, str | None]:
        """One ListCertificatesByCA page: (certificates as listed, nextMarker or None)."""
        request = {"caCertificateId": ca_certificate_id, "pageSize": page_size}
        if marker:
            request["marker"] = marker
        response = self._call("list_certificates_by_ca", stats, **request)
        return _items(response, "ListCertificatesByCA"), _next_marker(response)

    def describe_ca(self, ca_certificate_id: str, stats: CallStats) -> dict:
        """The CA's certificateDescription (status, validity, certificateMode, autoRegistrationStatus...)."""
        response = self._call("describe_ca_certificate", stats, certificateId=ca_certificate_id)
        description = response.get("certificateDescription")
        if not isinstance(description, dict):
            raise MalformedResponse("DescribeCACertificate answered without a certificateDescription")
        for name in ("certificateId", "status"):
            if not isinstance(description.get(name), str) or not description[name]:
                raise MalformedResponse(f"DescribeCACertificate answered without the CA's {name}")
        validity = description.get("validity") or {}
        if not isinstance(validity, dict):
            raise MalformedResponse("DescribeCACertificate answered with a validity that is not an object")
        not_after = validity.get("notAfter")
        if not_after is not None and not isinstance(not_after, datetime):
            raise MalformedResponse("DescribeCACertificate answered with a validity.notAfter that is not a time")
        return description

    def ca_certificate_ids(self, page_size: int, stats: CallStats | None = None) -> tuple[list[str], Exception | None]:
        """Every CA certificate registered in the account and region (ListCACertificates,
        paginated), each once, and the error that ended the listing early, if one did."""
        ids: dict[str, None] = {}  # in order, each once
        problem = None
        guard = PageGuard("ListCACertificates")
        request: dict[str, Any] = {"pageSize": page_size}
        try:
            while True:
                response = self._call("list_ca_certificates", stats, **request)
                cas = _items(response, "ListCACertificates")
                guard.admit(cas, "certificateId")
                for ca in cas:
                    ca_id = ca.get("certificateId") if isinstance(ca, dict) else None
                    if isinstance(ca_id, str) and ca_id:
                        ids[ca_id.lower()] = None
                    else:
                        problem = MalformedResponse(f"ListCACertificates listed a CA without a certificateId: {ca!r}")
                marker = _next_marker(response)
                if not marker:
                    return list(ids), problem
                guard.follow(marker)
                request["marker"] = marker
        except Exception as error:  # noqa: BLE001 - the CAs listed so far are still audited
            return list(ids), error


RUN_LOCK_ID = "audit-run"


def acquire_run_lock(dynamodb, table: str, owner: str, expires_at: int, deadline: Deadline = NO_DEADLINE) -> bool:
    """Take the run lock until `expires_at` (epoch seconds), unless another live run holds it.

    The owner is the Lambda request ID, which Lambda's own retry of a failed invocation keeps:
    the retry takes over its predecessor's lock instead of waiting for it to expire."""
    now = int(datetime.now(UTC).timestamp())
    try:
        call(
            dynamodb.put_item,
            deadline,
            TableName=table,
            Item={"lockId": {"S": RUN_LOCK_ID}, "owner": {"S": owner}, "expiresAt": {"N": str(expires_at)}},
            # A lock item without an expiry (written by hand, say) must not block every run forever.
            ConditionExpression=(
                "attribute_not_exists(lockId) OR attribute_not_exists(expiresAt) OR expiresAt < :now OR #owner = :owner"
            ),
            ExpressionAttributeNames={"#owner": "owner"},
            ExpressionAttributeValues={":now": {"N": str(now)}, ":owner": {"S": owner}},
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise
    return True


def release_run_lock(dynamodb, table: str, owner: str, deadline: Deadline = NO_DEADLINE) -> None:
    """Give the lock back if this run still holds it (an expired lock may have passed on)."""
    try:
        call(
            dynamodb.delete_item,
            deadline,
            TableName=table,
            Key={"lockId": {"S": RUN_LOCK_ID}},
            ConditionExpression="#owner = :owner",
            ExpressionAttributeNames={"#owner": "owner"},
            ExpressionAttributeValues={":owner": {"S": owner}},
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise


def read_parameter(name: str, max_age_seconds: int) -> str:
    """An SSM parameter's value through Powertools Parameters, cached between invocations."""
    from aws_lambda_powertools.utilities import parameters

    return parameters.get_parameter(name, max_age=max_age_seconds)


def publish(sns, topic_arn: str, message: dict, deadline: Deadline = NO_DEADLINE) -> str:
    """Publish a built SNS message (see message.py); returns the MessageId. Throttling and
    server errors (SNS's and, for an encrypted topic, KMS's) are retried within the deadline;
    the last error propagates."""
    return call(sns.publish, deadline, TopicArn=topic_arn, MessageStructure="json", **message)["MessageId"]
