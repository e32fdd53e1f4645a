"""A fast stand-in for the AWS IoT control-plane endpoint, on loopback, for the benchmark.

It serves ListCertificatesByCA, ListCACertificates and DescribeCACertificate (which the engine
calls once per CA) in the REST-JSON wire format of
botocore's service model (iot 2015-05-28), so that botocore's real request building,
response parsing and retries run against it: opaque markers, the pageSize bounds 1..250,
error bodies with the x-amzn-ErrorType header and the model's status codes. Pages are
slices of pre-rendered bytes (see fleet.py), so the server costs far less per page than
any client. Two switches: a per-request latency and an account-wide requests-per-second
quota (token bucket) that answers ThrottlingException like the real service. Requests are
counted per caller: a client whose User-Agent carries `bench-caller/NAME` (the competing
caller of the share scenarios) is counted under NAME, every other request under the
contender, so both callers share one quota but not one count.

Where it differs from the real API is listed in bench/README.md.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

from bench.fleet import Fleet

PAGE_SIZE_MIN, PAGE_SIZE_MAX = 1, 250  # botocore model: shape PageSize
# Page size when a request has none. ListCertificatesByCA documents no default (ListCACertificates
# says 25). The AWS CLI cannot send pageSize for this operation without turning its own paging
# off (its --page-size collides with the API's pageSize member), so it always gets this default:
# 250, the most favourable for the CLI, keeps the comparison conservative.
DEFAULT_PAGE_SIZE = 250
_CA_PATH = re.compile(r"^/certificates-by-ca/([^/?]+)$")
_DESCRIBE_PATH = re.compile(r"^/cacertificate/([^/?]+)$")
CONTROL_PREFIX = "/_bench/"
_CA_ID = re.compile(r"^(0x)?[a-fA-F0-9]{64}$")  # model: CertificateId, length 64, pattern (0x)?[a-fA-F0-9]+
# A client names itself as another caller with botocore's user_agent_extra="bench-caller/NAME".
_CALLER = re.compile(r"\bbench-caller/([\w.-]+)")
CONTENDER = ""  # the caller of every request that does not name itself
# Status codes of the model's error shapes that these two operations declare.
ERROR_STATUS = {
    "InvalidRequestException": 400,
    "ThrottlingException": 400,
    "UnauthorizedException": 401,
    "ResourceNotFoundException": 404,
    "InternalFailureException": 500,
    "ServiceUnavailableException": 503,
}


class ApiError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


class TokenBucket:
    """An account-wide request quota: `rate` requests per second, bursts of up to `burst`.

    The benchmark's default burst is one request: the strictest reading of "N requests per
    second" (AWS does not publish IoT's burst size), so a short run cannot beat the quota.
    """

    def __init__(self, rate: float, burst: float = 1.0, clock=time.monotonic):
        self.rate = rate
        self.capacity = burst
        self.tokens = self.capacity
        self.clock = clock
        self.updated = clock()
        self.lock = threading.Lock()

    def take(self) -> bool:
        with self.lock:
            now = self.clock()
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
            self.updated = now
            if self.tokens >= 1:
                self.tokens -= 1
                return True
            return False


def caller_of(user_agent: str | None) -> str:
    """The caller a request counts under: NAME for `bench-caller/NAME` in its User-Agent, else the contender."""
    named = _CALLER.search(user_agent or "")
    return named.group(1) if named else CONTENDER


@dataclass
class Traffic:
    """What the server answered since the last reset: the contender's counts by (operation,
    outcome), and each other caller's by (caller, operation, outcome)."""

    counts: Counter = field(default_factory=Counter)
    others: Counter = field(default_factory=Counter)
    first_request: float | None = None
    last_request: float | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, operation: str, outcome: str, caller: str = CONTENDER) -> None:
        with self.lock:
            if caller != CONTENDER:
                self.others[(caller, operation, outcome)] += 1
                return
            now = time.monotonic()
            self.first_request = self.first_request or now
            self.last_request = now
            self.counts[(operation, outcome)] += 1

    def reset(self) -> None:
        with self.lock:
            self.counts.clear()
            self.others.clear()
            self.first_request = self.last_request = None

    def pages(self, operation: str) -> int:
        return self.counts[(operation, "ok")]

    def rejected(self, outcome: str) -> int:
        return sum(n for (_, kind), n in self.counts.items() if kind == outcome)

    def as_dict(self) -> dict[str, int]:
        """`OPERATION|OUTCOME` for the contender, `CALLER:OPERATION|OUTCOME` for the others."""
        with self.lock:
            mine = {f"{operation}|{outcome}": n for (operation, outcome), n in self.counts.items()}
            return mine | {f"{caller}:{op}|{outcome}": n for (caller, op, outcome), n in self.others.items()}


def encode_marker(ca_id: str, offset: int) -> str:
    # Opaque to clients (standard base64, as the model's Marker pattern requires); it carries
    # the position, so any pageSize may follow any marker, and the CA, so a marker cannot be
    # replayed against another CA.
    return base64.b64encode(f"v1|{ca_id}|{offset}".encode()).decode()


def decode_marker(marker: str, ca_id: str) -> int:
    try:
        version, marker_ca, offset = base64.b64decode(marker, validate=True).decode().split("|")
        if version == "v1" and marker_ca == ca_id:
            return int(offset)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise ApiError("InvalidRequestException", "The marker is invalid.")


def page_size_of(query: dict[str, list[str]]) -> int:
    if "pageSize" not in query:
        return DEFAULT_PAGE_SIZE
    raw = query["pageSize"][0]
    try:
        size = int(raw)
    except ValueError:
        raise ApiError("InvalidRequestException", f"Invalid value '{raw}' for pageSize.") from None
    if size < PAGE_SIZE_MIN:
        raise ApiError(
            "InvalidRequestException",
            f"1 validation error detected: Value '{size}' at 'pageSize' failed to satisfy constraint: "
            f"Member must have value greater than or equal to {PAGE_SIZE_MIN}",
        )
    if size > PAGE_SIZE_MAX:
        raise ApiError(
            "InvalidRequestException",
            f"1 validation error detected: Value '{size}' at 'pageSize' failed to satisfy constraint: "
            f"Member must have value less than or equal to {PAGE_SIZE_MAX}",
        )
    return size


def page_body(items: bytes, next_marker: str | None) -> bytes:
    body = b'{"certificates":[' + items + b"]"
    if next_marker:
        body += b',"nextMarker":"' + next_marker.encode() + b'"'
    return body + b"}"


class StandInIoT:
    """The stand-in's state: the fleet it serves, its switches and the traffic it saw."""

    def __init__(self, fleet: Fleet, latency_s: float = 0.0, quota_rps: float | None = None, quota_burst: float = 1.0):
        self.fleet = fleet
        self.cas_by_id = fleet.by_id
        self.latency_s = latency_s
        self.quota = TokenBucket(quota_rps, quota_burst) if quota_rps else None
        self.traffic = Traffic()
        self._ca_list = [json.dumps(fleet.ca_entry(i), separators=(",", ":")).encode() for i in range(len(fleet.cas))]
        self._ca_descriptions = {
            ca.ca_certificate_id: json.dumps(fleet.ca_description(i)).encode() for i, ca in enumerate(fleet.cas)
        }

    def list_certificates_by_ca(self, ca_id: str, query: dict[str, list[str]]) -> bytes:
        if not _CA_ID.match(ca_id):
            raise ApiError("InvalidRequestException", f"Invalid caCertificateId '{ca_id}'.")
        size = page_size_of(query)
        ca_key = ca_id.lower().removeprefix("0x")
        first = decode_marker(query["marker"][0], ca_key) if "marker" in query else 0
        ca = self.cas_by_id.get(ca_key)
        if ca is None:  # an unknown CA has no certificates, as with the real API
            return page_body(b"", None)
        end = first + size
        return page_body(ca.slice(first, size), encode_marker(ca_key, end) if end < ca.count else None)

    def list_ca_certificates(self, query: dict[str, list[str]]) -> bytes:
        size = page_size_of(query)
        first = decode_marker(query["marker"][0], "cacertificates") if "marker" in query else 0
        end = first + size
        items = b",".join(self._ca_list[first:end])
        return page_body(items, encode_marker("cacertificates", end) if end < len(self._ca_list) else None)

    def control(self, command: str) -> dict:
        """The harness's side door (not part of the IoT API): the fleet's totals, or the traffic
        counts (after a reset, if asked)."""
        if command == "fleet":
            return {
                "caCertificateIds": [ca.ca_certificate_id for ca in self.fleet.cas],
                "certificates": self.fleet.certificates,
                "flagged": self.fleet.flagged,
            }
        if command == "reset":
            self.traffic.reset()
            if self.quota:
                self.quota.tokens = self.quota.capacity  # every contender starts with the same burst
        return self.traffic.as_dict()

    def describe_ca_certificate(self, ca_id: str) -> bytes:
        description = self._ca_descriptions.get(ca_id.lower().removeprefix("0x"))
        if description is None:
            raise ApiError("ResourceNotFoundException", f"The CA certificate {ca_id} does not exist.")
        return description

    def answer(self, path: str, query: dict[str, list[str]]) -> tuple[str, bytes]:
        """(operation, body) for a GET; raises ApiError for the error responses."""
        operation = operation_of(path)
        if operation is None:
            raise ApiError("ResourceNotFoundException", f"No operation at {path}.")
        if self.quota and not self.quota.take():
            raise ApiError("ThrottlingException", "Rate exceeded")
        if operation == "ListCACertificates":
            return operation, self.list_ca_certificates(query)
        ca_id = unquote(path.rsplit("/", 1)[1])
        if operation == "DescribeCACertificate":
            return operation, self.describe_ca_certificate(ca_id)
        return operation, self.list_certificates_by_ca(ca_id, query)


def operation_of(path: str) -> str | None:
    if _CA_PATH.match(path):
        return "ListCertificatesByCA"
    if _DESCRIBE_PATH.match(path):
        return "DescribeCACertificate"
    return "ListCACertificates" if path == "/cacertificates" else None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as botocore's connection pool expects
    # Headers and body leave in two writes; with Nagle's algorithm on, the second waits for the
    # client's delayed ACK (~40 ms), which would be the stand-in's cost, not the client's.
    disable_nagle_algorithm = True
    server: _Server

    def do_GET(self) -> None:  # noqa: N802 - the name http.server dispatches to
        api = self.server.api
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        if url.path.startswith(CONTROL_PREFIX):
            self._send(200, json.dumps(api.control(url.path.removeprefix(CONTROL_PREFIX))).encode(), {})
            return
        if api.latency_s:
            time.sleep(api.latency_s)
        operation = operation_of(url.path) or url.path
        caller = caller_of(self.headers.get("User-Agent"))
        try:
            operation, body = api.answer(url.path, query)
        except ApiError as error:
            api.traffic.record(operation, error.code, caller)
            body = json.dumps({"message": error.message}).encode()
            self._send(ERROR_STATUS[error.code], body, {"x-amzn-ErrorType": error.code})
            return
        api.traffic.record(operation, "ok", caller)
        self._send(200, body, {})

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - http.server's signature
        pass  # one line per request would cost more than the page itself


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, api, handler: type[BaseHTTPRequestHandler]):
        super().__init__(("127.0.0.1", 0), handler)
        self.api = api


@contextmanager
def serving(api, handler: type[BaseHTTPRequestHandler] = _Handler, name: str = "stand-in-iot") -> Iterator[str]:
    """Serve `api` (reached by `handler` as self.server.api) on a free loopback port for the
    duration of the block; yields the endpoint URL. The IoT stand-in's by default."""
    server = _Server(api, handler)
    thread = threading.Thread(target=server.serve_forever, name=name, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def main() -> None:
    """Serve a generated fleet until stdin closes:
    `python -m bench.server CAS PER_CA SHARE [LATENCY_S [QUOTA_RPS|none [BURST]]]`.

    The benchmark runs the server in a process of its own so that the contenders it starts do
    not inherit its memory: Linux counts the parent's resident pages at fork/exec in the
    child's peak RSS (ru_maxrss), and a million pre-rendered certificates are ~300 MB.
    """
    cas, per_ca, share, *switches = sys.argv[1:]
    latency_s = float(switches[0]) if switches else 0.0
    quota = float(switches[1]) if len(switches) > 1 and switches[1] != "none" else None
    burst = float(switches[2]) if len(switches) > 2 else 1.0
    fleet = Fleet.build(int(cas), int(per_ca), float(share))
    api = StandInIoT(fleet, latency_s=latency_s, quota_rps=quota, quota_burst=burst)
    with serving(api) as url:
        print(url, flush=True)
        sys.stdin.read()  # the harness closes stdin (or exits) to stop the server


if __name__ == "__main__":
    main()
