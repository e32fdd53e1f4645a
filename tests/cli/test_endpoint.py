"""`cert-audit scan` as a user runs it: its own process, talking HTTP to the emulator through
--endpoint-url. Proves what in-process tests cannot: stdout holds nothing but the report,
and a real Ctrl-C (SIGINT) ends in a partial report."""

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

from cert_audit import emulator
from cert_audit.emulator import PAGE_SIZE_MAX, seed_ca, seed_certificates
from tests.cli.conftest import ACCOUNT, REGION


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
    # Given a CA with findings behind an HTTP endpoint
    url, backend = endpoint
    ca = seed_ca(backend, "ca")
    seed_certificates(backend, ca, ["ACTIVE"] * 300 + ["REVOKED"] * 2)

    # When the CLI runs as a process with --endpoint-url
    result = subprocess.run(
        cert_audit("--endpoint-url", url, "--format", "json"), capture_output=True, text=True, timeout=60
    )

    # Then stdout is the report alone (no log line), the exit code says "findings", stderr is quiet
    report = json.loads(result.stdout)
    assert (result.returncode, result.stderr) == (1, "")
    assert report["accountId"] == ACCOUNT  # from STS GetCallerIdentity on the same endpoint
    assert report["summary"]["certificatesScanned"] == 302
    assert [ca_["pages"] for ca_ in report["cas"]] == [2]


def test_a_reader_that_stops_early_is_no_error(endpoint):
    # Given a CA with findings
    url, backend = endpoint
    seed_certificates(backend, seed_ca(backend, "ca"), ["REVOKED"] * 10)

    # When the output goes to a reader that is gone before it is written (`| head` that has enough)
    command = cert_audit("--endpoint-url", url, "--format", "csv")
    scan = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
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
        cert_audit("--endpoint-url", url, "--format", "json"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
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
