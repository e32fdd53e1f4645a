"""Test setup shared by every test: fake AWS credentials and region, so nothing can reach real AWS."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

# Set before any boto3 client exists. A real profile or token in the developer's shell
# must not leak into tests.
for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ENDPOINT_URL"):
    os.environ.pop(name, None)
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_SERVICE_NAME": "iot-cert-audit",
        "POWERTOOLS_METRICS_NAMESPACE": "IoTCertificateAudit",
    }
)


@pytest.fixture(autouse=True)
def reports_match_their_schema(monkeypatch):
    """Every report a test makes is checked against docs/report.schema.json where it leaves the
    engine (invocation result, SNS message, archive, CLI JSON), and the archive's OCSF documents
    against the OCSF model package: tests/schemas.py."""
    from tests.schemas import check_reports

    check_reports(monkeypatch)


@dataclass(frozen=True)
class DemoRun:
    """`cert-audit demo` run once: its process (exit code, output) and its JSON report file (the HTML
    page beside it)."""

    process: subprocess.CompletedProcess
    report_file: Path


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory) -> DemoRun:
    """One run of `python -m cert_audit demo` (on the tree under test) for every test that reads it:
    the demo's own tests, the formats' round trip and the HTML page's browser test."""
    from tests.cli.conftest import tree_env

    folder = tmp_path_factory.mktemp("demo")
    report_file = folder / "demo-report.json"
    process = subprocess.run(
        [sys.executable, "-m", "cert_audit", "demo", "--report-file", str(report_file)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=folder,
        env=tree_env(),
    )
    return DemoRun(process, report_file)
