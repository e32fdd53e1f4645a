"""Fixtures for the command line: moto with the emulator extension (shared with the handler
tests), and a way to make chosen CAs fail inside the CLI's own IoT client."""

from __future__ import annotations

import sys

import pytest

from cert_audit import cli, emulator
from cert_audit.observability import logger

# The handler tests' fixtures: moto + emulator, the alert topic with a queue, no retry back-off.
from tests.integration.conftest import ACCOUNT, REGION, alerts, aws, backend, fresh_state, no_backoff  # noqa: F401


def seed_fleet(iot_backend, *fleets: list[str], mode: str = "DEFAULT") -> list[str]:
    """One CA per fleet (the statuses of its device certificates, in order of creation); their IDs."""
    ca_ids = []
    for number, statuses in enumerate(fleets):
        ca_ids.append(emulator.seed_ca(iot_backend, f"ca-{number}"))
        emulator.seed_certificates(iot_backend, ca_ids[-1], statuses, mode=mode)
    return ca_ids


@pytest.fixture
def failing_cas(monkeypatch) -> set[str]:
    """CA IDs added to the returned set answer ListCertificatesByCA with UnauthorizedException,
    as a missing IAM permission would; injected into the clients the CLI creates."""
    failing: set[str] = set()
    real_make_clients = cli.make_clients

    def make_clients(session=None, endpoint_url=None):
        iot, sns = real_make_clients(session, endpoint_url)
        emulator.inject_faults(
            iot,
            "ListCertificatesByCA",
            lambda request: "UnauthorizedException" if any(ca in request.url for ca in failing) else None,
        )
        return iot, sns

    monkeypatch.setattr(cli, "make_clients", make_clients)
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
