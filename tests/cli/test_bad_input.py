"""Bad input as a new user gives it, each in a real `cert-audit` process (on the tree under test):
never a Python traceback, always one line on stderr that says what to do, and exit code 2
(exit 1 would tell a CI gate "findings"). Everything here fails before any AWS call."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.cli.conftest import REGION, cert_audit_process, tree_env

CA_ID = "ab" * 32


def unwritable_file(tmp_path: Path) -> str:
    """A path in a folder nobody may create files in (root ignores file modes; not sysfs)."""
    if os.geteuid() == 0:
        return "/sys/cert-audit-report.json"
    folder = tmp_path / "read-only"
    folder.mkdir(mode=0o555)
    return str(folder / "report.json")


def suppressions_file(tmp_path: Path, content: bytes) -> str:
    path = tmp_path / "suppressions.yaml"
    path.write_bytes(content)
    return str(path)


def aws_config_file(tmp_path: Path, content: str) -> dict[str, str]:
    """An AWS configuration of only this config file (and no credentials file)."""
    (tmp_path / "config").write_text(content)
    return {"AWS_CONFIG_FILE": str(tmp_path / "config"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none")}


# name: (argv after `scan`, environment changes, start of the one line)
BAD_INPUT = {
    "unknown AWS_PROFILE": (
        lambda tmp: ["--region", REGION],
        lambda tmp: {**aws_config_file(tmp, ""), "AWS_PROFILE": "nobody"},
        "AWS profile 'nobody' is not configured: pass an existing one with --profile",
    ),
    "malformed AWS config file": (
        lambda tmp: ["--region", REGION],
        lambda tmp: aws_config_file(tmp, "[default\nregion = eu-west-1\n"),
        f"the AWS config file '{{tmp}}{os.sep}config' cannot be read: fix it",
    ),
    "--output to a folder": (
        lambda tmp: ["--region", REGION, "--output", str(tmp)],
        lambda tmp: {},
        "--output: '{tmp}' is a folder; give a file name",
    ),
    "--output where no file may be written": (
        lambda tmp: ["--region", REGION, "--output", unwritable_file(tmp)],
        lambda tmp: {},
        "--output: cannot write '",
    ),
    "--region not a region name": (
        lambda tmp: ["--region", "us_east_1"],
        lambda tmp: {},
        "--region: 'us_east_1' is not an AWS region name (did you mean us-east-1?); write it like us-east-1",
    ),
    "AWS_DEFAULT_REGION not a region name": (
        lambda tmp: [],
        lambda tmp: {**aws_config_file(tmp, ""), "AWS_DEFAULT_REGION": "eu west 1", "AWS_REGION": None},
        "the AWS region of AWS_DEFAULT_REGION or your profile: 'eu west 1' is not an AWS region name",
    ),
    "--endpoint-url not a URL": (
        lambda tmp: ["--region", REGION, "--endpoint-url", "not-a-url"],
        lambda tmp: {},
        "--endpoint-url: 'not-a-url' is not a URL; give the scheme and host, like https://",
    ),
    "suppressions with an impossible date": (
        lambda tmp: [
            "--region",
            REGION,
            "--suppressions",
            suppressions_file(tmp, f"- caCertificateId: {CA_ID}\n  reason: r\n  expires: 2027-13-45\n".encode()),
        ],
        lambda tmp: {},
        "--suppressions: {tmp}/suppressions.yaml: a date that does not exist (month must be in 1..12); "
        "write dates as YYYY-MM-DD",
    ),
    "suppressions not UTF-8": (
        lambda tmp: [
            "--region",
            REGION,
            "--suppressions",
            suppressions_file(tmp, f"- caCertificateId: {CA_ID}\n  reason: caf\xe9\n".encode("latin-1")),
        ],
        lambda tmp: {},
        "--suppressions: {tmp}/suppressions.yaml, line 2: not UTF-8 text; save the file as UTF-8",
    ),
    "--rate-limit of 0": (
        lambda tmp: ["--region", REGION, "--rate-limit", "0"],
        lambda tmp: {},
        "--rate-limit: '0' is not a whole number from 1 to 100",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUT))
def test_bad_input_is_one_line_and_exit_2(tmp_path, case):
    # Given the bad input
    argv, env, expected = BAD_INPUT[case]

    # When the CLI runs as a process
    result = cert_audit_process("scan", *argv(tmp_path), env=tree_env(**env(tmp_path)))

    # Then one line says what is wrong and what to do, nothing is on stdout, and it exits 2
    assert (result.returncode, result.stdout) == (2, ""), result.stderr
    assert result.stderr.startswith("cert-audit: error: " + expected.format(tmp=tmp_path)), result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


@pytest.mark.parametrize("case", ["unknown AWS_PROFILE", "malformed AWS config file"])
@pytest.mark.parametrize("argv", [["--help"], ["scan", "--help"]])
def test_help_needs_no_aws_configuration(tmp_path, case, argv):
    # Given an AWS configuration that cannot be used
    _, env, _ = BAD_INPUT[case]

    # When the user asks for help, then it is printed (it needs no AWS)
    result = cert_audit_process(*argv, env=tree_env(**env(tmp_path)))
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.startswith("usage: cert-audit")
