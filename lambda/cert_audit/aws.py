"""The only module that talks to AWS: clients, IoT listing and SNS publishing.

Everything above it receives plain dicts and lists; clients are passed in, so tests and
the CLI can hand over clients for an emulator or another profile.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.utils import parse_timestamp

# Explicit, because the Lambda runtime's bundled boto3 may default differently. Adaptive
# mode is standard retries plus a client-side rate limiter that backs off as throttling
# starts, which is what an account-wide IoT request quota needs; ten attempts ride out a
# sustained burst. The pool is sized for the concurrent CA scans that share one client.
RETRY_ATTEMPTS = 10  # in all, the first attempt included
CLIENT_CONFIG = Config(
    retries={"mode": "adaptive", "total_max_attempts": RETRY_ATTEMPTS},
    max_pool_connections=32,
    connect_timeout=5,
    read_timeout=30,
    user_agent_extra="iot-certificate-audit",
)


def make_clients(session: boto3.Session | None = None, endpoint_url: str | None = None) -> tuple[Any, Any]:
    """IoT and SNS clients with the audit's retry configuration and fast certificate pages."""
    session = session or boto3.Session()
    iot = session.client("iot", config=CLIENT_CONFIG, endpoint_url=endpoint_url)
    iot.meta.events.register("before-parse.iot.ListCertificatesByCA", read_page_fast)
    return iot, session.client("sns", config=CLIENT_CONFIG, endpoint_url=endpoint_url)


def read_page_fast(response_dict: dict, customized_response_dict: dict, **_) -> None:
    """Read a successful ListCertificatesByCA page with json.loads instead of botocore's parser.

    Profiling (bench/RESULTS.md) shows botocore's shape walker and its timestamp parser
    (dateutil, per creationDate) are nearly all of a scan's CPU; this reads the same REST-JSON
    body in C and turns creationDate (epoch seconds) into the same aware UTC datetime. botocore
    merges `customized_response_dict` into what it parses, and still parses error responses
    (any status but 200), so its error handling, retries and response metadata are unchanged.
    """
    if response_dict["status_code"] != 200:
        return
    page = json.loads(response_dict["body"])
    for certificate in page.get("certificates", ()):
        created = certificate.get("creationDate")
        if isinstance(created, int | float):
            certificate["creationDate"] = datetime.fromtimestamp(created, UTC)
        elif created is not None:
            certificate["creationDate"] = parse_timestamp(created)
    customized_response_dict.update(page)
    response_dict["body"] = b"{}"


def retries_of(response: dict) -> int:
    """How many retries botocore made before this response (or error response)."""
    return response.get("ResponseMetadata", {}).get("RetryAttempts", 0)


def error_of(error: Exception) -> dict:
    """{"code", "message"} of a failed call: the AWS error code, else the exception's class name."""
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        return {"code": details.get("Code") or "Unknown", "message": details.get("Message") or str(error)}
    return {"code": type(error).__name__, "message": str(error)}


def certificate_page(iot, ca_certificate_id: str, page_size: int, marker: str | None) -> tuple[list, str | None, int]:
    """One ListCertificatesByCA page: (certificates, nextMarker or None, retries it took)."""
    request = {"caCertificateId": ca_certificate_id, "pageSize": page_size}
    if marker:
        request["marker"] = marker
    response = iot.list_certificates_by_ca(**request)
    return response.get("certificates", []), response.get("nextMarker") or None, retries_of(response)


def describe_ca(iot, ca_certificate_id: str) -> dict:
    """The CA's certificateDescription (status, validity, certificateMode, autoRegistrationStatus...)."""
    return iot.describe_ca_certificate(certificateId=ca_certificate_id)["certificateDescription"]


def all_ca_certificate_ids(iot, page_size: int) -> list[str]:
    """Every CA certificate registered in the account and region (ListCACertificates, paginated)."""
    ids: list[str] = []
    request: dict[str, Any] = {"pageSize": page_size}
    while True:
        response = iot.list_ca_certificates(**request)
        ids.extend(ca["certificateId"] for ca in response.get("certificates", []))
        marker = response.get("nextMarker")
        if not marker:
            return ids
        request["marker"] = marker


def read_parameter(name: str, max_age_seconds: int) -> str:
    """An SSM parameter's value through Powertools Parameters, cached between invocations."""
    from aws_lambda_powertools.utilities import parameters

    return parameters.get_parameter(name, max_age=max_age_seconds)


def publish(sns, topic_arn: str, message: dict) -> str:
    """Publish a built SNS message (see message.py); returns the MessageId. Errors propagate."""
    return sns.publish(TopicArn=topic_arn, MessageStructure="json", **message)["MessageId"]
