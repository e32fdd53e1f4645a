"""The command line: `cert-audit scan` audits an account from a laptop or a CI pipeline,
`cert-audit demo` runs the function end to end on an embedded emulator.

`scan` is the Lambda's engine with a terminal around it: the same `run_audit` scans and
classifies, the same report comes out (as a table, the report's JSON, or CSV), and
`--publish` sends the very SNS message the function sends. `--baseline` compares with an
earlier run's report by the function's own change rules (cert_audit.changes), as the
function compares with its state table. Nothing here decides what a finding is. Bad usage
ends in one line on stderr that says what to do, and exit code 2.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import gzip
import json
import logging
import os
import re
import sys
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from urllib.parse import urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConfigParseError,
    NoCredentialsError,
    ProfileNotFound,
)
from botocore.parsers import ResponseParserError

from cert_audit import formats, inventory, terminal
from cert_audit.audit import run_audit
from cert_audit.aws import make_clients, publish
from cert_audit.changes import changes_of, record_of
from cert_audit.config import (
    ALL_CAS,
    DEFAULT_FLAGGED_STATUSES,
    KNOWN_STATUSES,
    AuditConfig,
    ConfigError,
    load_config,
    parse_ca_ids,
    parse_statuses,
)
from cert_audit.findings import finding_id, iso_utc
from cert_audit.message import build_message, fit_report
from cert_audit.observability import logger
from cert_audit.report import SCHEMA_VERSION, with_changes
from cert_audit.suppressions import Suppression, SuppressionError, load_suppressions_file

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERRORS = 0, 1, 2
EXIT_INTERRUPTED = 130  # the shell's convention for a process stopped by Ctrl-C (128 + SIGINT)
FAIL_ON_CHOICES = ("findings", "new", "errors", "never")
GZIP_MAGIC = b"\x1f\x8b"
BASELINE_FIX = (
    "give the full JSON report of an earlier run of the same account and region (`cert-audit scan "
    "--format json --output FILE`, or the function's archived reports/YYYY/MM/DD/<auditId>.json.gz)"
)
# The reachability check and the account lookup answer at once or not at all: botocore's
# retries would turn an unreachable endpoint into a minute of silence.
QUICK = Config(retries={"mode": "standard", "max_attempts": 1}, connect_timeout=5, read_timeout=15)
# Error codes with which AWS rejects the credentials themselves (not a missing permission).
REJECTED_CREDENTIALS = {
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "ExpiredToken",
    "ExpiredTokenException",
    "InvalidSignatureException",
    "SignatureDoesNotMatch",
}
# The options that load_config checks, and the environment variable each is to the function.
ENVIRONMENT_OF = {
    "--publish": "ALERT_TOPIC_ARN",
    "--max-age-days": "MAX_CERTIFICATE_AGE_DAYS",
    "--ca-expiry-warning-days": "CA_EXPIRY_WARNING_DAYS",
    "--rate-limit": "IOT_RATE_LIMIT",
    # The certificate inventory and its checks (issue 13).
    "--scope": "AUDIT_SCOPE",
    "--inventory-table": "INVENTORY_TABLE_NAME",
    "--device-expiry-warning-days": "DEVICE_EXPIRY_WARNING_DAYS",
    "--min-rsa-key-bits": "MIN_RSA_KEY_BITS",
    "--min-ec-key-bits": "MIN_EC_KEY_BITS",
    "--weak-signature-hashes": "WEAK_SIGNATURE_HASHES",
}
INVENTORY_OPTIONS = {
    "--scope": "ca (default: the certificates of the CAs) or account: every certificate of the account and "
    "region (ListCertificates), also those AWS IoT made or registered without a CA",
    "--inventory-table": "DynamoDB table of the certificate inventory (the stack's InventoryTableName): "
    "turns on the expiry, key and signature checks, describing what it lacks (iot:DescribeCertificate)",
    "--device-expiry-warning-days": "flag device certificates that expire within this many days (default: 30)",
    "--min-rsa-key-bits": "RSA keys under this many bits are WEAK_KEY findings (default: 2048)",
    "--min-ec-key-bits": "EC keys under this many bits are WEAK_KEY findings (default: 256)",
    "--weak-signature-hashes": "signature hashes that are WEAK_SIGNATURE findings, comma-separated (default: SHA1,MD5)",
}
DISTRIBUTION = "iot-certificate-audit"  # the name pyproject.toml installs the package under
# AWS region names: us-east-1, eu-central-2, us-gov-west-1, cn-northwest-1, us-isob-east-1.
REGION_NAME = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")
REGION_HINT = "pass --region or set AWS_DEFAULT_REGION (or a region in your profile: `aws configure set region ...`)"
NO_CREDENTIALS = "no AWS credentials found: run `aws configure` (or `aws sso login`), set AWS_PROFILE or pass --profile"

EPILOG = f"""\
exit codes:
  0    clean: the audit completed and --fail-on found nothing to fail on
  1    findings: at least one certificate has a flagged status (--fail-on findings),
       or at least one finding is new since --baseline (--fail-on new)
  2    scan errors or bad usage: a CA could not be fully audited (--fail-on findings,
       new or errors), or the command could not run at all: an invalid option, an
       unknown profile, no credentials, an unreachable endpoint, a --baseline that is
       not a whole report of this account and region, a failed --publish; or no CA
       was found to audit (wrong region or account), whatever --fail-on says
  130  interrupted (Ctrl-C): the CAs being scanned finish their page, the partial
       report is printed (unfinished CAs marked ScanIncomplete) and not published,
       whatever --fail-on says

--fail-on decides what fails the command (for a CI gate):
  findings  (default) 2 if any CA failed, else 1 if there is any finding, else 0.
            Scan errors win over findings: an audit that did not see every
            certificate cannot vouch for the fleet, whatever it found.
  new       2 if any CA failed, else 1 if any finding is new (not in the --baseline
            report, nor suppressed), else 0: a gate that passes an accepted backlog
            and fails on what appeared since. Needs --baseline.
  errors    2 if any CA failed, else 0: findings are reported, not failed on.
  never     0 whenever the audit ran, whatever it found; bad usage is still 2.

examples:
  every CA in the default profile's region, as a table:
    cert-audit scan
  two CAs of another account and region, every finding as CSV:
    cert-audit scan --profile prod --region eu-west-1 --ca ID1 --ca ID2 --format csv --output findings.csv
  a CI gate (exit 1 on findings not accepted in suppressions.yaml, 2 on scan errors), keeping the report:
    cert-audit scan --fail-on findings --suppressions suppressions.yaml --format json --output audit.json
  a CI gate on new findings only (exit 1 on a finding not in accepted.json, the report you accepted):
    cert-audit scan --baseline accepted.json --fail-on new --format json --output audit.json
  every format a CI job keeps, in one run (reports/report.json, report.junit.xml, report.md, ...):
    cert-audit scan --format json,ocsf,junit,markdown --output-dir reports --fail-on never
  re-run after an alert and send the result to the alert topic:
    cert-audit scan --publish arn:aws:sns:eu-west-1:123456789012:iot-cert-audit-alerts

Flaggable statuses: {", ".join(KNOWN_STATUSES)}.
On a terminal the table fits its width and colours severities (plain with NO_COLOR set, or
to a file or a pipe), and stderr shows a progress bar: certificates so far, pages/s, and the
time left when --baseline says how many the CAs had (--quiet: none)."""


class UsageError(Exception):
    """The command cannot run as asked; the message (one line) says what to do."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cert-audit",
        description="Audit the AWS IoT device certificates of your CAs for flagged statuses.",
        epilog="Run `cert-audit scan --help` for the exit codes and a CI-gate example.",
    )
    parser.add_argument("--version", action="version", version=f"cert-audit {version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="{scan,demo}")
    scan = commands.add_parser(
        "scan",
        help="audit an account with the standard AWS credential chain",
        description="Audit the device certificates of an account's CAs (ListCertificatesByCA)\n"
        "with the same engine and report as the Lambda function.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    scan.add_argument("--region", help="AWS region to audit (default: AWS_DEFAULT_REGION or the profile's)")
    scan.add_argument("--profile", help="named AWS profile (default: the standard credential chain)")
    scan.add_argument(
        "--endpoint-url",
        metavar="URL",
        help="send the IoT calls to this endpoint (a VPC or FIPS endpoint, an emulator); the account "
        "lookup (STS) and --publish (SNS) use their own, or AWS_ENDPOINT_URL_STS and AWS_ENDPOINT_URL_SNS",
    )
    scan.add_argument(
        "--ca",
        action="append",
        default=[],
        metavar="ID",
        help="CA certificate ID (64 hex) to audit; repeat or comma-separate for several; '*' or none: every CA",
    )
    for option, help_text in INVENTORY_OPTIONS.items():
        scan.add_argument(option, metavar=option[2:].split("-")[-1].upper(), help=help_text)
    scan.add_argument(
        "--rate-limit",
        metavar="N",
        help="IoT requests per second the audit may make, all CAs together, 1..100 (default: 5, half of "
        "ListCertificatesByCA's default quota, leaving the rest to provisioning and operators)",
    )
    scan.add_argument(
        "--flag",
        action="append",
        default=[],
        metavar="STATUS",
        help=f"certificate status that is a finding; repeatable (default: {', '.join(DEFAULT_FLAGGED_STATUSES)})",
    )
    scan.add_argument(
        "--max-age-days",
        metavar="DAYS",
        help="also flag ACTIVE device certificates at least this old (default: off; Device Defender uses 365)",
    )
    scan.add_argument(
        "--ca-expiry-warning-days",
        metavar="DAYS",
        help="flag CA certificates that expire within this many days (default: 90)",
    )
    scan.add_argument(
        "--suppressions",
        metavar="FILE",
        help="JSON or YAML file of accepted findings: counted and listed apart, not failed on or alerted",
    )
    scan.add_argument(
        "--baseline",
        metavar="FILE",
        help="an earlier run's JSON report (--format json, or the archived .json.gz) to compare with: "
        "findings are marked new or not (isNew, firstSeen), and the report gains changes and resolvedFindings",
    )
    scan.add_argument(
        "--format",
        default="table",
        metavar="NAME[,NAME...]",
        help=f"output format: {', '.join(formats.FORMATS)} (default: table); several, comma-separated, "
        "with --output-dir",
    )
    scan.add_argument("--output", metavar="FILE", help="write the output to FILE instead of stdout")
    scan.add_argument(
        "--output-dir",
        metavar="DIR",
        help="write each --format to a file in DIR (created if missing, files replaced): "
        + ", ".join(formats.file_name(name) for name in formats.FORMATS),
    )
    scan.add_argument(
        "--publish", metavar="TOPIC_ARN", help="also publish the report to this SNS topic, as the function does"
    )
    scan.add_argument(
        "--fail-on",
        choices=FAIL_ON_CHOICES,
        default="findings",
        help="what makes the exit code non-zero (default: findings; see below)",
    )
    chatter = scan.add_mutually_exclusive_group()
    chatter.add_argument("-q", "--quiet", action="store_true", help="no progress bar and nothing on stderr but errors")
    chatter.add_argument(
        "-v", "--verbose", action="store_true", help="also the engine's log lines on stderr (one per CA scanned)"
    )
    demo = commands.add_parser(
        "demo",
        help="run the audit end to end on an embedded AWS emulator (needs the dev dependencies)",
        description="Seed an in-process AWS emulator (moto) with a fleet of CAs and device certificates, "
        "run the real Lambda handler against it and show what it does.",
    )
    demo.add_argument(
        "--report-file",
        default="demo-report.json",
        metavar="FILE",
        help="where to write the JSON report (default: ./demo-report.json)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit_:  # --help, or argparse's own usage error (exit code 2)
        return exit_.code if isinstance(exit_.code, int) else EXIT_ERRORS
    if args.command == "demo":
        try:
            from cert_audit import demo  # imports moto, a development dependency: only when asked for
        except ImportError as error:
            print(
                f"cert-audit: error: the demo needs the development dependencies ({error}); run `make dev`",
                file=sys.stderr,
            )
            return EXIT_ERRORS
        return demo.main(args.report_file)
    try:
        return scan(args)
    except UsageError as error:
        print(f"cert-audit: error: {error}", file=sys.stderr)
        return EXIT_ERRORS
    except BotoCoreError as error:  # the local AWS setup (config, credentials, region), not the audit
        print(f"cert-audit: error: {error}; check your AWS configuration and the options", file=sys.stderr)
        return EXIT_ERRORS
    except KeyboardInterrupt:  # before or after the CA scans, which handle Ctrl-C themselves
        print("cert-audit: interrupted before the audit could report", file=sys.stderr)
        return EXIT_INTERRUPTED


def version() -> str:
    """The installed package's version; a tree run from source (PYTHONPATH) has none."""
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "(version unknown: not installed; `pip install .` gives it one)"


def scan(args: argparse.Namespace) -> int:
    config, suppressions, output, baseline = audit_inputs(args)
    session = open_session(args.profile, args.region)
    iot, _ = make_clients(session, args.endpoint_url)
    inventory.use_session(session)  # the inventory's table is read with the same profile and region
    check_reachable(session, args.endpoint_url)
    account = account_id(session)
    if baseline:
        baseline.check_matches(account, iot.meta.region_name)
    progress = scan_progress(args, config, baseline)
    # The bar first: while it runs, what is written to stderr (the log lines) shows above it.
    with progress or contextlib.nullcontext(), engine_logs(args):
        report = run_audit(
            iot,
            config,
            account_id=account,
            on_page=progress.on_page if progress else None,
            suppressions=suppressions,
        )
    if progress:
        progress.finish(report)
    if baseline:
        # The function's change rules: a CA that failed resolves nothing, a CA not audited is
        # gone only if this run audited every CA and listed them all.
        changes = changes_of(report, baseline.records, config.all_cas, iso_utc(datetime.now(UTC)))
        report = with_changes(report, changes)
    names = formats.parse_names(args.format)  # audit_inputs has checked them
    if args.output_dir:
        write_output_dir(report, names, Path(args.output_dir))
    elif names == ["table"] and not output:  # fitted and coloured on a terminal
        write_stdout(terminal.screen_table(report, sys.stdout))
    elif output:
        try:
            output.write_text(formats.FORMATS[names[0]].render(report), encoding="utf-8")
        except OSError as error:
            raise UsageError(f"--output: could not write {str(output)!r} ({error.strerror})") from None
    else:
        write_stdout(formats.FORMATS[names[0]].render(report))
    if names != ["table"] or output or args.output_dir:
        for ca in report["cas"]:  # the table shows them; the other outputs may go unread
            if ca["error"]:
                error = ca["error"]
                print(
                    f"cert-audit: CA {ca['caCertificateId']} not fully audited: {error['code']}: {error['message']}",
                    file=sys.stderr,
                )
    if interrupted(report):
        print("cert-audit: interrupted: the report above is partial (see ScanIncomplete)", file=sys.stderr)
        return EXIT_INTERRUPTED
    if nothing_audited(report):
        print(
            f"cert-audit: error: no CA found in account {report['accountId'] or '(unknown)'}, region "
            f"{report['region']}: nothing was audited; check --region (or AWS_DEFAULT_REGION) and --profile",
            file=sys.stderr,
        )
        return EXIT_ERRORS
    if args.publish:
        publish_report(args, report)
    return exit_code(report, args.fail_on)


def scan_progress(args: argparse.Namespace, config: AuditConfig, baseline: Baseline | None):
    """The progress bar when stderr is a terminal and --quiet is not given, sized by the
    baseline's CAs when it has all of this run's."""
    if args.quiet or not sys.stderr.isatty():
        return None
    expected = terminal.expected_certificates(baseline.sizes, config.ca_certificate_ids) if baseline else None
    return terminal.ScanProgress(terminal.progress_console(), expected)


@contextlib.contextmanager
def engine_logs(args: argparse.Namespace):
    """The engine's JSON log lines go to stderr, never stdout, where the report goes: with
    --verbose all of them (one per CA scanned, as CloudWatch gets them), with --quiet errors
    only, else warnings and errors."""
    handler = logger.registered_handler
    level, stream = logger.log_level, handler.stream
    logger.setLevel(logging.INFO if args.verbose else logging.ERROR if args.quiet else logging.WARNING)
    handler.stream = sys.stderr  # not setStream(), which flushes the old stream, maybe closed by now
    try:
        yield
    finally:
        logger.setLevel(level)
        handler.stream = stream


def audit_inputs(
    args: argparse.Namespace,
) -> tuple[AuditConfig, list[Suppression], Path | None, Baseline | None]:
    """The engine's configuration, the suppressions, the output file and the baseline from the
    options, every invalid one named at once, before any AWS call."""
    problems: list[str] = []
    output = None
    baseline = None
    for check in (
        lambda: check_region(args.region, "--region"),
        lambda: check_endpoint_url(args.endpoint_url),
    ):
        try:
            check()
        except UsageError as error:
            problems.append(str(error))
    if args.output:
        try:
            output = writable_output(args.output)
        except UsageError as error:
            problems.append(str(error))
    problems += output_problems(args)
    ca_ids: tuple[str, ...] = ()
    flagged = frozenset(DEFAULT_FLAGGED_STATUSES)
    suppressions: list[Suppression] = []
    try:
        requested = _split(args.ca)
        if ALL_CAS in requested and len(requested) > 1:
            raise ConfigError(f"--ca: {ALL_CAS!r} (every CA) goes alone, not with CA IDs")
        ca_ids = () if requested == [ALL_CAS] else parse_ca_ids(requested, "--ca")
    except ConfigError as error:
        problems.append(str(error))
    if args.flag:
        try:
            flagged = parse_statuses(_split(args.flag), "--flag")
        except ConfigError as error:
            problems.append(str(error))
    # load_config holds the defaults and the other checks; it knows the options by their variables.
    environment = {ENVIRONMENT_OF[option]: value for option, value in _env_options(args).items() if value is not None}
    try:
        base = load_config(environment, require_topic=False)
    except ConfigError as error:
        message = str(error).removeprefix("Invalid configuration: ")
        for option, variable in ENVIRONMENT_OF.items():
            message = message.replace(variable, option)
        problems.append(message)
    if args.suppressions:
        try:
            suppressions = load_suppressions_file(args.suppressions)
        except (SuppressionError, OSError) as error:
            problems.append(f"--suppressions: {error}")
    if args.baseline:
        try:
            baseline = load_baseline(args.baseline)
        except UsageError as error:
            problems.append(str(error))
    elif args.fail_on == "new":
        # Without a baseline every finding is new: the gate would be --fail-on findings in disguise.
        problems.append(
            "--fail-on new: needs --baseline FILE, the report to compare with (without one every finding "
            "is new); make one with `cert-audit scan --fail-on never --format json --output FILE`, "
            "or use --fail-on findings"
        )
    if problems:
        raise UsageError("; ".join(problems))
    config = dataclasses.replace(base, ca_certificate_ids=ca_ids, flagged_statuses=flagged)
    return config, suppressions, output, baseline


@dataclass(frozen=True)
class Baseline:
    """An earlier run's report, as the open findings it had (changes.py's records)."""

    path: str
    account_id: str | None
    region: str | None
    records: list[dict]
    sizes: dict[str, int] = dataclasses.field(default_factory=dict)  # CA ID -> certificates it listed

    def check_matches(self, account: str | None, region: str | None) -> None:
        """A finding's identity includes its account and region: another's report would resolve
        every finding it has and make every one of this run new."""
        if (self.account_id, self.region) == (account, region):
            return
        if account is None and self.account_id:
            raise UsageError(
                f"--baseline: {self.path!r} is a report of account {self.account_id}, and this run's account is "
                "unknown (STS GetCallerIdentity failed), so its findings cannot be matched; let the credentials "
                "call STS (or set AWS_ENDPOINT_URL_STS), or run without --baseline"
            )
        raise UsageError(
            f"--baseline: {self.path!r} is a report of account {self.account_id or 'unknown'}, region "
            f"{self.region}, and this run audits account {account or 'unknown'}, region {region}; "
            "give a report of the same account and region, or the --profile and --region it was made with"
        )


def load_baseline(path: str) -> Baseline:
    """The report in `path` (JSON, gzip-compressed or not: the archive's .json.gz as downloaded),
    checked to be a whole report of schema 1. Its findings are open records, its suppressed
    findings suppressed ones. A report from before findingId existed gets the IDs the engine
    would have given its findings (from the report's account and region); one from before
    firstSeen existed was first seen, at the latest, when that run started."""
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise UsageError(f"--baseline: cannot read {path!r} ({error.strerror}); {BASELINE_FIX}") from None
    try:
        if data[:2] == GZIP_MAGIC:
            data = gzip.decompress(data)
        report = json.loads(data.decode("utf-8-sig"))
    except (OSError, EOFError, zlib.error) as error:
        raise UsageError(f"--baseline: {path!r} is not readable gzip ({error}); {BASELINE_FIX}") from None
    except UnicodeDecodeError:
        raise UsageError(f"--baseline: {path!r} is not UTF-8 text; {BASELINE_FIX}") from None
    except json.JSONDecodeError as error:
        raise UsageError(
            f"--baseline: {path!r} is not JSON ({error.msg}, line {error.lineno}); {BASELINE_FIX}"
        ) from None
    problem = baseline_problem(report)
    if problem:
        raise UsageError(f"--baseline: {path!r} {problem}; {BASELINE_FIX}")
    account, region = report.get("accountId"), report.get("region")
    records: dict[str, dict] = {}
    try:
        for key, suppressed in (("findings", False), ("suppressedFindings", True)):
            for finding in report.get(key) or ():
                finding = {**finding}
                finding["findingId"] = finding.get("findingId") or finding_id(account, region, finding)
                finding["firstSeen"] = finding.get("firstSeen") or report["startedAt"]
                records.setdefault(finding["findingId"], record_of(finding, suppressed))
    except (KeyError, TypeError, AttributeError):
        raise UsageError(
            f"--baseline: {path!r} has a finding without its type, caCertificateId and certificateId; {BASELINE_FIX}"
        ) from None
    return Baseline(path, account, region, list(records.values()), ca_sizes(report))


def ca_sizes(report: dict) -> dict[str, int]:
    """The certificates each fully audited CA of `report` listed: the progress bar's expected
    size. A report without them (or malformed there) gives none: the bar shows no estimate."""
    sizes = {}
    for ca in report.get("cas") or ():
        if isinstance(ca, dict) and not ca.get("error") and isinstance(ca.get("certificatesScanned"), int):
            sizes[str(ca.get("caCertificateId"))] = ca["certificatesScanned"]
    return sizes


def baseline_problem(report: object) -> str | None:
    """Why `report` cannot serve as a baseline, or None."""
    if not isinstance(report, dict) or "schemaVersion" not in report:
        return "is not an audit report (no schemaVersion)"
    if report["schemaVersion"] != SCHEMA_VERSION:
        return f"is a report of schema version {report['schemaVersion']!r}; this cert-audit reads {SCHEMA_VERSION}"
    if not isinstance(report.get("findings"), list) or not isinstance(report.get("startedAt"), str):
        return "has no findings list (the function's invocation result leaves them out)"
    omitted = (report.get("findingsOmitted") or 0) + (report.get("suppressedFindingsOmitted") or 0)
    if report.get("findingsTruncated") or omitted:
        return f"is a report cut to fit one SNS message ({omitted:,} findings left out, which would all count as new)"
    return None


def check_region(region: str | None, source: str) -> None:
    if region is not None and not REGION_NAME.match(region):
        guess = region.strip().lower().replace("_", "-")
        hint = f" (did you mean {guess}?)" if REGION_NAME.match(guess) else ""
        raise UsageError(
            f"{source}: {region!r} is not an AWS region name{hint}; write it like us-east-1 "
            "(see `aws ec2 describe-regions`)"
        )


def check_endpoint_url(url: str | None) -> None:
    if url is None:
        return
    try:
        parts = urlsplit(url)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError:
        valid = False
    if not valid:
        raise UsageError(
            f"--endpoint-url: {url!r} is not a URL; give the scheme and host, "
            "like https://iot-fips.us-east-1.amazonaws.com or http://localhost:5000"
        )


def writable_output(path: str) -> Path:
    """The --output file, checked before the scan: a run must not end in a report it cannot write."""
    output = Path(path)
    if output.is_dir():
        raise UsageError(f"--output: {path!r} is a folder; give a file name, like {str(output / 'audit.json')!r}")
    if not output.parent.is_dir():
        raise UsageError(f"--output: folder {str(output.parent)!r} does not exist; create it or choose another")
    try:  # open for writing without changing anything; a file made for the test is removed
        if output.exists():
            os.close(os.open(output, os.O_WRONLY))
        else:
            os.close(os.open(output, os.O_WRONLY | os.O_CREAT | os.O_EXCL))
            output.unlink()
    except OSError as error:
        raise UsageError(f"--output: cannot write {path!r} ({error.strerror}); choose a file you may write") from None
    return output


def output_problems(args: argparse.Namespace) -> list[str]:
    """What is wrong with --format and --output-dir (the folder is created here, before the scan)."""
    try:
        names = formats.parse_names(args.format)
    except formats.FormatError as error:
        return [str(error)]
    if args.output_dir and args.output:
        return ["--output and --output-dir: give one (--output-dir writes every --format, a file each)"]
    if args.output_dir:
        try:
            writable_dir(args.output_dir)
        except UsageError as error:
            return [str(error)]
    elif len(names) > 1:
        return [f"--format {args.format}: several formats need --output-dir DIR (a file each); one goes to stdout"]
    return []


def writable_dir(path: str) -> Path:
    """The --output-dir folder, created if missing, checked before the scan."""
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"--output-dir: {path!r} is a file; give a folder (it is created if missing)")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UsageError(f"--output-dir: cannot create {path!r} ({error.strerror}); choose another folder") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UsageError(f"--output-dir: cannot write in {path!r}; choose a folder you may write")
    return folder


def write_output_dir(report: dict, names: list[str], folder: Path) -> None:
    """The report in each format asked for, as folder/report.<extension>."""
    written = []
    for name in names:
        path = folder / formats.file_name(name)
        try:
            path.write_text(formats.FORMATS[name].render(report), encoding="utf-8")
        except OSError as error:
            raise UsageError(f"--output-dir: could not write {str(path)!r} ({error.strerror})") from None
        written.append(path.name)
    print(f"cert-audit: wrote {', '.join(written)} in {folder}", file=sys.stderr)


def _env_options(args: argparse.Namespace) -> dict[str, str | None]:
    return {
        "--publish": args.publish,
        "--max-age-days": args.max_age_days,
        "--ca-expiry-warning-days": args.ca_expiry_warning_days,
        "--rate-limit": args.rate_limit,
        **{option: getattr(args, option[2:].replace("-", "_")) for option in INVENTORY_OPTIONS},
    }


def _split(values: list[str]) -> list[str]:
    return [part for value in values for part in value.split(",")]


def open_session(profile: str | None, region: str | None) -> boto3.Session:
    try:
        session = boto3.Session(profile_name=profile, region_name=region)
        credentials = session.get_credentials()
    except ProfileNotFound as error:
        raise UsageError(
            f"AWS profile {error.kwargs.get('profile')!r} is not configured: pass an existing one with --profile "
            "(see `aws configure list-profiles`) or unset AWS_PROFILE"
        ) from None
    except ConfigParseError as error:
        raise UsageError(
            f"the AWS config file {error.kwargs.get('path')!r} cannot be read: fix it (or point "
            "AWS_CONFIG_FILE at another), e.g. with `aws configure`"
        ) from None
    except BotoCoreError as error:
        raise UsageError(f"could not load AWS credentials ({error}); refresh them or pass another --profile") from None
    if credentials is None:
        raise UsageError(NO_CREDENTIALS)
    if not session.region_name:
        raise UsageError(f"no AWS region: {REGION_HINT}")
    check_region(session.region_name, "the AWS region of AWS_DEFAULT_REGION or your profile")
    return session


def check_reachable(session: boto3.Session, endpoint_url: str | None) -> None:
    """Fail at once when IoT cannot be reached or refuses the credentials.

    One ListCACertificates call without retries. Any other answer, a missing permission
    included, means AWS is there: the audit then reports per CA what it could not do.
    """
    probe = session.client("iot", endpoint_url=endpoint_url, config=QUICK)
    try:
        probe.list_ca_certificates(pageSize=1)
    except NoCredentialsError:
        raise UsageError(NO_CREDENTIALS) from None
    except ClientError as error:
        details = error.response.get("Error", {})
        if details.get("Code") in REJECTED_CREDENTIALS:
            raise UsageError(
                f"AWS rejected the credentials ({details['Code']}: {details.get('Message')}); "
                "refresh them (e.g. `aws sso login`) or pass another --profile"
            ) from None
    except BotoCoreError as error:
        raise UsageError(
            f"cannot reach AWS IoT at {probe.meta.endpoint_url} ({type(error).__name__}); "
            "check --endpoint-url, --region and your network connection"
        ) from None


def account_id(session: boto3.Session) -> str | None:
    """The account the credentials belong to (STS GetCallerIdentity), or None: the report
    names it when it can, and an audit never fails for want of it.

    Asked of STS's own endpoint (or AWS_ENDPOINT_URL_STS, which botocore reads), never of
    --endpoint-url: that may be an IoT VPC or FIPS endpoint that answers IoT only.
    """
    try:
        return session.client("sts", config=QUICK).get_caller_identity()["Account"]
    except (BotoCoreError, ClientError, ResponseParserError):  # even an answer that is not STS's
        return None


def publish_report(args: argparse.Namespace, report: dict) -> None:
    """Send the function's SNS message: the report fitted to 256 KiB, JSON and email text."""
    topic_region = args.publish.split(":")[3]  # the topic may live in another region than the CAs
    # SNS's own endpoint (or AWS_ENDPOINT_URL_SNS): --endpoint-url is for IoT.
    _, sns = make_clients(boto3.Session(profile_name=args.profile, region_name=topic_region))
    try:
        publish(sns, args.publish, build_message(fit_report(report)))
    except (BotoCoreError, ClientError) as error:
        raise UsageError(f"could not publish to {args.publish} ({error}); check the ARN and sns:Publish") from None


def write_stdout(text: str) -> None:
    """Write the output; a reader that stops early (`| head`) is not an error of the audit."""
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        # Python would report the pipe again when it flushes stdout at exit: point it at nothing.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def nothing_audited(report: dict) -> bool:
    """No CA was found to audit, and nothing failed: a wrong region or account, not a clean fleet."""
    return not report["cas"] and not report["errors"]


def interrupted(report: dict) -> bool:
    # The CLI sets no time limit, so a CA left unfinished was stopped by Ctrl-C.
    return any(ca["error"] and ca["error"]["code"] == "ScanIncomplete" for ca in report["cas"])


def exit_code(report: dict, fail_on: str) -> int:
    """The --fail-on rules of the help text (EPILOG)."""
    summary = report["summary"]
    if fail_on == "never":
        return EXIT_CLEAN
    if summary["casFailed"] or summary["errors"]:  # a CA not fully audited, or a run-level problem
        return EXIT_ERRORS
    if fail_on == "findings" and summary["findings"]:
        return EXIT_FINDINGS
    if fail_on == "new" and (report["changes"] or {}).get("new"):
        return EXIT_FINDINGS
    return EXIT_CLEAN
