"""A stand-in for the audit's DynamoDB state table, on loopback, for the benchmark's memory group.

It speaks DynamoDB's JSON protocol (POST /, `X-Amz-Target: DynamoDB_20120810.<Operation>`,
`application/x-amz-json-1.0`, errors as `{"__type", "message"}`, the `x-amz-crc32` header that
botocore checks), so that the engine's own code (state.read_open, state.write_changes) runs
through botocore's real request building, response parsing and checksum. Two operations, the
two the function uses on the table:

- **Scan**: items in the order of their key (DynamoDB's order is that of a hash of the key:
  as random as these keys, which are hashes too), pages of at most 1 MB of items by DynamoDB's
  item-size rule, `LastEvaluatedKey` while items remain, `ExclusiveStartKey` resumes after that
  key (even one deleted since), `Limit`.
- **BatchWriteItem**: at most 25 put and delete requests, no key twice, every one processed
  (`UnprocessedItems` always empty).

It counts what DynamoDB would bill: read request units of each Scan page (the page's item
bytes rounded up to 4 KB, half a unit per 4 KB for an eventually consistent read) and write
request units per put (the larger of the old and new item, rounded up to 1 KB) and per delete
(the deleted item, rounded up to 1 KB; a key that is not there costs 1), also returned as
`ConsumedCapacity` when asked. Where it differs from DynamoDB: bench/README.md.
"""

from __future__ import annotations

import bisect
import json
import math
import sys
import threading
import uuid
import zlib
from collections import Counter
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler

from bench import server

TARGET_PREFIX = "DynamoDB_20120810."
CONTENT_TYPE = "application/x-amz-json-1.0"
PAGE_BYTES = 1024 * 1024  # a Scan page holds at most 1 MB of items
READ_UNIT_BYTES = 4096
WRITE_UNIT_BYTES = 1024
BATCH_MAX = 25
ITEM_MAX_BYTES = 400 * 1024
CONTROL_PREFIX = "/_bench/"
_ERROR_PREFIX = {
    "ValidationException": "com.amazon.coral.validate#",
    "UnknownOperationException": "com.amazon.coral.service#",
}


class ApiError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message

    def body(self) -> bytes:
        prefix = _ERROR_PREFIX.get(self.code, "com.amazonaws.dynamodb.v20120810#")
        return json.dumps({"__type": prefix + self.code, "message": self.message}).encode()


def attribute_size(value: dict) -> int:
    """An attribute value's size by DynamoDB's rule (strings: UTF-8 bytes; BOOL, NULL: 1 byte;
    numbers: about one byte per two digits, plus one)."""
    (kind, inner), *_ = value.items()
    if kind in ("S", "B"):
        return len(inner.encode())
    if kind == "N":
        return (len(inner.lstrip("-").replace(".", "").lstrip("0")) + 1) // 2 + 1
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        return 3 + sum(len(name.encode()) + attribute_size(v) + 1 for name, v in inner.items())
    if kind == "L":
        return 3 + sum(attribute_size(v) + 1 for v in inner)
    raise ApiError("ValidationException", f"Unsupported attribute type {kind}")


def item_size(item: dict) -> int:
    """An item's size: the UTF-8 length of each attribute's name plus its value's size."""
    return sum(len(name.encode()) + attribute_size(value) for name, value in item.items())


def write_units(size: int) -> int:
    return max(1, math.ceil(size / WRITE_UNIT_BYTES))


def read_units(page_bytes: int) -> float:
    """An eventually consistent read: half a unit per 4 KB, the page's bytes rounded up (a
    strongly consistent one costs twice that)."""
    return max(1, math.ceil(page_bytes / READ_UNIT_BYTES)) * 0.5


class Table:
    """One table keyed by a string partition key, its items kept as wire JSON, with the billing
    counts since the last reset. `reset` also undoes every write since the last `load`, so one
    stand-in holding a million items serves several runs from the same state."""

    def __init__(self, name: str, key: str = "findingId"):
        self.name = name
        self.key = key
        self.items: dict[str, tuple[bytes, int]] = {}  # key -> (the item as JSON, its size)
        self.order: list[str] = []  # the keys in scan order, rebuilt after writes
        self.ordered = True
        self.undo: dict[str, tuple[bytes, int] | None] = {}
        self.counts: Counter = Counter()
        self.lock = threading.Lock()

    def load(self, items: Iterable[dict]) -> None:
        """Items to start from (what the last run left); not counted, never undone."""
        with self.lock:
            for item in items:
                self.items[item[self.key]["S"]] = (json.dumps(item, separators=(",", ":")).encode(), item_size(item))
            self.ordered = False
            self.undo.clear()

    def reset(self) -> None:
        with self.lock:
            for key, before in self.undo.items():
                if before is None:
                    self.items.pop(key, None)
                else:
                    self.items[key] = before
            self.undo.clear()
            self.ordered = False
            self.counts.clear()

    def _key_of(self, key: dict | None, what: str) -> str:
        if not isinstance(key, dict) or set(key) != {self.key} or "S" not in key[self.key]:
            raise ApiError("ValidationException", f"The provided key element does not match the schema ({what})")
        return key[self.key]["S"]

    def scan(self, request: dict) -> bytes:
        limit = request.get("Limit")
        if limit is not None and (not isinstance(limit, int) or limit < 1):
            raise ApiError(
                "ValidationException",
                "1 validation error detected: Value at 'limit' failed to satisfy "
                "constraint: Member must have value greater than or equal to 1",
            )
        with self.lock:
            if not self.ordered:
                self.order = sorted(self.items)
                self.ordered = True
            start = request.get("ExclusiveStartKey")
            position = bisect.bisect_right(self.order, self._key_of(start, "ExclusiveStartKey")) if start else 0
            chunks, page_bytes = [], 0
            while position < len(self.order) and (limit is None or len(chunks) < limit):
                wire, size = self.items[self.order[position]]
                if chunks and page_bytes + size > PAGE_BYTES:
                    break
                chunks.append(wire)
                page_bytes += size
                position += 1
            more = position < len(self.order)
            units = read_units(page_bytes) * (2 if request.get("ConsistentRead") else 1)
            self.counts.update(scan_pages=1, scanned_items=len(chunks), scanned_bytes=page_bytes)
            self.counts["read_units_x2"] += round(units * 2)
        body = b'{"Count":%d,"Items":[%s],"ScannedCount":%d' % (len(chunks), b",".join(chunks), len(chunks))
        if more:
            last = json.dumps({self.key: {"S": self.order[position - 1]}})
            body += b',"LastEvaluatedKey":' + last.encode()
        if request.get("ReturnConsumedCapacity") in ("TOTAL", "INDEXES"):
            body += b',"ConsumedCapacity":' + json.dumps({"TableName": self.name, "CapacityUnits": units}).encode()
        return body + b"}"

    def batch_write(self, requests: list) -> float:
        """Apply one table's write requests; the write units they cost."""
        if not isinstance(requests, list) or not 1 <= len(requests) <= BATCH_MAX:
            raise ApiError(
                "ValidationException",
                f"1 validation error detected: Value at 'requestItems' failed to satisfy constraint: Map value "
                f"must satisfy constraint: [Member must have length less than or equal to {BATCH_MAX}, "
                "Member must have length greater than or equal to 1]",
            )
        writes = []
        for request in requests:
            if set(request) == {"PutRequest"}:
                item = request["PutRequest"].get("Item")
                key = self._key_of({self.key: (item or {}).get(self.key)}, "PutRequest")
                size = item_size(item)
                if size > ITEM_MAX_BYTES:
                    raise ApiError("ValidationException", "Item size has exceeded the maximum allowed size")
                writes.append((key, (json.dumps(item, separators=(",", ":")).encode(), size)))
            elif set(request) == {"DeleteRequest"}:
                writes.append((self._key_of(request["DeleteRequest"].get("Key"), "DeleteRequest"), None))
            else:
                raise ApiError("ValidationException", "Supplied AttributeValue has more than one datatypes set")
        if len({key for key, _ in writes}) != len(writes):
            raise ApiError("ValidationException", "Provided list of item keys contains duplicates")
        units = 0
        with self.lock:
            for key, after in writes:
                before = self.items.get(key)
                self.undo.setdefault(key, before)
                if after is None:
                    self.items.pop(key, None)
                    units += write_units(before[1] if before else 0)
                    self.counts["deletes"] += 1
                else:
                    self.items[key] = after
                    units += write_units(max(after[1], before[1] if before else 0))
                    self.counts["puts"] += 1
                if (before is None) != (after is None):
                    self.ordered = False
            self.counts.update(batches=1, write_units=units)
        return units

    def traffic(self) -> dict:
        with self.lock:
            counts = dict(self.counts)
            counts["read_units"] = counts.pop("read_units_x2", 0) / 2
            return counts | {"items": len(self.items)}


class StandInDynamoDB:
    """The tables, and the answer to one request."""

    def __init__(self, tables: Iterable[Table]):
        self.tables = {table.name: table for table in tables}

    def table(self, name: object) -> Table:
        if name not in self.tables:
            raise ApiError("ResourceNotFoundException", "Requested resource not found")
        return self.tables[name]

    def answer(self, target: str, body: bytes) -> bytes:
        if not target.startswith(TARGET_PREFIX):
            raise ApiError("UnknownOperationException", "")
        try:
            request = json.loads(body or b"{}")
        except ValueError as error:
            raise ApiError("SerializationException", "Start of structure or map found where not expected") from error
        operation = target[len(TARGET_PREFIX) :]
        if operation == "Scan":
            return self.table(request.get("TableName")).scan(request)
        if operation == "BatchWriteItem":
            items = request.get("RequestItems")
            if not isinstance(items, dict) or not items:
                raise ApiError("ValidationException", "The requestItems parameter is required for BatchWriteItem")
            if sum(len(requests) for requests in items.values()) > BATCH_MAX:
                raise ApiError("ValidationException", "Too many items requested for the BatchWriteItem call")
            consumed = [
                {"TableName": name, "CapacityUnits": self.table(name).batch_write(requests)}
                for name, requests in items.items()
            ]
            answer = {"UnprocessedItems": {}}
            if request.get("ReturnConsumedCapacity") in ("TOTAL", "INDEXES"):
                answer["ConsumedCapacity"] = consumed
            return json.dumps(answer).encode()
        raise ApiError("UnknownOperationException", "")

    def control(self, command: str) -> dict:
        if command == "reset":
            for table in self.tables.values():
                table.reset()
            return {"reset": True}
        if command == "traffic":
            return {name: table.traffic() for name, table in self.tables.items()}
        raise KeyError(command)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as botocore's pool expects
    server: server._Server

    def do_POST(self) -> None:  # noqa: N802 - the name http.server dispatches to
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            self._send(200, self.server.api.answer(self.headers.get("X-Amz-Target", ""), body))
        except ApiError as error:
            self._send(400, error.body())

    def do_GET(self) -> None:  # noqa: N802
        if not self.path.startswith(CONTROL_PREFIX):
            self._send(404, ApiError("UnknownOperationException", "").body())
            return
        try:
            answer = self.server.api.control(self.path[len(CONTROL_PREFIX) :])
        except KeyError:
            self._send(404, b"{}")
            return
        self._send(200, json.dumps(answer).encode())

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", CONTENT_TYPE)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-amzn-RequestId", uuid.uuid4().hex)
        self.send_header("x-amz-crc32", str(zlib.crc32(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - http.server's signature
        pass


def serving(api: StandInDynamoDB):
    """Serve `api` on a free loopback port for the duration of the block; yields the endpoint URL."""
    return server.serving(api, _Handler, "stand-in-dynamodb")


def main() -> None:
    """Serve the state table of `OPEN` open findings until stdin closes:
    `python -m bench.dynamodb OPEN`. In a process of its own, like bench.server, so that the
    measured steps it serves do not inherit its memory (a million items are ~1 GB here)."""
    from bench.memory import TABLE, previous_items

    table = Table(TABLE)
    table.load(previous_items(int(sys.argv[1])))
    with serving(StandInDynamoDB([table])) as url:
        print(url, flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main()
