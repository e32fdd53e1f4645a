"""Running one contender as a process of its own and reading what it cost (wall, CPU, peak RSS).

The Python contenders are bench/contenders.py; the AWS CLI runs from its own venv
(bench/.venv-awscli, created on first use: awscli pins its own botocore, which must not
touch the project's venv).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from cert_audit.config import DEFAULT_FLAGGED_STATUSES

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
AWSCLI_VENV = BENCH_DIR / ".venv-awscli"
AWSCLI_REQUIREMENT = "awscli==1.46.3"
AWS = AWSCLI_VENV / "bin" / "aws"
# What a user would type to list only the flagged certificates of a CA.
FLAGGED_QUERY = "certificates[?" + " || ".join(f"status=='{s}'" for s in DEFAULT_FLAGGED_STATUSES) + "]"


@dataclass
class ProcessCost:
    wall_s: float
    cpu_s: float
    peak_rss_mb: float

    def __add__(self, other: ProcessCost) -> ProcessCost:
        # Processes run one after another: times add up, memory peaks do not.
        return ProcessCost(
            self.wall_s + other.wall_s, self.cpu_s + other.cpu_s, max(self.peak_rss_mb, other.peak_rss_mb)
        )


def run_measured(argv: list[str], env: dict[str, str], stdout) -> ProcessCost:
    """Run argv to completion; its own wall time, CPU (user + system) and peak RSS, via wait4()."""
    started = time.perf_counter()
    process = subprocess.Popen(argv, env=env, stdout=stdout, stderr=subprocess.PIPE, cwd=REPO_ROOT)
    stderr = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    process.stderr.close()
    if process.returncode != 0:
        raise RuntimeError(f"{argv[0]} {' '.join(argv[1:3])} failed ({process.returncode}): {stderr.decode()[-2000:]}")
    return ProcessCost(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)


def base_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """A clean environment: fake credentials, no profile, nothing that reaches real AWS."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "POWERTOOLS_"))}
    env.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "PYTHONPATH": os.pathsep.join([str(REPO_ROOT / "lambda"), str(REPO_ROOT)]),
        }
    )
    env.update(extra or {})
    return env


def run_python_contender(name: str, endpoint: str, ca_ids: list[str], env_extra: dict[str, str]) -> dict:
    """Run bench.contenders NAME in a subprocess; its in-process figures plus the process's cost."""
    with tempfile.NamedTemporaryFile(suffix=".json") as result:
        argv = [sys.executable, "-m", "bench.contenders", name, "--endpoint", endpoint, "--result", result.name]
        for ca_id in ca_ids:
            argv += ["--ca", ca_id]
        cost = run_measured(argv, base_env(env_extra), subprocess.DEVNULL)
        figures = json.loads(Path(result.name).read_text())
    figures.update(process_wall_s=cost.wall_s, process_cpu_s=cost.cpu_s, peak_rss_mb=cost.peak_rss_mb)
    return figures


def ensure_awscli() -> str:
    """The AWS CLI's path, installing it into its own venv the first time."""
    if not AWS.exists():
        print(f"Installing {AWSCLI_REQUIREMENT} into {AWSCLI_VENV.relative_to(REPO_ROOT)} (once)...", flush=True)
        subprocess.run(["python3", "-m", "venv", str(AWSCLI_VENV)], check=True)
        subprocess.run(
            [str(AWSCLI_VENV / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check", AWSCLI_REQUIREMENT],
            check=True,
        )
    return str(AWS)


def run_awscli(endpoint: str, ca_ids: list[str], *, all_cas: bool) -> dict:
    """What a user does today: one `aws iot list-certificates-by-ca --query` per CA, one after another
    (after `aws iot list-ca-certificates` when auditing every CA). The CLI gets botocore's adaptive
    retries with 10 attempts, as the floor does (and the engine did before it retried each call
    itself). No --page-size: for this operation the CLI reads it as the API's own pageSize and
    stops paging after the first page."""
    aws = ensure_awscli()
    env = base_env({"AWS_RETRY_MODE": "adaptive", "AWS_MAX_ATTEMPTS": "10", "AWS_PAGER": ""})
    common = ["--endpoint-url", endpoint, "--region", "us-east-1", "--output", "json"]
    total = ProcessCost(0.0, 0.0, 0.0)
    flagged = 0
    with tempfile.TemporaryFile() as out:
        if all_cas:
            total += run_measured(
                [aws, "iot", "list-ca-certificates", "--query", "certificates[].certificateId"] + common,
                env,
                out,
            )
            out.seek(0)
            ca_ids = json.load(out)
        for ca_id in ca_ids:
            out.seek(0)
            out.truncate()
            argv = [aws, "iot", "list-certificates-by-ca", "--ca-certificate-id", ca_id]
            total += run_measured(argv + ["--query", FLAGGED_QUERY] + common, env, out)
            out.seek(0)
            flagged += len(json.load(out))
    return {
        "process_wall_s": total.wall_s,
        "process_cpu_s": total.cpu_s,
        "peak_rss_mb": total.peak_rss_mb,
        "flagged": flagged,
        "certificates": None,
        "failed_cas": 0,
    }
