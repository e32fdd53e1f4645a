"""A run that continues across invocations (issue 12): the checkpoint one invocation hands the
next, and the parts that carry the findings of every invocation but the last.

The state machine (infra/state_machine.py) invokes the function with an envelope,

    {"request": <the execution's input: {} or {"caCertificateIds": [...], "notify": ...}>,
     "checkpoint": null | {...}, "maxContinuations": N}

(and "failure": {"Error", "Cause"} from the state that ends a run whose task kept failing),
and invokes it again for as long as it returns a checkpoint. A run that fits in one invocation
returns none: one task, the same report as a direct invocation. One that does not stops its scan
before the deadline and hands over:

- the checkpoint (small: the Step Functions payload limit is 256 KiB): the audit ID and start
  of the run, the CAs not started yet, each CA in progress with its counts so far and the
  nextMarker of the page it did not read, the run errors so far;
- a part in the report bucket, parts/<auditId>/<invocation>.jsonl.gz: the lines of the CAs this
  invocation finished, then one line per finding (gzip JSON Lines, read back a line at a time).

The last invocation reads the parts back, builds the one report of the run, and the handler
remembers, publishes and then deletes the parts (the bucket's lifecycle expires any left over).
A CA whose marker IoT refuses starts again from page one (scan.py); its findings from the
earlier pass are left out of the merge by their restart count, so the totals stay exact.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gzip
import io
import json
import shutil
import sys
import tempfile
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO

from cert_audit.audit import discover, judge, log_scan, report_of
from cert_audit.aws import Iot, MalformedResponse, error_of
from cert_audit.calls import Deadline, RateLimiter, call
from cert_audit.config import ConfigError
from cert_audit.findings import iso_utc
from cert_audit.inventory import open_inventory
from cert_audit.observability import logger
from cert_audit.scan import CaScan
from cert_audit.suppressions import Suppression

PARTS_PREFIX = "parts"
CHECKPOINT_VERSION = 1
# Bounds what a state machine may ask for: each continuation is up to 15 minutes of scanning.
MAX_CONTINUATIONS_LIMIT = 1000
# Findings encoded at a time when a part is written (json.dumps runs in C).
CHUNK = 1000
# The position of the pseudo-CA '*' that carries a discovery error: first, as run_audit puts it.
DISCOVERY_POSITION = -1
# A checkpoint larger than this (an account of thousands of CAs not started yet: 67 bytes each) goes
# to the bucket beside the parts, and the state machine carries only its key: its payloads are
# limited to 256 KiB, the request and the rest of the state included.
CHECKPOINT_INLINE_MAX = 200 * 1024


@dataclass
class Checkpoint:
    """Where a run stands between two invocations."""

    audit_id: str
    now: datetime  # the run's start: every invocation judges ages and expiry at it
    invocations: int = 0  # invocations that ran before this one (each wrote part <n>)
    next_position: int = 0  # the position in the run's CA list of left[0]
    left: list[str] = field(default_factory=list)  # CAs not started yet, in order
    in_progress: list[CaScan] = field(default_factory=list)  # stopped in mid-listing
    positions: dict[str, int] = field(default_factory=dict)  # of the CAs in progress
    errors: list[dict] = field(default_factory=list)  # run-level errors so far

    def to_json(self) -> dict:
        return {
            "version": CHECKPOINT_VERSION,
            "auditId": self.audit_id,
            "startedAt": self.now.isoformat(),
            "invocations": self.invocations,
            "nextPosition": self.next_position,
            "left": self.left,
            "inProgress": [
                {**scan_state(scan), "position": self.positions[scan.ca_certificate_id]} for scan in self.in_progress
            ],
            "errors": self.errors,
        }

    @classmethod
    def from_json(cls, data: object) -> Checkpoint:
        try:
            if data["version"] != CHECKPOINT_VERSION:
                raise ValueError(f"version {data['version']!r}, expected {CHECKPOINT_VERSION}")
            in_progress = [restore(state) for state in data["inProgress"]]
            return cls(
                audit_id=str(data["auditId"]),
                now=datetime.fromisoformat(data["startedAt"]),
                invocations=int(data["invocations"]),
                next_position=int(data["nextPosition"]),
                left=[str(ca_id) for ca_id in data["left"]],
                in_progress=in_progress,
                positions={state["caCertificateId"]: int(state["position"]) for state in data["inProgress"]},
                errors=list(data["errors"]),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as problem:
            raise ConfigError(
                f"event.checkpoint: not a checkpoint this function wrote ({type(problem).__name__}: {problem}); "
                "start a new execution instead of editing one"
            ) from problem


@dataclass(frozen=True)
class Stored:
    """A checkpoint too large for the state machine, kept in the bucket under `key`."""

    audit_id: str
    key: str


@dataclass(frozen=True)
class Envelope:
    """What the state machine hands the function."""

    request: dict
    checkpoint: Checkpoint | Stored | None
    max_continuations: int
    failure: dict | None = None  # set by the state that ends a run whose task kept failing


def envelope_of(event: object) -> Envelope | None:
    """The state machine's envelope, or None for any other event (the schedule's, a direct
    on-demand invocation's)."""
    if not isinstance(event, dict) or "request" not in event or "checkpoint" not in event:
        return None
    request, limit, failure = event["request"], event.get("maxContinuations"), event.get("failure")
    if not isinstance(request, dict):
        raise ConfigError(f"event.request: {request!r} is not allowed; start the execution with a JSON object")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 0 <= limit <= MAX_CONTINUATIONS_LIMIT:
        raise ConfigError(
            f"event.maxContinuations: {limit!r} is not allowed; the state machine passes a whole number from 0 to "
            f"{MAX_CONTINUATIONS_LIMIT}"
        )
    checkpoint = _checkpoint_of(event["checkpoint"])
    return Envelope(request, checkpoint, limit, failure if isinstance(failure, dict) else None)


def _checkpoint_of(data: object) -> Checkpoint | Stored | None:
    if data is None:
        return None
    if isinstance(data, dict) and "stored" in data:
        audit_id, key = data.get("auditId"), data["stored"]
        if isinstance(audit_id, str) and isinstance(key, str) and key.startswith(f"{PARTS_PREFIX}/{audit_id}/"):
            return Stored(audit_id, key)
        raise ConfigError(f"event.checkpoint: {data!r} is not a stored checkpoint this function wrote")
    return Checkpoint.from_json(data)


def checkpoint_key(audit_id: str, invocation: int) -> str:
    return f"{PARTS_PREFIX}/{audit_id}/checkpoint-{invocation:05d}.json"


def checkpoint_payload(run: Run, checkpoint: Checkpoint) -> dict:
    """The checkpoint as the next task gets it: inline, or, past CHECKPOINT_INLINE_MAX, its key in
    the bucket (raises PartError when it cannot be written: the task fails and is retried)."""
    data = checkpoint.to_json()
    text = json.dumps(data, separators=(",", ":"))
    if len(text.encode()) <= CHECKPOINT_INLINE_MAX:
        return data
    key = checkpoint_key(checkpoint.audit_id, checkpoint.invocations)
    try:
        call(
            run.s3().put_object,
            run.part_deadline,
            Bucket=run.bucket,
            Key=key,
            Body=text.encode(),
            ContentType="application/json",
        )
    except Exception as problem:
        error = error_of(problem)
        raise PartError(
            f"Checkpoint s3://{run.bucket}/{key} not written: {error['code']}: {error['message']}"
        ) from problem
    return {"version": CHECKPOINT_VERSION, "auditId": checkpoint.audit_id, "stored": key}


def resolved(run: Run, envelope: Envelope) -> Envelope:
    """The envelope with a stored checkpoint read back from the bucket (raises PartError)."""
    if not isinstance(envelope.checkpoint, Stored):
        return envelope
    key = envelope.checkpoint.key

    def get(**request):
        answer = run.s3().get_object(**request)
        return {"data": json.loads(answer["Body"].read())}

    try:
        data = call(get, run.part_deadline, Bucket=run.bucket, Key=key)["data"]
    except Exception as problem:
        error = error_of(problem)
        raise PartError(
            f"Checkpoint s3://{run.bucket}/{key} not read: {error['code']}: {error['message']}"
        ) from problem
    return dataclasses.replace(envelope, checkpoint=Checkpoint.from_json(data))


# The counts a CA's scan carries from one invocation to the next (CaScan attribute: JSON name).
_COUNTS = {
    "certificates_scanned": "certificatesScanned",
    "pages": "pages",
    "retries": "retries",
    "throttles": "throttles",
    "malformed": "malformed",
    "malformed_example": "malformedExample",
    "duration_ms": "durationMs",
    "restarts": "restarts",
    "next_marker": "nextMarker",
}


def scan_state(scan: CaScan) -> dict:
    """A CA's scan without its findings, as JSON: what the checkpoint or a part keeps of it."""
    state = {"caCertificateId": scan.ca_certificate_id, "byStatus": dict(scan.by_status)}
    state.update({name: getattr(scan, attribute) for attribute, name in _COUNTS.items()})
    return state


def restore(state: dict) -> CaScan:
    scan = CaScan(state["caCertificateId"], by_status=Counter(state["byStatus"]))
    for attribute, name in _COUNTS.items():
        setattr(scan, attribute, state[name])
    return scan


def _description(ca: dict | None) -> dict | None:
    """What the report reads of a CA's description, as JSON (the validity as ISO times)."""
    if ca is None:
        return None
    kept = {key: ca.get(key) for key in ("certificateId", "status", "certificateMode", "autoRegistrationStatus")}
    return {**kept, "validity": {"notAfter": iso_utc((ca.get("validity") or {}).get("notAfter"))}}


def _described(data: dict | None) -> dict | None:
    if data is None:
        return None
    not_after = data["validity"]["notAfter"]
    return {**data, "validity": {"notAfter": datetime.fromisoformat(not_after) if not_after else None}}


def part_key(audit_id: str, invocation: int) -> str:
    return f"{PARTS_PREFIX}/{audit_id}/{invocation:05d}.jsonl.gz"


class PartError(Exception):
    """A part could not be written or read; the message names it."""


@dataclass
class Done:
    """A CA finished (or failed) in some invocation, and where it goes in the report."""

    scan: CaScan
    position: int


@dataclass
class Step:
    """What one invocation leaves: a checkpoint to hand over, or the run's whole report."""

    checkpoint: Checkpoint | None = None
    report: dict | None = None


@dataclass
class Run:
    """What an invocation of a continued run needs from the handler."""

    iot_client: object
    s3: Callable[[], object]  # the S3 client, made when first needed
    bucket: str | None  # None: no report bucket, so no parts and no continuation
    config: object
    account_id: str | None
    suppressions: list[Suppression]
    errors: list[dict]  # this invocation's run errors (run lock, suppressions)
    scan_deadline: Callable[[bool], Deadline]  # the scan's deadline: for the last invocation or not
    part_deadline: Deadline  # writing a part, or reading them back
    room_to_finish: Callable[[], bool]  # whether the time left holds the memory steps and publish


def start(iot: Iot, config, requested: tuple[str, ...] | None, audit_id: str) -> tuple[Checkpoint, list[Done]]:
    """The first invocation's checkpoint: the run's CAs (requested, configured, or discovered)."""
    checkpoint = Checkpoint(audit_id, datetime.now(UTC))
    checkpoint.left = list(requested or config.ca_certificate_ids)
    done = []
    if not checkpoint.left:
        checkpoint.left, failed_discovery = discover(iot, config)
        if failed_discovery:
            done.append(Done(failed_discovery, DISCOVERY_POSITION))
    return checkpoint, done


def _unique_errors(errors: list[dict]) -> list[dict]:
    """Run errors each once: every invocation reads the suppressions and may find them bad again."""
    seen: dict[str, dict] = {}
    for error in errors:
        seen.setdefault(json.dumps(error, sort_keys=True), error)
    return list(seen.values())


def advance(run: Run, envelope: Envelope, requested: tuple[str, ...] | None, audit_id: str) -> Step:
    """One invocation of a continued run: scan on from the checkpoint, then hand over or finish."""
    config = run.config
    region = run.iot_client.meta.region_name
    finishing = envelope.failure is not None
    checkpoint = envelope.checkpoint
    last = (
        finishing or run.bucket is None or (checkpoint.invocations if checkpoint else 0) >= envelope.max_continuations
    )
    iot = Iot(run.iot_client, RateLimiter(config.iot_rate_limit), run.scan_deadline(last))
    done: list[Done] = []
    if checkpoint is None:
        checkpoint, done = start(iot, config, requested, audit_id)
    checkpoint.errors = _unique_errors([*checkpoint.errors, *run.errors])
    if finishing:
        checkpoint.errors.append(_failure_error(envelope.failure))
    resume = {scan.ca_certificate_id: scan for scan in checkpoint.in_progress}
    # The certificate inventory (issue 13): watches this invocation's pages, describes after them,
    # keeps the run's coverage between invocations under its auditId.
    inventory = open_inventory(
        run.iot_client,
        config,
        checkpoint.now,
        run.scan_deadline(last),
        run_id=checkpoint.audit_id,
        write_deadline=run.part_deadline,
    )
    positions = {
        **checkpoint.positions,
        **{ca_id: checkpoint.next_position + i for i, ca_id in enumerate(checkpoint.left)},
    }
    batch = [*resume, *checkpoint.left]
    scans = (
        [_unstarted(resume.get(ca_id), ca_id) for ca_id in batch]
        if finishing
        else inventory.scan(iot, batch, config, checkpoint.now, resume=resume)
    )
    if not finishing:
        inventory.complete(scans)
    checkpoint.errors += inventory.run_errors()
    left, in_progress = _sort_out(scans, resume, last, batch)
    for scan in scans:
        judge(scan, run.account_id, region, run.suppressions, checkpoint.now)
    done += [Done(scan, positions[scan.ca_certificate_id]) for scan in scans if not _goes_on(scan, in_progress, left)]
    for item in done:
        log_scan(item.scan)
    if not left and not in_progress and (last or run.room_to_finish()):
        report = _report(run, checkpoint, done, region, read_parts=not finishing)
        return Step(report=inventory.annotate(report, with_errors=False))
    write_part(run, checkpoint, done, scans)
    return Step(
        checkpoint=Checkpoint(
            audit_id=checkpoint.audit_id,
            now=checkpoint.now,
            invocations=checkpoint.invocations + 1,
            next_position=positions[left[0]] if left else checkpoint.next_position + len(checkpoint.left),
            left=left,
            in_progress=[_without_findings(scan) for scan in in_progress],
            positions={scan.ca_certificate_id: positions[scan.ca_certificate_id] for scan in in_progress},
            errors=checkpoint.errors,
        )
    )


def _failure_error(failure: dict) -> dict:
    cause = str(failure.get("Cause") or "")[:500]
    return {
        "source": "stateMachine",
        "code": str(failure.get("Error") or "TaskFailed"),
        "message": (
            f"An invocation of this run kept failing after its retries ({cause}); the run ended with what it had: "
            "the CAs it had not finished are reported ScanIncomplete"
        ),
    }


def _unstarted(scan: CaScan | None, ca_id: str) -> CaScan:
    """A CA the run ends without finishing: ScanIncomplete, with what it counted so far."""
    scan = scan or CaScan(ca_id)
    scan.error = {
        "code": "ScanIncomplete",
        "message": f"Stopped after {scan.certificates_scanned} certificates: the run ended before this CA was finished",
    }
    return scan


def _sort_out(
    scans: list[CaScan], resume: dict[str, CaScan], last: bool, batch: list[str]
) -> tuple[list[str], list[CaScan]]:
    """(CAs not started, to go back on the list in order; CAs stopped in mid-listing). The last
    invocation hands nothing over: what it did not finish stays ScanIncomplete."""
    if last:
        return [], []
    left, in_progress = [], []
    # Only a run of unstarted CAs at the end of the batch goes back on the list, so the list stays
    # a suffix of the run's order; an unstarted CA before a started one is kept in progress.
    tail = len(scans)
    while tail and _unstarted_here(scans[tail - 1], resume):
        tail -= 1
    for index, scan in enumerate(scans):
        if not scan.stopped:
            continue
        if index >= tail:
            left.append(scan.ca_certificate_id)
        else:
            in_progress.append(scan)
    return left, in_progress


def _unstarted_here(scan: CaScan, resume: dict[str, CaScan]) -> bool:
    return scan.stopped and scan.ca_certificate_id not in resume and scan.pages == 0 and scan.restarts == 0


def _goes_on(scan: CaScan, in_progress: list[CaScan], left: list[str]) -> bool:
    return any(scan is other for other in in_progress) or scan.ca_certificate_id in left


def _without_findings(scan: CaScan) -> CaScan:
    """What the checkpoint keeps of a CA in progress (its findings went to the part)."""
    kept = restore(scan_state(scan))
    kept.stopped = True
    return kept


# --- Parts -----------------------------------------------------------------------------------


@contextlib.contextmanager
def _gzipped_lines(lines: Iterator[str]) -> Iterator[IO[bytes]]:
    with tempfile.TemporaryFile() as body:
        with (
            gzip.GzipFile(fileobj=body, mode="wb", mtime=0, compresslevel=6) as compressed,
            io.TextIOWrapper(compressed, encoding="utf-8") as text,
        ):
            for line in lines:
                text.write(line)
        yield body


def _part_lines(done: list[Done], scans: list[CaScan]) -> Iterator[str]:
    """The header (the CAs finished here), then the findings of every CA scanned here, each as
    [restarts, suppressed (0 or 1), shape, [values]], a chunk of lines at a time. A shape is a
    finding's keys, given once on a line {"shape": n, "keys": [...]} before its first use: read
    back, every finding of a shape shares its key strings (the bench measured findings parsed
    whole, each with its own keys, at twice the memory of the engine's)."""
    header = [
        {**scan_state(item.scan), "position": item.position, "ca": _description(item.scan.ca), "error": item.scan.error}
        for item in done
    ]
    yield _compact({"cas": header})
    shapes: dict[tuple[str, ...], int] = {}
    for scan in scans:
        for suppressed, findings in ((0, scan.findings), (1, scan.suppressed)):
            for begin in range(0, len(findings), CHUNK):
                lines = []
                for finding in findings[begin : begin + CHUNK]:
                    keys = tuple(finding)
                    shape = shapes.get(keys)
                    if shape is None:
                        shape = shapes[keys] = len(shapes)
                        lines.append(_compact({"shape": shape, "keys": keys}))
                    lines.append(_compact([scan.restarts, suppressed, shape, list(finding.values())]))
                yield "".join(lines)


def _compact(value: object) -> str:
    return json.dumps(value, separators=(",", ":")) + "\n"


# Finding fields with few distinct values (a CA's ID, the type, status, severity and reason texts):
# read back, one string object each serves every finding that has it.
_SHARED_FIELDS = frozenset({"type", "caCertificateId", "status", "certificateMode", "severity", "reason"})


def write_part(run: Run, checkpoint: Checkpoint, done: list[Done], scans: list[CaScan]) -> None:
    """Part <invocation> of the run; raises PartError when it cannot be written, so the task
    fails and the state machine retries it from the same checkpoint (the same part key)."""
    s3, key = run.s3(), part_key(checkpoint.audit_id, checkpoint.invocations + 1)

    def put(**request):
        body.seek(0)  # every attempt sends the whole object
        return s3.put_object(Body=body, **request)

    with _gzipped_lines(_part_lines(done, scans)) as body:
        try:
            call(
                put,
                run.part_deadline,
                Bucket=run.bucket,
                Key=key,
                ContentType="application/x-ndjson",
                ContentEncoding="gzip",
            )
        except Exception as problem:
            error = error_of(problem)
            raise PartError(
                f"Part s3://{run.bucket}/{key} not written: {error['code']}: {error['message']}"
            ) from problem


def read_part(run: Run, key: str) -> tuple[list[Done], dict[tuple[str, int, int], list[dict]]]:
    """A part's finished CAs and its findings by (CA, restarts, suppressed); raises PartError."""
    s3 = run.s3()
    with tempfile.TemporaryFile() as body:

        def get(**request):
            body.seek(0)
            body.truncate()
            answer = s3.get_object(**request)
            shutil.copyfileobj(answer["Body"], body)
            return answer

        try:
            call(get, run.part_deadline, Bucket=run.bucket, Key=key)
        except Exception as problem:
            error = error_of(problem)
            raise PartError(f"Part s3://{run.bucket}/{key} not read: {error['code']}: {error['message']}") from problem
        body.seek(0)
        try:
            return _parse_part(body)
        except (OSError, EOFError, ValueError, KeyError, TypeError, IndexError, AttributeError) as problem:
            reason = f"{type(problem).__name__}: {problem}"
            raise PartError(
                f"Part s3://{run.bucket}/{key} not read: {MalformedResponse.__name__}: {reason}"
            ) from problem


def _parse_part(body: IO[bytes]) -> tuple[list[Done], dict[tuple[str, int, int], list[dict]]]:
    findings: dict[tuple[str, int, int], list[dict]] = defaultdict(list)
    with gzip.GzipFile(fileobj=body, mode="rb") as compressed:
        lines = io.TextIOWrapper(compressed, encoding="utf-8")
        header = json.loads(next(lines))
        done = []
        for state in header["cas"]:
            scan = restore(state)
            scan.ca, scan.error = _described(state["ca"]), state["error"]
            done.append(Done(scan, int(state["position"])))
        shapes: list[tuple[list[str], list[int]]] = []  # keys, and where the shared fields are
        strings: dict[str, str] = {}
        for line in lines:
            item = json.loads(line)
            if isinstance(item, dict):
                if item["shape"] != len(shapes):
                    raise ValueError(f"shape {item['shape']} out of order")
                keys = [sys.intern(key) for key in item["keys"]]
                shapes.append((keys, [n for n, key in enumerate(keys) if key in _SHARED_FIELDS]))
                continue
            restarts, suppressed, shape, values = item
            keys, shared = shapes[shape]
            for n in shared:
                values[n] = strings.setdefault(values[n], values[n])
            finding = dict(zip(keys, values, strict=True))
            findings[(finding["caCertificateId"], restarts, suppressed)].append(finding)
    return done, findings


DELETE_MAX = 1000


def delete_parts(s3, bucket: str, audit_id: str, invocations: int, deadline: Deadline) -> None:
    """Remove the run's parts once its report is out; a failure is only logged: the bucket's
    lifecycle rule expires them a day later anyway."""
    keys = [{"Key": key(audit_id, n)} for n in range(1, invocations + 1) for key in (part_key, checkpoint_key)]
    if not keys:
        return
    try:
        failed = []
        for start in range(0, len(keys), DELETE_MAX):  # DeleteObjects takes at most 1,000 keys a call
            batch = keys[start : start + DELETE_MAX]
            answer = call(s3.delete_objects, deadline, Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
            failed += answer.get("Errors") or []
        if failed:
            logger.warning("Parts not deleted", extra={"errors": failed[:5], "count": len(failed)})
    except Exception as problem:  # noqa: BLE001 - they expire by the lifecycle rule
        logger.warning("Parts not deleted", extra={"error": error_of(problem)})


# --- The last invocation ---------------------------------------------------------------------


def _report(run: Run, checkpoint: Checkpoint, done: list[Done], region: str | None, read_parts: bool) -> dict:
    """The run's one report: the CAs finished here and in the parts, each with every finding its
    final pass found (a restarted CA's earlier findings are left out)."""
    findings: dict[tuple[str, int, int], list[dict]] = defaultdict(list)
    everything = list(done)
    for invocation in range(1, checkpoint.invocations + 1):
        key = part_key(checkpoint.audit_id, invocation)
        try:
            part_done, part_findings = read_part(run, key)
        except PartError as problem:
            if read_parts:
                raise  # the task fails and is retried; the state that ends a failed run reports without it
            checkpoint.errors.append(
                {
                    "source": "continuation",
                    "code": "PartNotRead",
                    "message": f"{problem}; the CAs finished in that invocation are missing from this report",
                }
            )
            continue
        everything += part_done
        for segment, items in part_findings.items():
            findings[segment].extend(items)
    scans = []
    for item in sorted(everything, key=lambda d: d.position):
        scan = item.scan
        earlier = [*findings.pop((scan.ca_certificate_id, scan.restarts, 0), []), *scan.findings]
        scan.findings = list({f["findingId"]: f for f in earlier}.values())
        earlier = [*findings.pop((scan.ca_certificate_id, scan.restarts, 1), []), *scan.suppressed]
        scan.suppressed = list({f["findingId"]: f for f in earlier}.values())
        scans.append(scan)
    report = report_of(
        scans,
        run.config,
        checkpoint.audit_id,
        run.account_id,
        region,
        checkpoint.now,
        run.suppressions,
        checkpoint.errors,
    )
    for line, scan in zip(report["cas"], scans, strict=True):
        line["restarts"] = scan.restarts
    report["summary"].update(continuations=checkpoint.invocations, restarts=sum(scan.restarts for scan in scans))
    return report
