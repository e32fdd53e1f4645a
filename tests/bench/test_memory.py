"""The memory group measures what it claims: the DynamoDB stand-in pages, writes and bills as
DynamoDB does (checked through botocore and the engine's own state code), the group's points
carry exact counts, and RESULTS.md's verdicts follow from the figures."""

from __future__ import annotations

import gzip
import io
import json
import math

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from bench import memory as memory_group
from bench.dynamodb import PAGE_BYTES, StandInDynamoDB, Table, item_size, serving
from bench.memory import (
    LAMBDA_MEMORY_MB,
    MEMORY_RESERVE_S,
    TABLE,
    ReadingS3,
    archive_report_of,
    ca_entries,
    current_findings,
    dynamodb_client,
    limits,
    memory_room_s,
    previous_items,
    run_group,
    section,
    with_before,
)
from cert_audit.calls import NO_DEADLINE
from cert_audit.changes import changes_of
from cert_audit.state import _item, read_open, write_changes

NO_RETRIES = Config(retries={"mode": "standard", "total_max_attempts": 1})


def client(url: str):
    return boto3.client("dynamodb", region_name="us-east-1", endpoint_url=url, config=NO_RETRIES)


def big_item(key: str, size: int) -> dict:
    """An item of exactly `size` bytes by DynamoDB's rule (name 'findingId' + key, name 'pad' + padding)."""
    return {"findingId": {"S": key}, "pad": {"S": "x" * (size - len("findingId") - len(key) - len("pad"))}}


@pytest.fixture
def table() -> Table:
    table = Table(TABLE)
    table.load(previous_items(3000))
    return table


def test_scan_pages_hold_at_most_a_megabyte_and_resume_after_the_last_key(table):
    # Given 3,000 state items (~870 bytes each: about 2.5 MB)
    with serving(StandInDynamoDB([table])) as url:
        dynamodb = client(url)
        # When scanned page by page, following LastEvaluatedKey, with the consumed capacity asked for
        keys, pages, request = [], [], {"TableName": TABLE, "ReturnConsumedCapacity": "TOTAL"}
        while True:
            page = dynamodb.scan(**request)
            pages.append(page)
            keys += [item["findingId"]["S"] for item in page["Items"]]
            if "LastEvaluatedKey" not in page:
                break
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    # Then every item came once, in pages of at most 1 MB of items, the last without a key
    assert len(keys) == len(set(keys)) == 3000
    sizes = [sum(item_size(item) for item in page["Items"]) for page in pages]
    assert len(pages) == math.ceil(sum(sizes) / PAGE_BYTES) == 3
    assert all(size <= PAGE_BYTES for size in sizes) and sizes[0] > PAGE_BYTES - 1000
    # And each page is billed half a unit per 4 KB of its items, rounded up, as the stand-in counts too
    units = [page["ConsumedCapacity"]["CapacityUnits"] for page in pages]
    assert units == [math.ceil(size / 4096) * 0.5 for size in sizes]
    assert table.traffic()["read_units"] == sum(units)


def test_scan_resumes_after_a_key_deleted_since_and_honours_limit(table):
    # Given a first page of two items
    with serving(StandInDynamoDB([table])) as url:
        dynamodb = client(url)
        first = dynamodb.scan(TableName=TABLE, Limit=2)
        last = first["LastEvaluatedKey"]
        # When the last key is deleted before the scan goes on
        dynamodb.batch_write_item(RequestItems={TABLE: [{"DeleteRequest": {"Key": last}}]})
        second = dynamodb.scan(TableName=TABLE, Limit=2, ExclusiveStartKey=last)
    # Then the scan goes on with the items after it, never again the ones before
    before = {item["findingId"]["S"] for item in first["Items"]}
    assert first["Count"] == second["Count"] == 2
    assert not before & {item["findingId"]["S"] for item in second["Items"]}
    assert min(item["findingId"]["S"] for item in second["Items"]) > last["findingId"]["S"]


def test_a_strongly_consistent_scan_costs_twice_the_read_units(table):
    # Given one page of two ~870-byte items (one 4 KB block)
    with serving(StandInDynamoDB([table])) as url:
        dynamodb = client(url)

        def units(**request):
            page = dynamodb.scan(TableName=TABLE, Limit=2, ReturnConsumedCapacity="TOTAL", **request)
            return page["ConsumedCapacity"]["CapacityUnits"]

        # When read eventually consistent (as read_open reads) and strongly consistent
        # Then half a unit, and one unit
        assert (units(), units(ConsistentRead=True)) == (0.5, 1.0)


def test_batch_write_bills_as_dynamodb_and_refuses_what_dynamodb_refuses():
    # Given a table with a 1.5 KB item
    table = Table(TABLE)
    table.load([big_item("a", 1536)])
    with serving(StandInDynamoDB([table])) as url:
        dynamodb = client(url)

        def units(*requests):
            answer = dynamodb.batch_write_item(RequestItems={TABLE: list(requests)}, ReturnConsumedCapacity="TOTAL")
            return answer["ConsumedCapacity"][0]["CapacityUnits"]

        # When it is replaced by a small item: the larger of the two counts (2 units)
        assert units({"PutRequest": {"Item": big_item("a", 100)}}) == 2
        # A new 2,049-byte item: 3 units; deleting it: 3 units; deleting a key that is not there: 1
        assert units({"PutRequest": {"Item": big_item("b", 2049)}}) == 3
        assert units({"DeleteRequest": {"Key": {"findingId": {"S": "b"}}}}) == 3
        assert units({"DeleteRequest": {"Key": {"findingId": {"S": "none"}}}}) == 1
        # Then 26 requests, a key twice or a key of the wrong shape are refused, as DynamoDB does
        puts = [{"PutRequest": {"Item": big_item(f"k{i}", 50)}} for i in range(26)]
        for refused in (puts, puts[:1] * 2, [{"DeleteRequest": {"Key": {"other": {"S": "x"}}}}]):
            with pytest.raises(ClientError) as error:
                units(*refused)
            assert error.value.response["Error"]["Code"] == "ValidationException"
        with pytest.raises(ClientError) as error:
            dynamodb.scan(TableName="missing")
        assert error.value.response["Error"]["Code"] == "ResourceNotFoundException"
    # And the table holds what the accepted writes left; a reset brings back the loaded state
    assert table.traffic()["write_units"] == 2 + 3 + 3 + 1 and table.traffic()["items"] == 1
    table.reset()
    assert table.traffic() == {"read_units": 0, "items": 1} and table.items["a"][1] == 1536


def test_engine_reads_the_state_and_writes_only_the_changes_through_the_stand_in(table):
    # Given 3,000 open findings in the state and a run in which 30 were resolved and 30 are new
    findings = current_findings(3000, 30)
    report = {"cas": ca_entries(), "findings": findings, "suppressedFindings": []}
    with serving(StandInDynamoDB([table])) as url:
        dynamodb = client(url)
        # When the engine compares and writes what changed
        changes = changes_of(report, read_open(dynamodb, TABLE, NO_DEADLINE), True, "2026-03-02T06:00:00Z")
        requests = write_changes(dynamodb, TABLE, changes.writes, changes.deletes, NO_DEADLINE)
    # Then 30 new, 30 resolved, 60 write requests, one unit each (items under 1 KB), and the state
    # holds exactly this run's findings
    assert changes.counts() == {"new": 30, "resolved": 30, "ongoing": 2970}
    assert requests == 60 and table.traffic()["write_units"] == 60
    assert all(item_size(_item(record)) <= 1024 for record in changes.writes)
    assert set(table.items) == {finding["findingId"] for finding in findings}


def test_memory_group_points_are_exact_and_writes_follow_the_changes():
    # Given the group at 2,000 open findings (stand-in and every step in processes of their own)
    # When it runs at 1%, 0.1% and 0% changed
    memory = run_group(2000, log=lambda _: None)
    one, tenth, none = memory["points"]
    # Then each point is exact: 10 + 10, 1 + 1 and no change found, the state back to 2,000 items
    assert all(point["correct"] for point in memory["points"])
    assert (one["changed"], tenth["changed"], none["changed"]) == (10, 1, 0)
    # And writes follow the changes: 20, 2 and 0 write units; no BatchWriteItem at 0%
    assert (one["write_units"], tenth["write_units"], none["write_units"]) == (20, 2, 0)
    assert none["batches"] == 0 and none["write"]["requests"] == 0
    # While reading the state costs the same every time: every item scanned
    assert one["read_units"] == none["read_units"] > 0 and none["scanned_items"] == 2000
    assert one["diff"]["peak_rss_mb"] > 0 and memory["archive"]["findings"] == 2000
    assert memory["archive"]["json_gz_bytes"] > 0 and memory["archive"]["csv_gz_bytes"] > 0


def test_archive_step_reads_the_whole_report_it_archives():
    # Given the report of a run with 200 findings, 5 of them new and 5 resolved
    from cert_audit import archive
    from cert_audit.archive import archive_report

    report = archive_report_of(200, 5)
    assert sum(f["isNew"] for f in report["findings"]) == 5 and len(report["resolvedFindings"]) == 5

    class KeepingS3(ReadingS3):
        def put_object(self, *, Body, Key, **rest):
            self.bodies = {**getattr(self, "bodies", {}), Key: Body.read()}
            Body.seek(0)
            return super().put_object(Body=Body, Key=Key, **rest)

    s3 = KeepingS3()
    # When archived with the S3 stub
    archive_report(s3, "bucket", report, NO_DEADLINE)
    # Then the stub read every byte of each object: the whole report and every finding's CSV row
    # (and the OCSF documents and HTML page the archive writes beside them)
    assert s3.sizes == {key: len(body) for key, body in s3.bodies.items()}
    json_key = archive.report_key(report, "json")
    json_body, csv_body = s3.bodies[json_key], s3.bodies[archive.report_key(report, "csv")]
    assert len(json.loads(gzip.decompress(s3.bodies[archive.report_key(report, "ocsf.json")]))) == 200
    assert len(json.loads(gzip.decompress(json_body))["findings"]) == 200
    assert len(io.StringIO(gzip.decompress(csv_body).decode()).readlines()) == 201


def figures(*, diff_cpu: float, peak_mb: float, pages: int = 800) -> dict:
    point = {
        "open": 1_000_000,
        "changed": 5000,
        "scan_pages": pages,
        "scanned_items": 1_000_000,
        "scanned_bytes": 870_000_000,
        "read_units": 106_000.0,
        "write_units": 10_000,
        "batches": 400,
        "correct": True,
        "diff": {"wall_s": 60, "cpu_s": diff_cpu, "rss_base_mb": 60, "rss_before_mb": 900, "peak_rss_mb": peak_mb},
        "write": {"wall_s": 2, "cpu_s": 1, "requests": 10_000, "peak_rss_mb": 90, "item_bytes_mean": 870},
    }
    point["write"]["item_bytes_max"] = 918
    points = [point | {"share": 0.01}, point | {"share": 0.001, "write_units": 1000}, point | {"share": 0.0}]
    archive = {"wall_s": 30, "cpu_s": 20, "rss_before_mb": 900, "peak_rss_mb": 950, "findings": 1_000_000}
    archive |= {"json_gz_bytes": 80_000_000, "csv_gz_bytes": 70_000_000}
    meta = {"command": "python -m bench --only memory", "started": "now", "duration_s": 600}
    return {"points": points, "archive": archive, "meta": meta | {"load_before": 1, "load_after": 1, "versions": "v"}}


def test_results_judge_the_reserve_and_the_memory_from_the_figures():
    room = memory_room_s()
    # Given a diff of 100 Scan pages that needs 5 s of CPU here and a peak of 900 MB
    text = "\n".join(section(figures(diff_cpu=5, peak_mb=900, pages=100)))
    # Then the reserve is judged enough, with headroom, and the memory fits
    assert f"within the {room} s" in text and f"{MEMORY_RESERVE_S} s is enough" in text and "**it fits**" in text
    # Given a diff of 300 s of CPU and a peak over the function's memory
    text = "\n".join(section(figures(diff_cpu=300, peak_mb=LAMBDA_MEMORY_MB + 200)))
    # Then both verdicts say so, with the reserve and the memory it would take
    assert f"**more than the {room} s**" in text and "MEMORY_RESERVE_MS should be **" in text
    assert "**it does not fit**" in text
    assert section(None) == []


def test_the_limits_are_where_the_estimate_meets_the_reserve_and_the_peak_meets_the_memory():
    # Given figures at a million open findings
    memory = figures(diff_cpu=50, peak_mb=1000)
    held = limits(memory)
    # When the steps are estimated at the open findings the reserve is said to hold
    scale = held["reserve"] / 1_000_000
    point, archive = memory["points"][0], memory["archive"]
    per_finding = memory_group.lambda_estimate(point, archive)["total"] / 1_000_000
    # Then they just fit the room (to two significant figures), and with half again as headroom too
    assert 0.9 * memory_room_s() < per_finding * held["reserve"] <= memory_room_s() and scale > 0
    assert 0.9 * memory_room_s() < 1.5 * per_finding * held["reserve_headroom"] <= memory_room_s()
    # And the peak, growing from the 60 MB base at (1000 - 60) MB a million, meets the memory there
    peak_at = 60 + (1000 - 60) * held["memory"] / 1_000_000
    assert 0.9 * LAMBDA_MEMORY_MB < peak_at <= LAMBDA_MEMORY_MB
    assert held["memory_headroom"] < held["memory"]
    assert f"**{held['reserve']:,} open findings**" in "\n".join(section(memory))


def test_a_rerun_shows_the_runs_before_it_with_each_runs_engine():
    # Given runs of the memory group at three engines, each re-run keeping the one it replaces
    runs = []
    for commit, diff_cpu, peak_mb in (("aaaaaaa", 90, 1400), ("bbbbbbb", 30, 1300), ("ccccccc", 35, 1350)):
        run = figures(diff_cpu=diff_cpu, peak_mb=peak_mb)
        run["meta"]["engine"] = f"engine (lambda/) at commit {commit}"
        runs.append(run)
    kept = with_before(runs[2], with_before(runs[1], with_before(runs[0], None)))
    # When RESULTS.md is written
    text = "\n".join(section(kept))
    # Then it has a row for each run, oldest first, with its engine, its diff CPU and its peak
    rows = [text.index(row) for row in ("| commit aaaaaaa | 90.0 | 1,400 |", "| commit bbbbbbb | 30.0 | 1,300 |")]
    assert rows == sorted(rows) and "| this run (now) | commit ccccccc | 35.0 | 1,350 |" in text
    # And each earlier run is kept once, without its own earlier runs
    assert [run["meta"]["engine"][-7:] for run in kept["earlier"]] == ["aaaaaaa", "bbbbbbb"]
    assert all("earlier" not in run for run in kept["earlier"])
    assert with_before(runs[0], None) is runs[0]


def test_judgement_constants_are_the_functions_own():
    # Given the constants the memory section judges with, and the code the function runs
    from cert_audit import calls, events, handler, state
    from infra import constants

    # Then each equals the code's own: a change of the function's memory or reserves changes the verdicts
    assert memory_group.LAMBDA_MEMORY_MB == constants.MEMORY_MB
    assert memory_group.MEMORY_RESERVE_S * 1000 == handler.MEMORY_RESERVE_MS
    assert memory_group.TIME_RESERVE_S * 1000 == handler.TIME_RESERVE_MS
    assert memory_group.PUBLISH_RESERVE_S * 1000 == handler.PUBLISH_RESERVE_MS
    assert memory_group.ATTEMPT_MAX_S == calls.ATTEMPT_MAX_S
    assert (memory_group.WRITERS, memory_group.EVENT_SENDERS) == (state.WRITERS, events.SENDERS)
    assert memory_group.EVENTS_PER_CALL == events.BATCH_MAX


def test_the_steps_read_the_state_with_the_functions_client(table, monkeypatch):
    # Given the function's fast Scan reader, counting the pages it reads
    from cert_audit import aws

    pages = []
    fast = aws.read_scan_fast
    monkeypatch.setattr(aws, "read_scan_fast", lambda **kwargs: pages.append(1) or fast(**kwargs))
    with serving(StandInDynamoDB([table])) as url:
        # When the engine reads 3,000 open findings with the client the diff step makes
        records = list(read_open(dynamodb_client(url), TABLE, NO_DEADLINE))
    # Then every record is read, and every Scan page went through the function's fast reader
    assert len(records) == 3000 and len(pages) == table.traffic()["scan_pages"] > 1
