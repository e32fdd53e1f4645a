"""`cert-audit scan` as a user runs it: its own process (on the tree under test), talking HTTP
to the emulator through --endpoint-url. Proves what in-process tests cannot: stdout holds
nothing but the report, a real Ctrl-C (SIGINT) ends in a partial report, the account lookup
goes to STS's own endpoint, and a scan never imports the X-Ray SDK."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time

import pytest
from moto.iot.responses import IoTResponse
from moto.server import ThreadedMotoServer
from moto.sts.responses import TokenResponse

from cert_audit import emulator
from cert_audit.emulator import PAGE_SIZE_MAX, seed_ca, seed_certificates
from tests.cli.conftest import ACCOUNT, REGION, cert_audit_process, tree_env

# An address where nothing listens: a lookup sent there fails at once.
NOWHERE = "http://127.0.0.1:9"


@pytest.fixture
def endpoint():
    """moto's server, extended by the emulator, on a free loopback port; its IoT backend."""
    emulator.install()
    backend = emulator.iot_backend(REGION)
    backend.reset()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}", backend
    server.stop()
    backend.reset()


def cert_audit(*argv: str) -> list[str]:
    return [sys.executable, "-m", "cert_audit", "scan", "--region", REGION, *argv]


def test_json_on_stdout_and_nothing_else(endpoint):
    # Given a CA with findings behind an HTTP endpoint that also serves STS (AWS_ENDPOINT_URL_STS)
    url, backend = endpoint
    ca = seed_ca(backend, "ca")
    seed_certificates(backend, ca, ["ACTIVE"] * 300 + ["REVOKED"] * 2)

    # When the CLI runs as a process with --endpoint-url
    result = cert_audit_process(
        "scan", "--region", REGION, "--endpoint-url", url, "--format", "json", env=tree_env(AWS_ENDPOINT_URL_STS=url)
    )

    # Then stdout is the report alone (no log line), the exit code says "findings", stderr is quiet
    report = json.loads(result.stdout)
    assert (result.returncode, result.stderr) == (1, "")
    assert report["accountId"] == ACCOUNT  # from STS GetCallerIdentity where AWS_ENDPOINT_URL_STS says
    assert report["summary"]["certificatesScanned"] == 302
    assert [ca_["pages"] for ca_ in report["cas"]] == [2]


@pytest.fixture
def iot_only(endpoint, monkeypatch):
    """The endpoint answers IoT only, as an IoT VPC or FIPS endpoint does: an STS request gets
    a 404 that is not an STS answer. Returns (url, backend, the STS requests it received)."""
    url, backend = endpoint
    sts_requests = []

    def not_here(self):
        sts_requests.append(self.path)
        return 404, {"Content-Type": "application/json"}, '{"message": "Not Found"}'

    monkeypatch.setattr(TokenResponse, "get_caller_identity", not_here)
    return url, backend, sts_requests


def test_account_lookup_goes_to_sts_not_to_the_iot_endpoint(iot_only):
    # Given an endpoint that serves IoT only, with a CA, and STS's own endpoint unreachable
    url, backend, sts_requests = iot_only
    seed_certificates(backend, seed_ca(backend, "ca"), ["ACTIVE"] * 3 + ["REVOKED"])

    # When the CLI audits through that endpoint
    result = cert_audit_process(
        "scan",
        "--region",
        REGION,
        "--endpoint-url",
        url,
        "--format",
        "json",
        env=tree_env(AWS_ENDPOINT_URL_STS=NOWHERE),
    )

    # Then the IoT endpoint got no STS request, the failed lookup left the account unknown,
    # and the scan ran to the end (exit 1: the finding)
    report = json.loads(result.stdout)
    assert (result.returncode, result.stderr) == (1, "")
    assert sts_requests == []
    assert report["accountId"] is None
    assert report["summary"]["certificatesScanned"] == 4 and report["summary"]["findings"] == 1


def test_zero_cas_is_not_a_clean_pass(endpoint):
    # Given an account and region without any CA (a wrong region, say)
    url, _ = endpoint

    # When the CLI audits every CA there
    result = cert_audit_process(
        "scan", "--region", REGION, "--endpoint-url", url, env=tree_env(AWS_ENDPOINT_URL_STS=url)
    )

    # Then it says what was audited and exits 2, not 0 ("nothing needs attention")
    assert result.returncode == 2
    assert result.stderr == (
        f"cert-audit: error: no CA found in account {ACCOUNT}, region {REGION}: nothing was audited; "
        "check --region (or AWS_DEFAULT_REGION) and --profile\n"
    )
    assert "No CA found in this account and region: nothing was audited." in result.stdout


def imported_modules(importtime_log: str) -> set[str]:
    """The modules `python -X importtime` reports importing (its lines end `| <module>`)."""
    return {line.rsplit("|", 1)[1].strip() for line in importtime_log.splitlines() if line.startswith("import time:")}


def test_a_scan_never_imports_the_xray_sdk(endpoint):
    # Given a CA behind an HTTP endpoint, and a shell outside Lambda (tracing off)
    url, backend = endpoint
    seed_certificates(backend, seed_ca(backend, "ca"), ["ACTIVE"] * 3)

    # When the CLI scans, with Python reporting every import
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "cert_audit", "scan", "--region", REGION, "--endpoint-url", url],
        capture_output=True,
        text=True,
        timeout=120,
        env=tree_env(AWS_ENDPOINT_URL_STS=url, POWERTOOLS_TRACE_DISABLED=None),
    )

    # Then the audit ran and neither the X-Ray SDK nor anything of it was imported
    modules = imported_modules(result.stderr)
    assert result.returncode == 0, result.stderr[-2000:]
    assert {"botocore", "cert_audit.scan"} <= modules  # the log is complete
    assert not {m for m in modules if m.split(".")[0] == "aws_xray_sdk"}


def test_a_reader_that_stops_early_is_no_error(endpoint):
    # Given a CA with findings
    url, backend = endpoint
    seed_certificates(backend, seed_ca(backend, "ca"), ["REVOKED"] * 10)

    # When the output goes to a reader that is gone before it is written (`| head` that has enough)
    command = cert_audit("--endpoint-url", url, "--format", "csv")
    scan = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=tree_env(AWS_ENDPOINT_URL_STS=NOWHERE)
    )
    scan.stdout.close()
    scan.wait(timeout=60)

    # Then the command ends as it would have (1: findings), without a traceback
    assert scan.returncode == 1
    assert scan.stderr.read() == b""


def test_ctrl_c_gives_a_partial_report(endpoint, monkeypatch):
    # Given a CA of many pages, served slowly enough to interrupt, and a count of the pages served
    url, backend = endpoint
    ca = seed_ca(backend, "big")
    total = 40 * PAGE_SIZE_MAX
    seed_certificates(backend, ca, ["REVOKED"] * total)
    served = threading.Semaphore(0)
    real_page = IoTResponse.list_certificates_by_ca

    def slow_page(self):
        time.sleep(0.05)
        served.release()
        return real_page(self)

    monkeypatch.setattr(IoTResponse, "list_certificates_by_ca", slow_page)
    process = subprocess.Popen(
        cert_audit("--endpoint-url", url, "--format", "json"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=tree_env(AWS_ENDPOINT_URL_STS=NOWHERE),
    )

    # When the user presses Ctrl-C after a few pages
    for _ in range(3):
        assert served.acquire(timeout=60)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)

    # Then the CA finished its page and stopped; the report says so and the exit code is 130
    report = json.loads(out)
    [scanned] = report["cas"]
    assert process.returncode == 130, err
    assert scanned["error"]["code"] == "ScanIncomplete"
    assert "interrupted by the user" in scanned["error"]["message"]
    assert 3 * PAGE_SIZE_MAX <= scanned["certificatesScanned"] < total
    assert scanned["certificatesScanned"] == scanned["pages"] * PAGE_SIZE_MAX == report["summary"]["findings"]
    assert "interrupted: the report above is partial" in err and "Traceback" not in err
