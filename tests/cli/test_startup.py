"""What `cert-audit` is before it audits anything: the code it runs (the tree under test), its
version, what it imports (no X-Ray SDK outside Lambda) and what `pip install .` gives it."""

from __future__ import annotations

import json
import re
import tomllib
from importlib import metadata

import pytest

from cert_audit import cli
from tests.cli.conftest import PACKAGE_ROOT, REPO, python_process, tree_env

POWERTOOLS = "aws-lambda-powertools"


def test_subprocesses_run_the_tree_under_test():
    # Given the environment every CLI subprocess test uses
    # When a process imports cert_audit there
    result = python_process("-c", "import cert_audit; print(cert_audit.__file__)", env=tree_env())

    # Then it is this tree's package, not an installed copy elsewhere
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(PACKAGE_ROOT / "cert_audit" / "__init__.py")


def test_version_is_the_installed_packages(capsys):
    # When the user asks for the version, then it is the package's, from its metadata
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out == f"cert-audit {metadata.version('iot-certificate-audit')}\n"


def test_version_of_a_tree_that_is_not_installed(capsys, monkeypatch):
    # Given the package run from source, never installed (no metadata)
    def not_installed(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "version", not_installed)

    # When the user asks for the version, then it says it has none, and how to get one
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out == "cert-audit (version unknown: not installed; `pip install .` gives it one)\n"


# The tracer's calls that handler.py and scan.py make, run in a process of its own; prints what
# it saw. Outside Lambda it must work without importing the X-Ray SDK; in Lambda, with it.
TRACER_CALLS = """
import json, sys
from cert_audit.observability import tracer

@tracer.capture_lambda_handler(capture_response=False)
def handler(event, context):
    with tracer.provider.in_subsegment("## scan CA 0123456789ab") as subsegment:
        subsegment.put_annotation("caCertificateId", "0123456789ab")
        subsegment.put_metadata("result", {"certificatesScanned": 3, "error": None})
    return {"audited": event["cas"]}

patched = []
if "aws_xray_sdk" in sys.modules:
    from aws_xray_sdk.core.patcher import _PATCHED_MODULES as patched
print(json.dumps({
    "result": handler({"cas": 2}, None),
    "tracer": type(tracer).__name__,
    "xray": "aws_xray_sdk" in sys.modules,
    "patched": sorted(patched),
}))
"""
# What Lambda sets for a traced invocation (the daemon address: a port where nothing listens).
IN_LAMBDA = {
    "LAMBDA_TASK_ROOT": "/var/task",
    "AWS_LAMBDA_FUNCTION_NAME": "iot-cert-audit",
    "_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
    "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:9",
    "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
    "POWERTOOLS_TRACE_DISABLED": None,
}
OUTSIDE_LAMBDA = {name: None for name in IN_LAMBDA}


@pytest.mark.parametrize(
    "where, env, traced",
    [
        ("in Lambda", IN_LAMBDA, True),
        ("outside Lambda", OUTSIDE_LAMBDA, False),
        ("in Lambda, tracing disabled", {**IN_LAMBDA, "POWERTOOLS_TRACE_DISABLED": "true"}, False),
    ],
)
def test_tracer_works_with_xray_only_where_tracing_is_on(where, env, traced):
    # Given a process with that environment
    # When the handler's and the scan's tracer calls run
    result = python_process("-c", TRACER_CALLS, env=tree_env(**env))

    # Then they work either way; the X-Ray SDK is imported (and botocore patched) only where tracing is on
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert seen["result"] == {"audited": 2}
    assert seen["xray"] is traced
    assert (seen["tracer"] == "Tracer") is traced
    assert seen["patched"] == (["botocore"] if traced else [])


@pytest.mark.parametrize("argv", [["--help"], ["scan", "--help"], ["--version"], ["scan", "--ca", "nope"]])
def test_the_command_line_never_imports_the_xray_sdk(argv):
    # Given a shell outside Lambda (tracing off)
    # When the CLI runs, with Python reporting every import
    result = python_process("-X", "importtime", "-m", "cert_audit", *argv)
    modules = {line.rsplit("|", 1)[1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")}

    # Then it imported the engine but nothing of the X-Ray SDK
    assert {"botocore", "cert_audit.cli", "cert_audit.observability"} <= modules
    assert not {m for m in modules if m.split(".")[0] == "aws_xray_sdk"}


def test_pip_install_brings_what_lambda_tracing_imports():
    # Given the run-time dependencies `pip install .` installs
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    [powertools] = [d for d in project["dependencies"] if re.match(rf"{POWERTOOLS}\b", d)]
    listed = re.search(r"\[(.*?)\]", powertools)
    extras = set(re.findall(r"[\w-]+", listed.group(1))) if listed else set()

    # Then Powertools comes with the extra that brings the X-Ray SDK its Tracer imports
    # (the extra, by Powertools' own metadata), and `cert-audit` is the CLI's entry point
    xray_extras = {
        match.group(1)
        for requirement in metadata.requires(POWERTOOLS) or []
        if requirement.startswith("aws-xray-sdk") and (match := re.search(r"extra == [\"']([\w-]+)", requirement))
    }
    assert xray_extras & extras, f"{powertools!r} lacks one of the extras {sorted(xray_extras)}"
    assert project["scripts"] == {"cert-audit": "cert_audit.cli:main"}
