"""Fixtures for the command line: moto with the emulator extension (shared with the handler
tests), and a way to make chosen CAs fail inside the CLI's own IoT client."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from cert_audit import cli, emulator
from cert_audit.observability import logger

# The handler tests' fixtures: moto + emulator, the alert topic with a queue, no retry back-off.
from tests.integration.conftest import ACCOUNT, REGION, alerts, aws, backend, fresh_state, virtual_time  # noqa: F401

# The tree under test: subprocesses import cert_audit from here, never from an installed copy.
REPO = Path(__file__).resolve().parents[2]
PACKAGE_ROOT = REPO / "lambda"


def tree_env(**overrides: str | None) -> dict[str, str]:
    """This process's environment for a `cert-audit` subprocess: the tree's package first on the
    path, no service endpoints inherited from the shell; a None override removes the variable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT_URL")}
    env["PYTHONPATH"] = os.pathsep.join([str(PACKAGE_ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    for name, value in overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def python_process(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`python ARGS...` as its own process, on the tree: exit code, stdout and stderr as text."""
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=120, env=env or tree_env())


def cert_audit_process(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`cert-audit ARGV...` (as `python -m cert_audit`) in its own process, on the tree."""
    return python_process("-m", "cert_audit", *argv, env=env)


def seed_fleet(iot_backend, *fleets: list[str], mode: str = "DEFAULT") -> list[str]:
    """One CA per fleet (the statuses of its device certificates, in order of creation); their IDs."""
    ca_ids = []
    for number, statuses in enumerate(fleets):
        ca_ids.append(emulator.seed_ca(iot_backend, f"ca-{number}"))
        emulator.seed_certificates(iot_backend, ca_ids[-1], statuses, mode=mode)
    return ca_ids


@pytest.fixture
def iot_faults(monkeypatch):
    """add(operation, rule): every IoT client made from now on, the CLI's included, answers
    `operation` as `rule` says (see emulator.inject_faults)."""
    rules = []
    real_client = boto3.Session.client

    def client(session, service, *args, **kwargs):
        made = real_client(session, service, *args, **kwargs)
        if service == "iot":
            for operation, rule in rules:
                emulator.inject_faults(made, operation, rule)
        return made

    monkeypatch.setattr(boto3.Session, "client", client)
    return lambda operation, rule: rules.append((operation, rule))


@pytest.fixture
def failing_cas(iot_faults) -> set[str]:
    """CA IDs added to the returned set answer ListCertificatesByCA with UnauthorizedException,
    as a missing IAM permission would."""
    failing: set[str] = set()
    iot_faults(
        "ListCertificatesByCA",
        lambda request: "UnauthorizedException" if any(ca in request.url for ca in failing) else None,
    )
    return failing


@pytest.fixture
def run(aws, capsys, monkeypatch):  # noqa: F811 - the imported fixture, requested
    """Runs `cert-audit scan --region REGION ARGV...` in-process: (exit code, stdout, stderr)."""
    # The engine's logger holds the stdout of its import; point it at the captured one so
    # that a log line reaching stdout would show up in the output under test.
    monkeypatch.setattr(logger.registered_handler, "stream", sys.stdout)

    def run_cli(*argv: str) -> tuple[int, str, str]:
        code = cli.main(["scan", "--region", REGION, *argv])
        out, err = capsys.readouterr()
        return code, out, err

    return run_cli
