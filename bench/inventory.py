"""The inventory group (issue 13): DescribeCertificate throughput against its quota, and the cache's
read cost and CPU at a million certificates.

    PYTHONPATH=lambda:. .venv/bin/python -m bench.inventory            # ~2 minutes
    PYTHONPATH=lambda:. .venv/bin/python -m bench.inventory --quick    # seconds

1. Throughput: the engine's own describe step (`Inventory._describe_pending`, the engine's IoT
   client: `make_clients`, calls.call's retries and its RateLimiter) against a stand-in IoT
   endpoint (stdlib HTTP server on 127.0.0.1, in this process) that answers DescribeCertificate
   with a real PEM after LATENCY_S, under a token bucket of QUOTA requests a second (burst 1,
   the strictest reading; over it: ThrottlingException), for BUDGET_S seconds, at several
   INVENTORY_RATE_LIMIT settings. Share = describes a second / QUOTA.
2. Cache at 1M: entries made as `inventory._item` writes them (a real certificate's issuer),
   sized by DynamoDB's rules (bench.dynamodb.item_size), cut into 1 MB Scan pages: read units a
   run (eventually consistent), storage; and `Inventory.load` timed on those pages as the
   engine's fast Scan reader hands them over (CPU seconds, peak RSS), no HTTP.
Prints one JSON document; RESULTS.md's section is written by hand from it.
"""

from __future__ import annotations

import argparse
import json
import resource
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from bench.dynamodb import item_size, read_units
from bench.server import TokenBucket
from cert_audit.aws import make_clients
from cert_audit.calls import NO_DEADLINE, RateLimiter
from cert_audit.config import load_config
from cert_audit.emulator import device_certificate_pem
from cert_audit.inventory import Entry, Inventory, _item
from cert_audit.x509 import parse_pem

QUOTA = 10.0  # DescribeCertificate's default (L-FC864907)
LATENCY_S = 0.08
BUDGET_S = 30.0
RATES = (5, 10, 20)  # the default (half the quota), the quota, twice the quota
PAGE_BYTES = 1024 * 1024  # a Scan page
FULL, QUICK = 1_000_000, 50_000
READ_UNIT_PRICE = 0.125 / 1e6  # on-demand, us-east-1
WRITE_UNIT_PRICE = 0.625 / 1e6


def _stand_in(pem: str, quota: float) -> tuple[ThreadingHTTPServer, TokenBucket, dict]:
    bucket = TokenBucket(quota)
    counts = {"ok": 0, "throttled": 0}
    lock = threading.Lock()
    not_after = parse_pem(pem).not_after

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 - http.server's dispatch name
            certificate_id = self.path.rsplit("/", 1)[-1].split("?")[0]
            if not bucket.take():
                with lock:
                    counts["throttled"] += 1
                body = json.dumps({"message": "Rate exceeded"}).encode()
                return self._send(400, body, {"x-amzn-ErrorType": "ThrottlingException:"})
            time.sleep(LATENCY_S)
            with lock:
                counts["ok"] += 1
            description = {
                "certificateId": certificate_id,
                "certificateArn": f"arn:aws:iot:us-east-1:123456789012:cert/{certificate_id}",
                "status": "ACTIVE",
                "certificatePem": pem,
                "caCertificateId": "c" * 64,
                "validity": {"notBefore": not_after - 86400 * 365, "notAfter": not_after},
            }
            return self._send(200, json.dumps({"certificateDescription": description}).encode(), {})

        def _send(self, status: int, body: bytes, headers: dict) -> None:
            self.send_response(status)
            for name, value in {"Content-Type": "application/json", "x-amzn-RequestId": "bench", **headers}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args) -> None:  # noqa: A002 - http.server's signature
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, bucket, counts


def throughput(rate: int, budget_s: float) -> dict:
    """Describes a second the engine reaches at INVENTORY_RATE_LIMIT=rate under the quota."""
    pem = device_certificate_pem(datetime.now(UTC) + timedelta(days=400), key_type="RSA", key_size=2048)
    server, _, counts = _stand_in(pem, QUOTA)
    try:
        endpoint = f"http://127.0.0.1:{server.server_address[1]}"
        import boto3

        session = boto3.Session(aws_access_key_id="bench", aws_secret_access_key="bench", region_name="us-east-1")
        iot, _ = make_clients(session, endpoint)
        env = {"INVENTORY_RATE_LIMIT": str(rate), "INVENTORY_TIME_BUDGET_SECONDS": str(int(budget_s))}
        config = load_config(env, require_topic=False)
        inventory = Inventory(config, datetime.now(UTC), NO_DEADLINE, iot, on=True)
        size = int(rate * budget_s) + 50
        inventory.pending = {
            f"{n:064x}": ("c" * 64, {"certificateId": f"{n:064x}", "status": "ACTIVE"}) for n in range(size)
        }
        started = time.monotonic()
        inventory._describe_pending(inventory._budget(budget_s), RateLimiter(rate))
        wall = time.monotonic() - started
    finally:
        server.shutdown()
    per_second = inventory.described / wall
    return {
        "rateLimit": rate,
        "budgetSeconds": budget_s,
        "wallSeconds": round(wall, 1),
        "described": inventory.described,
        "describesPerSecond": round(per_second, 2),
        "shareOfQuota": round(per_second / QUOTA, 3),
        "throttledAnswers": counts["throttled"],
        "failed": inventory.failed,
        "perMillionHours": round(1e6 / per_second / 3600, 1),
    }


class _Pages:
    """A DynamoDB client stand-in whose Scan hands over pages as the engine's fast reader makes them,
    each built when asked for (so only one page is in memory); the time spent building them is kept
    apart, to be taken off the engine's."""

    def __init__(self, bounds: list[int], make_item):
        self.bounds = bounds  # the first entry of each page, and the end
        self.make_item = make_item
        self.building_s = 0.0

    def scan(self, **request) -> dict:
        started = time.process_time()
        index = int(request.get("ExclusiveStartKey", {}).get("page", {}).get("N", "0"))
        page = {"Items": [self.make_item(n) for n in range(self.bounds[index], self.bounds[index + 1])]}
        if index + 2 < len(self.bounds):
            page["LastEvaluatedKey"] = {"page": {"N": str(index + 1)}}
        self.building_s += time.process_time() - started
        return page


def cache(entries: int) -> dict:
    """Read units, storage and the engine's CPU and peak memory for a cache of `entries`."""
    pem = device_certificate_pem(datetime.now(UTC) + timedelta(days=400), issuer="IoT Fleet Issuing CA 2024 G2")
    details = parse_pem(pem)
    expires = int((datetime.now(UTC) + timedelta(days=90)).timestamp())

    def make_item(n: int) -> dict:
        entry = Entry(
            "c" * 64,
            details.key_type,
            details.key_size,
            details.signature_hash,
            details.not_before,
            details.not_after + n,
            details.issuer,
            expires,
        )
        return _item(f"{n:064x}", entry)

    bounds, page_bytes, total_bytes, units = [0], 0, 0, 0.0
    for n in range(entries):
        size = item_size(make_item(n))
        if page_bytes + size > PAGE_BYTES:
            units += read_units(page_bytes)
            bounds.append(n)
            page_bytes = 0
        page_bytes += size
        total_bytes += size
    units += read_units(page_bytes)
    bounds.append(entries)
    config = load_config({"INVENTORY_TABLE_NAME": "inventory"}, require_topic=False)
    pages = _Pages(bounds, make_item)
    inventory = Inventory(config, datetime.now(UTC), NO_DEADLINE, None, pages)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    cpu = time.process_time()
    inventory.load()
    cpu = time.process_time() - cpu - pages.building_s
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "entries": entries,
        "itemBytes": round(total_bytes / entries, 1),
        "tableMegabytes": round(total_bytes / 1e6, 1),
        "scanPages": len(bounds) - 1,
        "readUnitsPerRun": units,
        "readCostPerRunUsd": round(units * READ_UNIT_PRICE, 5),
        "loadCpuSeconds": round(cpu, 2),
        "cachedEntries": len(inventory.cache),
        "peakRssGrowthMegabytes": round((rss_after - rss_before) / 1024, 1),
        "note": "CPU of reading the pages into the cache (botocore's parse not included: the engine's Scan "
        "pages are read with json.loads); RSS growth is the cache held in memory, plus one page",
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.inventory", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 s budgets and a 50,000-entry cache")
    args = parser.parse_args()
    budget = 5.0 if args.quick else BUDGET_S
    result = {
        "quota": QUOTA,
        "latencySeconds": LATENCY_S,
        "throughput": [throughput(rate, budget) for rate in RATES],
        "cache": cache(QUICK if args.quick else FULL),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
