"""`cert-audit scan` against moto: formats, exit codes, publishing, progress, Ctrl-C, bad usage."""

from __future__ import annotations

import csv
import io
import json
import re
import sys
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

import boto3
import pytest

import cert_audit
from cert_audit import cli, report, scan, terminal
from cert_audit.audit import run_audit
from cert_audit.aws import make_clients
from cert_audit.config import load_config
from cert_audit.emulator import seed_ca, seed_certificates
from cert_audit.message import fit_report, subject
from cert_audit.observability import logger
from tests.cli.conftest import ACCOUNT, REGION, cert_audit_process, seed_fleet

FLEET_A = ["ACTIVE"] * 500 + ["REVOKED"] * 4 + ["INACTIVE"] * 2 + ["REGISTER_INACTIVE"] * 1
FLEET_B = ["ACTIVE"] * 120 + ["PENDING_TRANSFER"] * 3 + ["INACTIVE"] * 1
CLEAN = ["ACTIVE"] * 30
# Fields that differ between two runs of the same audit.
PER_RUN = {"auditId", "startedAt", "finishedAt"}


@pytest.fixture
def two_cas(backend):
    return tuple(seed_fleet(backend, FLEET_A, FLEET_B, mode="SNI_ONLY"))


def engine_report(**kwargs) -> dict:
    iot, _ = make_clients(boto3.Session(region_name=REGION))
    return run_audit(iot, load_config({}, require_topic=False), account_id=ACCOUNT, **kwargs)


def comparable(report: dict) -> dict:
    """The report without what changes from run to run (IDs, times, durations)."""
    cas = [{k: v for k, v in ca.items() if k != "durationMs"} for ca in report["cas"]]
    return {**{k: v for k, v in report.items() if k not in PER_RUN}, "cas": cas}


# Formats


def test_json_is_the_engine_report(two_cas, run):
    # Given two CAs, discovered (no --ca)
    # When the CLI writes JSON
    code, out, err = run("--format", "json", "--fail-on", "never")

    # Then stdout is exactly the engine's report for the same audit, with the account from STS
    assert (code, err) == (0, "")
    report = json.loads(out)  # also proves no log line leaked onto stdout
    assert comparable(report) == comparable(engine_report())
    assert report["accountId"] == ACCOUNT and report["region"] == REGION
    assert report["summary"]["certificatesScanned"] == len(FLEET_A) + len(FLEET_B)
    assert report["summary"]["findings"] == 4 + 2 + 1 + 1
    assert sorted(ca["caCertificateId"] for ca in report["cas"]) == sorted(two_cas)


def test_csv_has_one_row_per_finding(two_cas, run):
    # Given two CAs with findings
    # When the CLI writes CSV
    code, out, _ = run("--format", "csv", "--fail-on", "never")

    # Then the header is the finding fields and each row one finding, worst first as in the report
    rows = list(csv.DictReader(io.StringIO(out)))
    expected = engine_report()["findings"]
    assert code == 0
    assert out.splitlines()[0].split(",") == list(expected[0])
    assert rows == [{k: "" if v is None else str(v) for k, v in finding.items()} for finding in expected]
    assert [row["status"] for row in rows] == ["INACTIVE"] * 3 + ["REGISTER_INACTIVE"] + ["REVOKED"] * 4
    assert {row["certificateMode"] for row in rows if row["caCertificateId"] == two_cas[0]} == {"SNI_ONLY"}


def test_csv_gives_fields_of_other_finding_types_their_own_columns(backend, run):
    # Given a CA that expires in 30 days (a CA_CERTIFICATE_EXPIRING finding, with notAfter and daysToExpiry)
    ca = seed_ca(backend, "expiring", not_after=datetime.now(UTC) + timedelta(days=30, hours=1))
    seed_certificates(backend, ca, ["ACTIVE", "REVOKED"])

    # When the CLI writes CSV
    _, out, _ = run("--format", "csv")

    # Then the extra fields are columns after the common ones, empty where a finding lacks them
    rows = list(csv.DictReader(io.StringIO(out)))
    header = out.splitlines()[0].split(",")
    assert header[: len(report.FINDING_FIELDS)] == list(report.FINDING_FIELDS)
    assert header.index("notAfter") + 1 == header.index("daysToExpiry") > len(report.FINDING_FIELDS)
    expiring = next(row for row in rows if row["type"] == "CA_CERTIFICATE_EXPIRING")
    revoked = next(row for row in rows if row["status"] == "REVOKED")
    assert expiring["daysToExpiry"] == "30" and expiring["certificateId"] == ca
    assert (revoked["notAfter"], revoked["daysToExpiry"]) == ("", "")


def test_table_shows_the_counts(two_cas, run):
    # Given two CAs
    ca_a, ca_b = two_cas

    # When the CLI prints its default table
    code, out, err = run("--fail-on", "never")

    # Then it has the subject line, a row per CA, counts by status and the findings
    assert (code, err) == (0, "")
    lines = out.splitlines()
    report = engine_report()
    assert lines[0] == subject(report) == "IoT certificate audit: 8 findings in 2 of 2 CAs (us-east-1)"
    assert f"Account {ACCOUNT}, region {REGION}" in lines[1]
    row_a = next(line for line in lines if line.startswith(ca_a)).split()
    assert row_a == [ca_a, "scanned", f"{len(FLEET_A):,}", "3", "7"]  # certificates, pages, findings
    assert next(line for line in lines if line.startswith("ACTIVE")).split() == ["ACTIVE", "620"]
    assert next(line for line in lines if line.startswith("All ")).split() == ["All", f"{len(FLEET_A + FLEET_B):,}"]
    assert "Findings (worst first): 8" in out
    assert sum(1 for line in lines if line.startswith(("HIGH ", "MEDIUM ", "LOW "))) == 8


def test_table_lists_at_most_50_findings_and_says_where_the_rest_are(backend, run):
    # Given more findings than a terminal table should hold
    seed_fleet(backend, ["REVOKED"] * (terminal.TABLE_FINDINGS_MAX + 7))

    # When the CLI prints its table
    _, out, _ = run("--fail-on", "never")

    # Then it lists the worst 50 and points to the formats that hold all of them
    assert sum(1 for line in out.splitlines() if line.startswith("LOW ")) == terminal.TABLE_FINDINGS_MAX
    assert "... and 7 more: use --format csv or json for all" in out


def test_flag_and_ca_options_choose_what_is_audited(two_cas, run):
    # Given two CAs; only the second asked for, PENDING_TRANSFER flagged too (lower case, comma list)
    # When the CLI runs
    _, out, _ = run("--ca", two_cas[1].upper(), "--flag", "pending_transfer,INACTIVE", "--format", "json")

    # Then only that CA was audited, and both statuses are findings
    report = json.loads(out)
    assert [ca["caCertificateId"] for ca in report["cas"]] == [two_cas[1]]
    assert sorted({f["status"] for f in report["findings"]}) == ["INACTIVE", "PENDING_TRANSFER"]
    assert report["summary"]["findings"] == 3 + 1


def test_output_writes_the_file_and_leaves_stdout_empty(two_cas, run, tmp_path):
    # Given an output file
    target = tmp_path / "audit.json"

    # When the CLI writes JSON there
    code, out, err = run("--format", "json", "--output", str(target))

    # Then the report is in the file and nothing on stdout or stderr
    assert (code, out, err) == (1, "", "")
    assert json.loads(target.read_text())["summary"]["findings"] == 8


def test_suppressions_file_keeps_accepted_findings_out_of_the_exit_code(two_cas, run, tmp_path):
    # Given a YAML file that accepts every finding of the first CA, and (expired) one of the second
    ca_a, ca_b = two_cas
    target = tmp_path / "suppressions.yaml"
    target.write_text(
        "suppressions:\n"
        f"  - caCertificateId: {ca_a}\n"
        "    reason: Lab CA, decommissioned in CHG-1234\n"
        f"  - caCertificateId: {ca_b}\n"
        "    reason: Was accepted until last year\n"
        "    expires: 2020-12-31\n"
    )

    # When the CLI runs with it
    code, out, _ = run("--format", "json", "--suppressions", str(target))

    # Then the first CA's findings are suppressed (listed apart), the second's still count
    report = json.loads(out)
    assert code == 1
    assert report["summary"]["suppressedFindings"] == 4 + 2 + 1
    assert {f["caCertificateId"] for f in report["suppressedFindings"]} == {ca_a}
    assert [f["caCertificateId"] for f in report["findings"]] == [ca_b]
    assert [s["caCertificateId"] for s in report["expiredSuppressions"]] == [ca_b]


def test_suppressions_that_accept_everything_give_a_clean_exit(two_cas, run, tmp_path):
    target = tmp_path / "suppressions.json"
    target.write_text(json.dumps([{"caCertificateId": ca, "reason": "accepted"} for ca in two_cas]))
    code, out, _ = run("--suppressions", str(target))
    assert code == 0
    assert "8 findings suppressed" in out


def test_malformed_suppressions_file_names_file_and_line(run, tmp_path):
    target = tmp_path / "suppressions.yaml"
    target.write_text("- certificateId: abc\n  reason: typo'd ID\n")
    code, _, err = run("--suppressions", str(target))
    assert code == 2
    assert err.startswith(f"cert-audit: error: --suppressions: {target}, line 1: ")


def test_age_and_ca_expiry_options_reach_the_checks(backend, run):
    # Given a CA that expires in 100 days, with certificates created in 2020
    ca = seed_ca(backend, "ca", not_after=datetime.now(UTC) + timedelta(days=100, hours=1))
    seed_certificates(backend, ca, ["ACTIVE"] * 3)

    # When the CLI runs with the function's defaults, and with both checks widened
    _, default, _ = run("--format", "json")
    _, widened, _ = run("--format", "json", "--max-age-days", "365", "--ca-expiry-warning-days", "120")

    # Then only the widened run finds the old certificates and the expiring CA
    assert json.loads(default)["findings"] == []
    found = Counter(f["type"] for f in json.loads(widened)["findings"])
    assert found == {"DEVICE_CERTIFICATE_AGE": 3, "CA_CERTIFICATE_EXPIRING": 1}


def test_ca_star_audits_every_ca(two_cas, run):
    # When the CLI is asked for every CA as the function's CA_CERTIFICATE_IDS says it ('*')
    code, out, _ = run("--ca", "*", "--format", "json")

    # Then both CAs were discovered and audited
    assert code == 1
    assert sorted(ca["caCertificateId"] for ca in json.loads(out)["cas"]) == sorted(two_cas)


def test_rate_limit_reaches_the_engine(two_cas, run, monkeypatch):
    # Given an engine that shows the configuration it gets
    real_run_audit, configs = cli.run_audit, []

    def run_audit(iot, config, **kwargs):
        configs.append(config)
        return real_run_audit(iot, config, **kwargs)

    monkeypatch.setattr(cli, "run_audit", run_audit)

    # When the CLI runs with a rate limit, and without
    run("--rate-limit", "7", "--format", "json")
    run("--format", "json")

    # Then the engine gets that many IoT requests per second, and the function's default otherwise
    assert [config.iot_rate_limit for config in configs] == [7, load_config({}, require_topic=False).iot_rate_limit]


@pytest.mark.parametrize("fail_on", cli.FAIL_ON_CHOICES)
def test_an_account_without_cas_is_not_a_clean_pass(backend, run, tmp_path, fail_on):
    # Given an account and region without any CA (a wrong region, an empty account), and for
    # --fail-on new a baseline of it without findings
    baseline = tmp_path / "baseline.json"
    baseline.write_text(
        json.dumps(
            {"schemaVersion": 1, "accountId": ACCOUNT, "region": REGION, "startedAt": "2026-01-05T08:00:00Z"}
            | {"findings": [], "suppressedFindings": []}
        )
    )
    compared = ["--baseline", str(baseline)] if fail_on == "new" else []

    # When the CLI audits every CA, whatever --fail-on says
    code, out, err = run("--fail-on", fail_on, *compared)

    # Then it says what was audited, and exits 2 rather than "nothing needs attention"
    assert code == 2
    assert err == (
        f"cert-audit: error: no CA found in account {ACCOUNT}, region {REGION}: nothing was audited; "
        "check --region (or AWS_DEFAULT_REGION) and --profile\n"
    )
    assert "No CA found in this account and region: nothing was audited." in out
    assert "No findings" not in out


# Exit codes

OUTCOMES = {
    "clean": {"fleets": [CLEAN], "fail": False},
    "findings": {"fleets": [FLEET_B], "fail": False},
    "errors": {"fleets": [FLEET_A, CLEAN], "fail": True},  # the failing CA hides its findings; the other has none
    "errors and findings": {"fleets": [FLEET_A, FLEET_B], "fail": True},
}
EXPECTED_EXIT = {
    ("clean", "findings"): 0,
    ("clean", "errors"): 0,
    ("clean", "never"): 0,
    ("findings", "findings"): 1,
    ("findings", "errors"): 0,
    ("findings", "never"): 0,
    ("errors", "findings"): 2,
    ("errors", "errors"): 2,
    ("errors", "never"): 0,
    ("errors and findings", "findings"): 2,  # scan errors win over findings
    ("errors and findings", "errors"): 2,
    ("errors and findings", "never"): 0,
}


@pytest.mark.parametrize("outcome, fail_on", sorted(EXPECTED_EXIT))
def test_exit_code(backend, failing_cas, run, outcome, fail_on):
    # Given a fleet with that outcome (the first CA fails where the outcome has errors)
    cas = seed_fleet(backend, *OUTCOMES[outcome]["fleets"])
    if OUTCOMES[outcome]["fail"]:
        failing_cas.add(cas[0])

    # When the CLI runs with that --fail-on
    code, out, err = run("--fail-on", fail_on, "--format", "json")

    # Then the exit code is the documented one, and the report says why
    report = json.loads(out)
    assert code == EXPECTED_EXIT[(outcome, fail_on)]
    assert bool(report["summary"]["casFailed"]) == OUTCOMES[outcome]["fail"]
    if OUTCOMES[outcome]["fail"]:
        assert f"CA {cas[0]} not fully audited: UnauthorizedException" in err


def test_failed_ca_is_in_the_table_not_on_stderr(backend, failing_cas, run):
    # Given one CA that fails
    [ca] = seed_fleet(backend, CLEAN)
    failing_cas.add(ca)

    # When the CLI prints its table
    code, out, err = run()

    # Then the table carries the error (stderr stays clean) and the exit code is 2
    assert (code, err) == (2, "")
    assert f"{ca}  FAILED (UnauthorizedException)" in out
    assert f"- CA {ca}: UnauthorizedException: Injected UnauthorizedException" in out


def test_ca_discovery_refused_is_a_scan_error(two_cas, run, iot_faults):
    # Given credentials that may not list the account's CAs (no iot:ListCACertificates)
    iot_faults("ListCACertificates", lambda request: "UnauthorizedException")

    # When the CLI audits every CA (no --ca)
    code, out, _ = run()

    # Then the run is a scan error that says which call failed, not a crash or a clean pass
    assert code == 2
    assert "- CA *: UnauthorizedException: " in out and "Injected UnauthorizedException" in out


def test_help_documents_exit_codes_and_fail_on(capsys):
    # When the user asks for help, then it exits 0 and states every exit code and --fail-on value
    assert cli.main(["scan", "--help"]) == 0
    text = capsys.readouterr().out
    for expected in ("exit codes:", "  0 ", "  1 ", "  2 ", "  130 ", "  findings ", "  errors ", "  never "):
        assert expected in text
    assert "cert-audit scan --fail-on findings" in text


# Publishing


def test_publish_sends_the_functions_message(two_cas, alerts, run):
    # Given the alert topic with a queue subscribed
    # When the CLI publishes
    code, out, _ = run("--format", "json", "--publish", alerts.topic_arn)

    # Then the topic got the function's message: the report as JSON, the email text, the attributes
    report = json.loads(out)
    [published] = alerts.published()
    assert code == 1
    assert published["Subject"] == subject(report)
    assert json.loads(published["Message"]["default"]) == fit_report(report)  # the report, within 256 KiB
    assert f"Account {ACCOUNT}, region {REGION}, audit {report['auditId']}." in published["Message"]["email"]
    assert published["MessageAttributes"]["findings"]["Value"] == "8"
    [envelope] = alerts.received()
    assert json.loads(envelope["Message"])["auditId"] == report["auditId"]


def test_publish_to_a_missing_topic_is_a_one_line_error(two_cas, run):
    # Given a topic that does not exist
    topic = f"arn:aws:sns:{REGION}:{ACCOUNT}:nobody-made-me"

    # When the CLI publishes, then the report is still printed and the failure is one line, exit 2
    code, out, err = run("--format", "json", "--publish", topic)
    assert code == 2
    assert json.loads(out)["summary"]["findings"] == 8
    assert err.startswith(f"cert-audit: error: could not publish to {topic} (") and err.count("\n") == 1


# Ctrl-C


# A wait longer than this is a hung test, never a scheduling delay to ride out.
HUNG_S = 300


def test_ctrl_c_reports_what_was_scanned_as_partial(backend, alerts, run, monkeypatch):
    # Given two CAs of three pages each, each scan held after its first page until Ctrl-C is
    # handled: nothing depends on timing, however loaded the machine (a timeout is a failure)
    cas = seed_fleet(backend, ["REVOKED"] * 600, ["REVOKED"] * 600)
    first_pages = threading.Barrier(len(cas) + 1, timeout=HUNG_S)  # every scan, and the main thread
    interrupt_handled = threading.Event()
    real_make_clients = cli.make_clients

    def make_clients(session=None, endpoint_url=None):
        iot, sns = real_make_clients(session, endpoint_url)

        def hold(**_):
            if not interrupt_handled.is_set():
                first_pages.wait()
                if not interrupt_handled.wait(HUNG_S):
                    raise AssertionError("Ctrl-C was never handled")

        iot.meta.events.register("after-call.iot.ListCertificatesByCA", hold)
        return iot, sns

    # and Ctrl-C landing in the main thread while it waits for the scans, as a real one does;
    # the scans go on once the engine has taken it in (its next wait)
    real_wait = scan.wait
    interrupts = [KeyboardInterrupt()]

    def wait(futures, *args, **kwargs):
        if interrupts:
            first_pages.wait()
            raise interrupts.pop()
        interrupt_handled.set()
        return real_wait(futures, *args, **kwargs)

    monkeypatch.setattr(cli, "make_clients", make_clients)
    monkeypatch.setattr(scan, "wait", wait)

    # When the CLI runs (and would publish)
    code, out, err = run("--format", "json", "--publish", alerts.topic_arn)

    # Then each CA finished its page, stopped, and is reported as incomplete; nothing was published
    report = json.loads(out)
    assert code == cli.EXIT_INTERRUPTED
    assert interrupts == []
    for ca in report["cas"]:
        assert (ca["certificatesScanned"], ca["pages"]) == (250, 1)
        assert ca["error"]["code"] == "ScanIncomplete"
        assert "interrupted by the user" in ca["error"]["message"]
    assert report["summary"]["findings"] == 500
    assert "interrupted: the report above is partial" in err
    assert alerts.published() == []


# Bad usage

CA_ID = "ab" * 32


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["--ca", "abc123"], "--ca: 'abc123' is not a CA certificate ID; expected 64 hexadecimal characters"),
        (["--flag", "EXPIRED"], "--flag: unknown status EXPIRED; allowed: ACTIVE, INACTIVE"),
        (["--publish", "alerts"], "--publish: 'alerts' is not an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)"),
        (["--max-age-days", "old"], "--max-age-days: 'old' is not a whole number from 1 to 3652"),
        (["--ca-expiry-warning-days", "0"], "--ca-expiry-warning-days: '0' is not a whole number from 1 to 3652"),
        (["--suppressions", "/no/such/file.yaml"], "--suppressions: [Errno 2] No such file or directory"),
        (["--output", "/no/such/folder/a.json"], "--output: folder '/no/such/folder' does not exist"),
        (["--ca", f"*,{CA_ID}"], "--ca: '*' (every CA) goes alone, not with CA IDs"),
        (
            ["--endpoint-url", "http://127.0.0.1:9"],
            "cannot reach AWS IoT at http://127.0.0.1:9 (EndpointConnectionError)",
        ),
        (["--profile", "nobody"], "AWS profile 'nobody' is not configured: pass an existing one with --profile"),
    ],
)
def test_bad_usage_is_one_line_and_exit_2(run, tmp_path, monkeypatch, argv, expected):
    # Given an empty AWS configuration (no profiles)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))

    # When the CLI runs with the bad option, then one line says what is wrong and what to do
    code, out, err = run(*argv)
    assert code == 2
    assert out == ""
    assert err.startswith("cert-audit: error: " + expected)
    assert err.count("\n") == 1 and "Traceback" not in err


def test_every_bad_option_is_named_at_once(run):
    code, _, err = run("--ca", CA_ID, "--ca", "xyz", "--flag", "REVOKED,GONE")
    assert code == 2
    assert "--ca: 'xyz'" in err and "--flag: unknown status GONE" in err


def test_region_hint_names_the_variable_boto3_reads(aws, capsys, tmp_path, monkeypatch):
    # Given no region anywhere: no option, no environment, an empty AWS config file
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))

    # When the CLI runs, then it says to pass --region or to set a variable
    assert cli.main(["scan"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("cert-audit: error: no AWS region: pass --region or set AWS_DEFAULT_REGION")
    [variable] = re.findall(r"set (AWS_\w+)", err)

    # and that variable is the one boto3 takes the region from
    monkeypatch.setenv(variable, "eu-central-2")
    assert boto3.Session().region_name == "eu-central-2"


def test_output_is_checked_without_a_trace_left(aws, capsys, tmp_path):
    # Given an output file that does not exist yet, and one that holds an earlier report
    new, earlier = tmp_path / "new.json", tmp_path / "earlier.json"
    earlier.write_text("the earlier report")

    # When the CLI, told to write either, cannot reach AWS after checking it
    for target in (new, earlier):
        code = cli.main(["scan", "--region", REGION, "--endpoint-url", "http://127.0.0.1:9", "--output", str(target)])
        assert code == 2
        assert "cannot reach AWS IoT" in capsys.readouterr().err

    # Then the check made no file and changed none
    assert not new.exists()
    assert earlier.read_text() == "the earlier report"


def test_missing_credentials(capsys, tmp_path, monkeypatch):
    # Given no credentials anywhere in the chain (and no instance metadata to ask); no emulator
    # either: the CLI must stop before any request
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")

    # When the CLI runs, then it says how to provide credentials
    code = cli.main(["scan", "--region", REGION])
    assert code == 2
    assert capsys.readouterr().err == f"cert-audit: error: {cli.NO_CREDENTIALS}\n"


def test_rejected_credentials(aws, run, iot_faults):
    # Given credentials AWS does not recognise: IoT answers the CLI's first call with that error
    iot_faults("ListCACertificates", lambda request: "UnrecognizedClientException")

    # When the CLI runs, then it says the credentials were refused and what to do
    code, _, err = run()
    assert code == 2
    assert err.startswith("cert-audit: error: AWS rejected the credentials (UnrecognizedClientException: ")
    assert err.rstrip().endswith("refresh them (e.g. `aws sso login`) or pass another --profile")


def test_engine_logs_stay_off_stdout(two_cas, run, monkeypatch):
    # Given an engine that logs an INFO line (per CA, for CloudWatch) and a warning during the audit
    real_run_audit = cli.run_audit

    def run_audit(*args, **kwargs):
        logger.info("CA scanned, as the engine logs it")
        logger.warning("something the user should see")
        return real_run_audit(*args, **kwargs)

    monkeypatch.setattr(cli, "run_audit", run_audit)
    level = logger.log_level

    # When the CLI writes JSON
    _, out, err = run("--format", "json")

    # Then stdout is the report alone, the warning is on stderr, and the logger is as it was
    assert json.loads(out)["summary"]["findings"] == 8
    assert "something the user should see" in err and "CA scanned" not in err + out
    assert logger.log_level == level


def test_demo_without_the_development_dependencies(capsys, monkeypatch):
    # Given an installation without moto (the Lambda's dependencies only)
    monkeypatch.setitem(sys.modules, "moto", None)
    monkeypatch.setitem(sys.modules, "cert_audit.demo", None)
    monkeypatch.delattr(cert_audit, "demo", raising=False)

    # When the user asks for the demo, then one line says what to install
    assert cli.main(["demo"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("cert-audit: error: the demo needs the development dependencies (")
    assert err.endswith("run `make dev`\n")


def test_argparse_errors_exit_2(capsys):
    assert cli.main(["scan", "--fail-on", "sometimes"]) == 2
    assert "invalid choice: 'sometimes'" in capsys.readouterr().err
    # An unknown --format is one line naming the known formats (tests/cli/test_output_formats.py)
    assert cli.main(["scan", "--format", "xml"]) == 2
    assert capsys.readouterr().err.startswith("cert-audit: error: --format: 'xml' is not a format; choose from table")


def test_module_entry_point_gives_one_line_and_no_traceback():
    # When `python -m cert_audit` gets a bad CA ID (a real process: nothing may escape as a traceback)
    result = cert_audit_process("scan", "--region", REGION, "--ca", "nope")

    # Then it exits 2 with one line on stderr
    assert result.returncode == 2
    assert result.stderr.startswith("cert-audit: error: --ca: 'nope' is not a CA certificate ID")
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
