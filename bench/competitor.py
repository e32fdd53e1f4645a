"""The competing caller of the share scenarios: production's own IoT requests (provisioning,
just-in-time registration, operators) at a steady demand, on the same quota as the audit.

- Open loop: request k is due at start + k / rate, whatever became of the earlier ones
  (production's demand does not slow down because an audit is running); a pool of threads
  sends them, so a request being retried never delays the next one.
- Each request is one ListCertificatesByCA call (the first page of a CA, pageSize 25) by a
  boto3 client in the AWS SDKs' *standard* retry mode with its default of 3 attempts: a
  throttled request is retried at most twice, after botocore's jittered exponential back-off,
  and then counts as failed. It never retries into the bucket without end, and a failed
  request stands for production work that did not get done.
- Its client names itself in its User-Agent (`bench-caller/competitor`), so the stand-in
  counts its requests apart from the contender's (bench/server.py).

Each request's outcome is kept with the time it was due (time.monotonic, the same clock in
every process on the machine), so the harness can judge the requests due while the audit
was scanning, and none from before or after.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

NAME = "competitor"
USER_AGENT = f"bench-caller/{NAME}"  # see bench.server.caller_of
ATTEMPTS = 3  # the AWS SDKs' default for the standard retry mode
PAGE_SIZE = 25
THROTTLED = frozenset(["ThrottlingException", "Throttling", "TooManyRequestsException"])


@dataclass(frozen=True)
class Outcome:
    due: float  # time.monotonic() when the request was due
    ok: bool  # it got its page within its attempts
    throttled: int  # throttled answers it got on the way


@dataclass(frozen=True)
class Share:
    """What became of the competing caller's requests in one window."""

    demanded: int
    succeeded: int
    throttled: int  # throttled answers, over all attempts

    @property
    def failed(self) -> int:
        return self.demanded - self.succeeded

    @property
    def success_share(self) -> float | None:
        return self.succeeded / self.demanded if self.demanded else None


def share_within(outcomes: list[Outcome], start: float, end: float) -> Share:
    """The requests due in [start, end]: how many there were, succeeded, and were throttled."""
    due = [o for o in outcomes if start <= o.due <= end]
    return Share(len(due), sum(o.ok for o in due), sum(o.throttled for o in due))


def client_config(attempts: int = ATTEMPTS, workers: int = 32) -> Config:
    return Config(
        retries={"mode": "standard", "total_max_attempts": attempts},
        max_pool_connections=workers,
        user_agent_extra=USER_AGENT,
    )


class Competitor:
    """Send `rate` requests a second to `endpoint` from start() until stop(); `outcomes` afterwards."""

    def __init__(self, endpoint: str, ca_id: str, rate: float, attempts: int = ATTEMPTS, workers: int = 32):
        session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1")
        self.iot = session.client("iot", endpoint_url=endpoint, config=client_config(attempts, workers))
        self.ca_id = ca_id
        self.interval = 1 / rate
        self.outcomes: list[Outcome] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="competitor")
        self._scheduler = threading.Thread(target=self._schedule, name="competitor-schedule", daemon=True)

    def start(self) -> Competitor:
        self._scheduler.start()
        return self

    def stop(self) -> list[Outcome]:
        """Stop sending; wait for the requests under way; every outcome, in order of due time."""
        self._stop.set()
        self._scheduler.join()
        self._pool.shutdown(wait=True)
        return sorted(self.outcomes, key=lambda o: o.due)

    def __enter__(self) -> Competitor:
        return self.start()

    def __exit__(self, *_) -> None:
        self.stop()

    def _schedule(self) -> None:
        started = time.monotonic()
        due = 0
        while True:
            at = started + due * self.interval
            if self._stop.wait(max(0.0, at - time.monotonic())):
                return
            self._pool.submit(self._request, at)
            due += 1

    def _request(self, due: float) -> None:
        try:
            response = self.iot.list_certificates_by_ca(caCertificateId=self.ca_id, pageSize=PAGE_SIZE)
            outcome = Outcome(due, True, response["ResponseMetadata"].get("RetryAttempts", 0))
        except ClientError as error:
            retried = error.response.get("ResponseMetadata", {}).get("RetryAttempts", 0)
            last_throttled = error.response.get("Error", {}).get("Code") in THROTTLED
            outcome = Outcome(due, False, retried + last_throttled)
        except Exception:  # noqa: BLE001 - a connection error is a failed request too, not a crashed benchmark
            outcome = Outcome(due, False, 0)
        with self._lock:
            self.outcomes.append(outcome)
