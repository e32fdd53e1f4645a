"""The Python contenders, each run in a subprocess of its own so that CPU and peak RSS are its own.

    python -m bench.contenders ours|floor --endpoint URL --result PATH [--ca ID ...]

No --ca means every CA (ListCACertificates first), as CA_CERTIFICATE_IDS=* does.
- ours: the engine the Lambda runs (run_audit) plus building the SNS message from the
  report (fit_report + build_message), without publishing. Its per-CA log lines are
  written as in Lambda; the harness sends this process's stdout to /dev/null. Its settings
  come from the environment (load_config), IOT_RATE_LIMIT included; BENCH_RATE_LIMIT=off
  (the benchmark's own switch, not the product's) takes the rate limiter out of the way for
  the size and latency groups, which measure the client, not the limit.
- floor: a bare boto3 paginator loop that only counts certificates, with the engine's pool
  and timeouts and botocore's own adaptive retries (10 attempts), as the engine had before
  it retried each call itself: the engine's clients now have botocore's retries off.

The scan is timed inside the process, after imports and client creation; the result
(JSON) is written to PATH. The harness adds the whole-process figures from wait4().
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import time
from dataclasses import replace

import boto3
from botocore.config import Config

FAKE_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "us-east-1"}
RATE_LIMIT_OFF = ("BENCH_RATE_LIMIT", "off")  # the benchmark's switch: ours without a rate limiter


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def run_ours(endpoint: str, ca_ids: list[str]) -> dict:
    from cert_audit import aws
    from cert_audit.audit import run_audit
    from cert_audit.config import load_config
    from cert_audit.message import build_message, fit_report

    config = load_config(os.environ, require_topic=False)
    if os.environ.get(RATE_LIMIT_OFF[0]) == RATE_LIMIT_OFF[1]:
        config = replace(config, iot_rate_limit=math.inf)  # RateLimiter(inf): no wait between calls
    iot, _ = aws.make_clients(boto3.Session(**FAKE_CREDENTIALS), endpoint_url=endpoint)
    baseline = _peak_rss_mb()
    # time.monotonic is the machine's clock in every process: the harness lines the scan up
    # with the competing caller's requests by it (bench/competitor.py).
    scan_started = time.monotonic()
    wall, cpu = time.perf_counter(), time.process_time()
    report = run_audit(iot, config, ca_certificate_ids=tuple(ca_ids) or None, audit_id="bench", account_id="0")
    scan_wall, scan_cpu, scan_ended = time.perf_counter() - wall, time.process_time() - cpu, time.monotonic()
    message = build_message(fit_report(report))
    summary = report["summary"]
    return {
        "scan_wall_s": scan_wall,
        "scan_cpu_s": scan_cpu,
        "scan_started": scan_started,
        "scan_ended": scan_ended,
        "baseline_rss_mb": baseline,
        "certificates": summary["certificatesScanned"],
        "flagged": summary["findings"],
        "failed_cas": summary["casFailed"],
        "client_retries": summary["retries"],
        "client_throttles": summary["throttles"],
        "iot_rate_limit": config.iot_rate_limit if math.isfinite(config.iot_rate_limit) else None,
        "message_bytes": len(message["Message"].encode()),
    }


def floor_config() -> Config:
    """The engine's client configuration, but with botocore's adaptive retries (10 attempts) on."""
    from cert_audit.aws import CLIENT_CONFIG

    return CLIENT_CONFIG.merge(Config(retries={"mode": "adaptive", "total_max_attempts": 10}))


def run_floor(endpoint: str, ca_ids: list[str]) -> dict:
    iot = boto3.Session(**FAKE_CREDENTIALS).client("iot", config=floor_config(), endpoint_url=endpoint)
    baseline = _peak_rss_mb()
    scan_started = time.monotonic()
    wall, cpu = time.perf_counter(), time.process_time()
    certificates = retries = 0
    if not ca_ids:
        for page in iot.get_paginator("list_ca_certificates").paginate(PaginationConfig={"PageSize": 250}):
            ca_ids += [ca["certificateId"] for ca in page["certificates"]]
    for ca_id in ca_ids:
        pages = iot.get_paginator("list_certificates_by_ca").paginate(
            caCertificateId=ca_id, PaginationConfig={"PageSize": 250}
        )
        for page in pages:
            certificates += len(page["certificates"])
            retries += page["ResponseMetadata"]["RetryAttempts"]
    return {
        "scan_wall_s": time.perf_counter() - wall,
        "scan_cpu_s": time.process_time() - cpu,
        "scan_started": scan_started,
        "scan_ended": time.monotonic(),
        "baseline_rss_mb": baseline,
        "certificates": certificates,
        "flagged": None,
        "failed_cas": 0,
        "client_retries": retries,
    }


CONTENDERS = {"ours": run_ours, "floor": run_floor}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("contender", choices=sorted(CONTENDERS))
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--result", required=True)
    parser.add_argument("--ca", action="append", default=[])
    args = parser.parse_args()
    result = CONTENDERS[args.contender](args.endpoint, args.ca)
    result["peak_rss_mb"] = _peak_rss_mb()
    with open(args.result, "w") as out:
        json.dump(result, out)


if __name__ == "__main__":
    main()
