"""The real CDK CLI (`npx cdk synth`, pinned in package.json): offline, without AWS credentials.

Slow (a Node CLI starting a Python app that starts jsii), so only two runs: one good
synth with `-c` overrides as users type them, one bad value.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
CA_A = "a" * 64
CA_B = "b" * 64

pytestmark = pytest.mark.skipif(
    not (REPO_ROOT / "node_modules" / ".bin" / "cdk").exists() or shutil.which("npx") is None,
    reason="the CDK CLI is not installed (npm ci)",
)


def _cdk_synth(outdir: Path, *context: str) -> subprocess.CompletedProcess:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("AWS_") and key not in ("CDK_CONTEXT_JSON", "CDK_OUTDIR")
    }
    # No credentials and no instance metadata: synth must need neither. The venv's python3 runs app.py.
    env.update(AWS_EC2_METADATA_DISABLED="true", PATH=f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}")
    arguments = [arg for pair in context for arg in ("-c", pair)]
    return subprocess.run(
        ["npx", "--no-install", "cdk", "synth", "--no-notices", "--quiet", "--output", str(outdir), *arguments],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_cdk_synth_with_command_line_context_writes_the_configured_template(tmp_path):
    # Given CAs and emails typed on the command line, comma-separated, a suppressions file
    # named relative to the project folder, where cdk runs, the age check off and a rate limit
    # When the real CLI synthesizes
    result = _cdk_synth(
        tmp_path,
        f"caCertificateIds={CA_A},{CA_B}",
        "alertEmails=ops@example.com,sec@example.org",
        "suppressionsFile=tests/infrastructure/fixtures/suppressions.yaml",
        "maxCertificateAgeDays=null",
        "iotRateLimit=8",
    )

    # Then it succeeds quietly and the template carries both CAs and both addresses
    assert result.returncode == 0, result.stderr
    assert "end-of-life" not in result.stderr
    template = json.loads((tmp_path / "IoTCertificateAudit.template.json").read_text())
    resources = template["Resources"].values()
    (function,) = [resource for resource in resources if resource["Type"] == "AWS::Lambda::Function"]
    variables = function["Properties"]["Environment"]["Variables"]
    assert variables["CA_CERTIFICATE_IDS"] == f"{CA_A},{CA_B}"
    # And null turns the age check off, as the README says; the rate limit reaches the function
    assert "MAX_CERTIFICATE_AGE_DAYS" not in variables
    assert variables["IOT_RATE_LIMIT"] == "8"
    (parameter,) = [resource for resource in resources if resource["Type"] == "AWS::SSM::Parameter"]
    assert len(json.loads(parameter["Properties"]["Value"])) == 2  # the file's two suppressions
    emails = sorted(
        resource["Properties"]["Endpoint"] for resource in resources if resource["Type"] == "AWS::SNS::Subscription"
    )
    assert emails == ["ops@example.com", "sec@example.org"]
    # And cdk-nag ran as part of that synth
    report = json.loads((tmp_path / "validation-report.json").read_text())
    assert {plugin["pluginName"] for plugin in report["pluginReports"]} == {"AwsSolutions", "Serverless"}


def test_cdk_synth_with_a_bad_value_fails_with_one_clear_line(tmp_path):
    # Given a schedule EventBridge would reject at deploy time
    # When the real CLI synthesizes
    result = _cdk_synth(tmp_path, "schedule=rate(5 minute)")

    # Then it fails before writing a template, saying what is wrong and what would be right
    assert result.returncode != 0
    assert "schedule: 'rate(5 minute)' is not a valid EventBridge schedule expression" in result.stderr
    assert "(rate(5 minutes))" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "IoTCertificateAudit.template.json").exists()
