"""Development-only: moto's IoT emulator, extended where it falls short of the documented API.

Used by the tests and by `cert-audit demo`; never shipped in the Lambda asset (it imports moto).

Fidelity added to moto's IoT (see shared reference list_certificates_by_ca and botocore's model):
- ListCertificatesByCA honours `pageSize` (1..250, else InvalidRequestException), `marker` /
  `nextMarker` (opaque; a marker that was never issued is an InvalidRequestException) and
  `isAscendingOrder` (by creationDate; descending by default), and returns `certificateMode`
  (DEFAULT unless a seeded certificate says otherwise). moto returns everything at once.
- ListCACertificates, which moto lacks, with the same paging.
- DescribeCACertificate reports the validity written in the CA certificate (moto says now ± 1
  day whatever the certificate says) and the CA's certificateMode and autoRegistrationStatus;
  `seed_ca` registers real X.509 CA certificates (made with `cryptography`) to read it from.
- Each CA's certificates are indexed once per change of the fleet's size instead of being
  filtered from every certificate of the account on each page (moto's way is O(fleet) a page).
- DescribeCertificate (issue 13) reports the validity written in the device certificate's PEM,
  as the API does (moto says now ± 1 day), its caCertificateId and certificateMode, and finds
  the certificate by ID instead of walking the fleet; `device_certificate_pem` makes real X.509
  device certificates with `cryptography` (RSA or EC, SHA-256 or SHA-1, any validity) and
  `seed_device_certificates` registers them. A PEM that is not a certificate (the fast fleets of
  `seed_certificates`) keeps moto's validity. Not emulated: certificates registered without a CA
  being told apart from AWS-issued ones (both have no caCertificateId here, as in the API).
- ListCertificates (issue 13) pages as ListCertificatesByCA does, with certificateMode; moto
  returns everything at once. ListAttachedPolicies and ListPrincipalThingsV2 page their answers
  (`pageSize`/`marker`, `maxResults`/`nextToken`); moto returns everything at once.
- Faults: `inject_faults` answers chosen calls with real IoT error bodies through botocore's
  `before-send` hook, so botocore's own error parsing and retries run.
Not emulated: marker expiry, the account's request quota (see bench/ for a throttling
endpoint), templateName filtering.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote

from botocore.awsrequest import AWSResponse
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.common_models import BaseModel
from moto.iot.exceptions import InvalidRequestException, ResourceNotFoundException
from moto.iot.models import FakeCaCertificate, FakeCertificate, IoTBackend, iot_backends
from moto.iot.responses import IoTResponse
from moto.sns.models import sns_backends

PAGE_SIZE_MAX = 250


@dataclass
class LambdaContext:
    """Stands in for the context object Lambda hands the handler (tests and the demo)."""

    function_name: str = "iot-cert-audit"
    aws_request_id: str = "3f1c8e2a-0000-4000-8000-000000000001"
    region: str = "us-east-1"
    account_id: str = DEFAULT_ACCOUNT_ID
    memory_limit_in_mb: int = 512
    function_version: str = "$LATEST"
    timeout_ms: int = 900_000
    clock: Callable[[], float] = time.monotonic
    started: float | None = None

    def __post_init__(self):
        self.started = self.clock() if self.started is None else self.started

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account_id}:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return self.timeout_ms - round((self.clock() - self.started) * 1000)


_index: dict[tuple[int, str], tuple[int, list]] = {}


def _page(self: IoTResponse, items: list[BaseModel], to_dict: Callable[[BaseModel], dict]) -> dict:
    page_size = self._get_int_param("pageSize", PAGE_SIZE_MAX)
    if not 1 <= page_size <= PAGE_SIZE_MAX:
        raise InvalidRequestException(f"pageSize must be between 1 and {PAGE_SIZE_MAX}")
    if self._get_bool_param("isAscendingOrder", False) is False:
        items = items[::-1]
    start = 0
    marker = self._get_param("marker")
    if marker:
        try:
            start = int(base64.urlsafe_b64decode(marker.encode()).decode().removeprefix("offset:"))
        except ValueError as error:
            raise InvalidRequestException("Invalid marker") from error
    end = start + page_size
    response = {"certificates": [to_dict(item) for item in items[start:end]]}
    if end < len(items):
        response["nextMarker"] = base64.urlsafe_b64encode(f"offset:{end}".encode()).decode()
    return response


def _certificates_of(backend: IoTBackend, ca_certificate_id: str | None) -> list[FakeCertificate]:
    """The CA's certificates (None: every certificate of the account), oldest first, indexed
    again whenever the fleet's size changes."""
    key = (id(backend), ca_certificate_id)
    size, certificates = _index.get(key, (-1, []))
    if size != len(backend.certificates):
        certificates = sorted(
            (c for c in backend.certificates.values() if ca_certificate_id in (None, c.ca_certificate_id)),
            key=lambda c: (c.creation_date, c.certificate_id),
        )
        _index[key] = (len(backend.certificates), certificates)
    return certificates


def _device_certificate(certificate: FakeCertificate) -> dict:
    return {
        "certificateArn": certificate.arn,
        "certificateId": certificate.certificate_id,
        "status": certificate.status,
        "certificateMode": getattr(certificate, "certificate_mode", "DEFAULT"),
        "creationDate": certificate.creation_date,
    }


def _ca_certificate(certificate: FakeCaCertificate) -> dict:
    return {
        "certificateArn": certificate.arn,
        "certificateId": certificate.certificate_id,
        "status": certificate.status,
        "creationDate": certificate.creation_date,
    }


def _list_certificates_by_ca(self: IoTResponse):
    certificates = _certificates_of(self.iot_backend, self._get_param("caCertificateId"))
    return json.dumps(_page(self, certificates, _device_certificate), default=_epoch)


def _list_ca_certificates(self: IoTResponse):
    cas = sorted(self.iot_backend.ca_certificates.values(), key=lambda c: (c.creation_date, c.certificate_id))
    return json.dumps(_page(self, cas, _ca_certificate), default=_epoch)


def _epoch(value: datetime) -> float:
    # IoT's REST-JSON wire format writes timestamps as epoch seconds.
    return value.replace(tzinfo=value.tzinfo or UTC).timestamp()


def _describe_ca_certificate(self: IoTResponse):
    ca = self.iot_backend.describe_ca_certificate(certificate_id=self.path.rsplit("/", 1)[-1])
    description = ca.to_description_dict()
    pem = x509.load_pem_x509_certificate(ca.certificate_pem.encode())
    description.update(
        validity={"notBefore": pem.not_valid_before_utc, "notAfter": pem.not_valid_after_utc},
        certificateMode=getattr(ca, "certificate_mode", "DEFAULT"),
        autoRegistrationStatus=getattr(ca, "auto_registration_status", "DISABLE"),
        customerVersion=1,
        generationId="1",
    )
    description.pop("transferData", None)
    response = {"certificateDescription": description, "registrationConfig": ca.registration_config or {}}
    return json.dumps(response, default=_epoch)


def _describe_certificate(self: IoTResponse):
    certificate_id = self.path.rsplit("/", 1)[-1]
    certificate = self.iot_backend.certificates.get(certificate_id)  # moto walks every certificate
    if certificate is None:
        raise ResourceNotFoundException(f"Certificate {certificate_id} does not exist")
    description = certificate.to_description_dict()
    try:
        pem = x509.load_pem_x509_certificate(certificate.certificate_pem.encode())
        description["validity"] = {"notBefore": pem.not_valid_before_utc, "notAfter": pem.not_valid_after_utc}
    except ValueError:
        pass  # not a real certificate (seed_certificates' fast fleets): moto's validity stays
    description.update(
        certificateMode=getattr(certificate, "certificate_mode", "DEFAULT"), customerVersion=1, generationId="1"
    )
    if certificate.ca_certificate_id:
        description["caCertificateId"] = certificate.ca_certificate_id
    description.pop("transferData", None)
    return json.dumps({"certificateDescription": description}, default=_epoch)


def _list_certificates(self: IoTResponse):
    return json.dumps(_page(self, _certificates_of(self.iot_backend, None), _device_certificate), default=_epoch)


def _token_page(self: IoTResponse, items: list, size_name: str, token_name: str, next_name: str) -> tuple[list, dict]:
    """A page of `items` by an offset token, for the attachment listings."""
    size = self._get_int_param(size_name, 250)
    token = self._get_param(token_name)
    start = int(base64.urlsafe_b64decode(token.encode()).decode()) if token else 0
    more = (
        {next_name: base64.urlsafe_b64encode(str(start + size).encode()).decode()} if start + size < len(items) else {}
    )
    return items[start : start + size], more


def _list_attached_policies(self: IoTResponse):
    target = unquote(self.path.rsplit("/", 1)[-1])
    policies = self.iot_backend.list_attached_policies(target=target)
    page, more = _token_page(self, policies, "pageSize", "marker", "nextMarker")
    return json.dumps({"policies": [policy.to_dict() for policy in page], **more})


def _list_principal_things_v2(self: IoTResponse):
    names = self.iot_backend.list_principal_things_v2(principal_arn=self.headers.get("x-amzn-principal"))
    page, more = _token_page(self, names, "maxResults", "nextToken", "nextToken")
    return json.dumps(
        {"principalThingObjects": [{"thingName": n, "thingPrincipalType": "NON_EXCLUSIVE_THING"} for n in page], **more}
    )


def install() -> None:
    """Extend moto's IoT responses (idempotent)."""
    IoTResponse.list_certificates_by_ca = _list_certificates_by_ca
    IoTResponse.list_ca_certificates = _list_ca_certificates
    IoTResponse.describe_ca_certificate = _describe_ca_certificate
    IoTResponse.describe_certificate = _describe_certificate
    IoTResponse.list_certificates = _list_certificates
    IoTResponse.list_attached_policies = _list_attached_policies
    IoTResponse.list_principal_things_v2 = _list_principal_things_v2


def iot_backend(region: str, account_id: str = DEFAULT_ACCOUNT_ID) -> IoTBackend:
    return iot_backends[account_id][region]


def ca_certificate_pem(name: str, not_after: datetime, not_before: datetime | None = None) -> str:
    """A real self-signed X.509 CA certificate (EC P-256: quick to make) valid until `not_after`."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or min(not_after, datetime.now(UTC)) - timedelta(days=365))
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def seed_ca(
    backend: IoTBackend,
    name: str,
    status: str = "ACTIVE",
    *,
    not_after: datetime | None = None,
    mode: str = "DEFAULT",
    auto_registration: str = "DISABLE",
) -> str:
    """Register a CA (a real certificate, valid ten years unless `not_after` says otherwise)
    straight into the backend; returns its 64-hex certificate ID."""
    pem = ca_certificate_pem(name, not_after or datetime.now(UTC) + timedelta(days=3650))
    ca = FakeCaCertificate(pem, status, backend.account_id, backend.region_name, {})
    ca.certificate_mode = mode
    ca.auto_registration_status = auto_registration
    backend.ca_certificates[ca.certificate_id] = ca
    return ca.certificate_id


def seed_certificates(
    backend: IoTBackend,
    ca_certificate_id: str,
    statuses: Iterable[str],
    *,
    mode: str = "DEFAULT",
    first_created: datetime = datetime(2020, 1, 1, tzinfo=UTC),
) -> list[str]:
    """Add one device certificate per status given, straight into the backend (fast enough
    for fleets of 100k). Creation dates advance one minute per certificate; returns the IDs."""
    ids = []
    start = len(backend.certificates)
    for offset, status in enumerate(statuses):
        number = start + offset
        certificate = FakeCertificate(
            f"-----DEVICE {ca_certificate_id} {number}-----",
            status,
            backend.account_id,
            backend.region_name,
            ca_certificate_id,
        )
        certificate.creation_date = (first_created + timedelta(minutes=number)).replace(tzinfo=None)
        certificate.certificate_mode = mode
        backend.certificates[certificate.certificate_id] = certificate
        ids.append(certificate.certificate_id)
    return ids


_keys: dict[tuple[str, int], object] = {}
# sha256WithRSAEncryption and sha1WithRSAEncryption (RFC 4055, RFC 3279), DER-encoded: same length.
_SHA256_RSA = bytes.fromhex("06092a864886f70d01010b")
_SHA1_RSA = bytes.fromhex("06092a864886f70d010105")


def device_certificate_pem(
    not_after: datetime,
    *,
    key_type: str = "EC",
    key_size: int = 256,
    signature_hash: str = "SHA256",
    not_before: datetime | None = None,
    issuer: str = "Device CA",
    subject: str = "device",
) -> str:
    """A real X.509 device certificate made with `cryptography`: an RSA (`key_size` bits) or EC
    (P-256/P-384) key, signed with SHA-256 or SHA-1 (RSA only), valid until `not_after`. Keys are
    made once per type and size (serial numbers keep the certificates, and their IDs, apart).

    cryptography refuses to sign with SHA-1 (as it should); a SHA-1 certificate is made as the
    SHA-256 one with both algorithm identifiers set to sha1WithRSAEncryption and the TBS part
    signed again with SHA-1 (same lengths), so it is a well-formed certificate with a valid
    SHA-1 signature, as an old CA would have issued."""
    if (key_type, key_size) not in _keys:
        _keys[key_type, key_size] = (
            rsa.generate_private_key(65537, key_size)
            if key_type == "RSA"
            else ec.generate_private_key({256: ec.SECP256R1(), 384: ec.SECP384R1()}[key_size])
        )
    key = _keys[key_type, key_size]
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or min(not_after, datetime.now(UTC)) - timedelta(days=365))
        .not_valid_after(not_after)
        .sign(key, hashes.SHA256())
    )
    if signature_hash == "SHA1":
        if key_type != "RSA":
            raise ValueError("SHA-1 device certificates are made with RSA keys only")
        der = certificate.public_bytes(serialization.Encoding.DER).replace(_SHA256_RSA, _SHA1_RSA)
        signature = key.sign(
            x509.load_der_x509_certificate(der).tbs_certificate_bytes, padding.PKCS1v15(), hashes.SHA1()
        )
        certificate = x509.load_der_x509_certificate(der[: -len(signature)] + signature)
    elif signature_hash != "SHA256":
        raise ValueError(f"signature hash {signature_hash} is not made here; SHA256 or SHA1")
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def seed_device_certificates(
    backend: IoTBackend,
    ca_certificate_id: str | None,
    pems: Iterable[str],
    status: str = "ACTIVE",
    *,
    first_created: datetime = datetime(2024, 1, 1, tzinfo=UTC),
) -> list[str]:
    """Register real device certificates (PEMs) under a CA (None: without one, as
    CreateKeysAndCertificate or registration without a CA makes them); returns their IDs."""
    ids = []
    for pem in pems:
        number = len(backend.certificates)
        certificate = FakeCertificate(pem, status, backend.account_id, backend.region_name, ca_certificate_id)
        certificate.creation_date = (first_created + timedelta(minutes=number)).replace(tzinfo=None)
        certificate.certificate_mode = "DEFAULT"
        backend.certificates[certificate.certificate_id] = certificate
        ids.append(certificate.certificate_id)
    return ids


class _Body:
    def __init__(self, body: bytes):
        self._body = body

    def stream(self, **_):
        yield self._body


def error_response(client, code: str, message: str) -> AWSResponse:
    """An error as the service sends it: an XML ErrorResponse for query-protocol services (SNS),
    the code in the body's `__type` for JSON-protocol ones (DynamoDB, EventBridge), and in the
    x-amzn-ErrorType header for REST-JSON ones (IoT)."""
    status = ERROR_STATUS.get(code, 400)
    if client.meta.service_model.protocol == "query":
        body = (
            f"<ErrorResponse><Error><Type>{'Sender' if status < 500 else 'Receiver'}</Type><Code>{code}</Code>"
            f"<Message>{message}</Message></Error><RequestId>fault</RequestId></ErrorResponse>"
        )
        headers = {"Content-Type": "text/xml"}
    elif client.meta.service_model.protocol == "json":
        body = json.dumps({"__type": code, "message": message})
        headers = {"Content-Type": "application/x-amz-json-1.0"}
    else:
        body = json.dumps({"message": message})
        headers = {"x-amzn-ErrorType": f"{code}:", "Content-Type": "application/json"}
    return AWSResponse(client.meta.endpoint_url, status, {**headers, "x-amzn-RequestId": "fault"}, _Body(body.encode()))


# HTTP status codes from the services' models (IoT's errors; SNS's for publish faults).
ERROR_STATUS = {
    "ThrottlingException": 400,
    "InvalidRequestException": 400,
    "AccessDeniedException": 403,  # IAM's denial, which any operation may answer
    "UnauthorizedException": 401,
    "InternalFailureException": 500,
    "ServiceUnavailableException": 503,
    "AuthorizationError": 403,
    "InternalError": 500,
    "InternalServerError": 500,
    "ProvisionedThroughputExceededException": 400,
}

# Decides, for one outgoing request, the error to answer with: an error code (answered with
# the service's error response and the message "Injected <code>"), a (code, message) pair,
# an exception to raise as the HTTP layer would (e.g. a connection error), a crafted
# AWSResponse (a malformed answer), or None to let the request through.
FaultRule = Callable[[object], "str | tuple[str, str] | Exception | AWSResponse | None"]


# Where a faulted request goes instead of the emulator: no emulator serves it, and it is never sent.
UNSERVED_URL = "https://injected-fault.invalid/"


def inject_faults(client, operation: str, rule: FaultRule) -> Callable[[], None]:
    """Answer `operation` calls for which `rule(request)` names an error with that error.

    Goes through botocore's `before-send` event, so parsing and retries are botocore's own.
    botocore calls every `before-send` handler, the in-process emulator's (moto's) too, and takes
    the first answer: a faulted request is pointed at a host nothing serves, so that, as on AWS,
    a refused or failed write writes nothing. Returns a function that removes the hook.
    """
    event = f"before-send.{client.meta.service_model.service_id.hyphenize()}.{operation}"

    def handler(request, **_):
        fault = rule(request)
        if fault:
            request.url = UNSERVED_URL
        if isinstance(fault, Exception):
            raise fault
        if isinstance(fault, AWSResponse):  # a crafted answer, malformed on purpose
            return fault
        if isinstance(fault, str):
            fault = (fault, f"Injected {fault}")
        return error_response(client, *fault) if fault else None

    # First, so that the answer is ours rather than the emulator's.
    client.meta.events.register_first(event, handler)
    return lambda: client.meta.events.unregister(event, handler)


def published_messages(topic_arn: str, region: str = "us-east-1", account_id: str = DEFAULT_ACCOUNT_ID) -> list[dict]:
    """Every message published to the topic as SNS got it: Subject, Message ({"default",
    "email"} parsed) and MessageAttributes."""
    topic = sns_backends[account_id][region].topics[topic_arn]
    return [
        {"Subject": subject, "Message": json.loads(message), "MessageAttributes": attributes}
        for _, message, subject, attributes, _ in topic.sent_notifications
    ]


def metric_rows(stdout: str) -> list[tuple[str, dict[str, str], float, str]]:
    """(metric, dimensions, value, unit) of every embedded-metric-format document printed."""
    rows = []
    for line in stdout.splitlines():
        if not (line.startswith("{") and '"_aws"' in line):
            continue
        blob = json.loads(line)
        for directive in blob["_aws"]["CloudWatchMetrics"]:
            dimensions = {name: blob[name] for name in directive["Dimensions"][0]}
            for metric in directive["Metrics"]:
                value = blob[metric["Name"]]
                # Powertools writes a list when a metric may hold several samples.
                rows.append(
                    (metric["Name"], dimensions, sum(value) if isinstance(value, list) else value, metric["Unit"])
                )
    return rows
