"""How the engine makes every AWS call: retried per call, rate-limited, and bounded by a deadline.

botocore's own retries are off in the engine's clients (aws.CLIENT_CONFIG), for two reasons
the adversarial tests of issue 9 showed: its retry quota is one token bucket per client, so
under sustained throttling one CA's retries used up another's and CAs failed after 1 to 5
attempts; and its waits know nothing of the function's deadline (one hanging page, retried
10 x 30 s, returned three minutes past it). Here every call has its own RETRY_ATTEMPTS,
waits with capped exponential back-off and full jitter, and never starts an attempt, a
back-off or a wait for the rate limit that the deadline has no room for. Which errors are
worth retrying is botocore's own list, plus the throttling codes SNS and KMS answer for an
encrypted topic.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from botocore.exceptions import ClientError, ConnectionError, HTTPClientError
from botocore.retries.standard import ThrottledRetryableChecker, TransientRetryableChecker

RETRY_ATTEMPTS = 10  # in all, the first attempt included
CONNECT_TIMEOUT_S = 5
READ_TIMEOUT_S = 10
# The longest one attempt can take: the reason the function's time reserve (60 s) has room
# for a call already under way, the report and its publish.
ATTEMPT_MAX_S = CONNECT_TIMEOUT_S + READ_TIMEOUT_S
BACKOFF_BASE_S = 0.5
BACKOFF_MAX_S = 20  # as botocore's standard mode
THROTTLING_CODES = frozenset(
    [*ThrottledRetryableChecker._THROTTLED_ERROR_CODES, "Throttled", "KMSThrottling", "KMSThrottlingException"]
)
TRANSIENT_CODES = frozenset(
    [*TransientRetryableChecker._TRANSIENT_ERROR_CODES, "InternalError", "InternalFailureException"]
)
TRANSIENT_STATUS = frozenset(TransientRetryableChecker._TRANSIENT_STATUS_CODES)

INTERRUPTED = "interrupted by the user"


def clock() -> float:
    return time.monotonic()


def sleep(seconds: float, interrupted: threading.Event) -> None:
    """Wait, waking at once on Ctrl-C. The tests replace clock and sleep with virtual time, so
    waits are decided and counted as in production but take no wall time."""
    interrupted.wait(seconds)


class Stopped(Exception):
    """The deadline (or Ctrl-C) left no room for another attempt; the message says why."""


class CallStats(Protocol):
    retries: int
    throttles: int


@dataclass(frozen=True)
class Deadline:
    """When to stop starting AWS calls: `seconds_left()` until then and the sentence that says
    why, or at once when `interrupted` is set (Ctrl-C in the CLI)."""

    seconds_left: Callable[[], float] = lambda: math.inf
    reason: str = ""
    interrupted: threading.Event = field(default_factory=threading.Event)

    def stop_reason(self) -> str | None:
        if self.interrupted.is_set():
            return INTERRUPTED
        return self.reason if self.seconds_left() <= 0 else None

    def room_for(self, wait_s: float) -> bool:
        return not self.interrupted.is_set() and wait_s < self.seconds_left()

    def stopped(self, detail: str = "") -> Stopped:
        return Stopped((self.stop_reason() or self.reason) + detail)

    def wait(self, seconds: float) -> None:
        if seconds > 0:
            sleep(seconds, self.interrupted)


NO_DEADLINE = Deadline()


class RateLimiter:
    """At most `per_second` calls a second across every thread, evenly spaced (no burst).

    Each caller reserves the next free slot and waits for it, so threads are served in
    the order they asked and the rate holds however many CAs are scanned at once.
    """

    def __init__(self, per_second: float):
        self.interval = 1 / per_second
        self.next_slot = -math.inf
        self.lock = threading.Lock()

    def wait(self, deadline: Deadline) -> None:
        with self.lock:
            now = clock()
            slot = max(now, self.next_slot)
            if not deadline.room_for(slot - now):
                raise deadline.stopped()
            self.next_slot = slot + self.interval
        deadline.wait(slot - now)


def error_code(error: Exception) -> str | None:
    return error.response.get("Error", {}).get("Code") if isinstance(error, ClientError) else None


def is_throttling(error: Exception) -> bool:
    return error_code(error) in THROTTLING_CODES


def is_retryable(error: Exception) -> bool:
    if isinstance(error, ClientError):
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return error_code(error) in THROTTLING_CODES | TRANSIENT_CODES or status in TRANSIENT_STATUS
    return isinstance(error, ConnectionError | HTTPClientError)


def backoff_s(retry: int) -> float:
    """Full jitter: a random wait up to base x 2^retry, capped."""
    return random.random() * min(BACKOFF_BASE_S * 2**retry, BACKOFF_MAX_S)


def call(
    operation: Callable[..., dict],
    deadline: Deadline = NO_DEADLINE,
    *,
    limiter: RateLimiter | None = None,
    stats: CallStats | None = None,
    **request: Any,
) -> dict:
    """`operation(**request)` with up to RETRY_ATTEMPTS attempts; raises the last error, or
    Stopped when the deadline leaves no room for the next attempt or wait."""
    for retry in range(RETRY_ATTEMPTS):
        if deadline.stop_reason():
            raise deadline.stopped()
        if limiter:
            limiter.wait(deadline)
        try:
            return operation(**request)
        except Exception as error:
            throttled = is_throttling(error)
            if stats and throttled:
                stats.throttles += 1
            if retry == RETRY_ATTEMPTS - 1 or not (throttled or is_retryable(error)):
                raise
            delay = backoff_s(retry)
            if not deadline.room_for(delay):
                raise deadline.stopped(f" (while retrying {error_code(error) or type(error).__name__})") from error
        if stats:
            stats.retries += 1
        deadline.wait(delay)
    raise AssertionError("unreachable")  # pragma: no cover - the last attempt returns or raises


def send_in_batches(
    send: Callable[[list], list], items: list, size: int, workers: int, deadline: Deadline
) -> tuple[list, Exception | None]:
    """Send `items` in batches of `size`, `workers` batches at once, through a batch API that may
    accept part of a batch: `send(batch)` makes one call (through `call`, so each call has its
    own retries) and returns the items the answer did not accept, which are sent again with
    back-off while attempts and the deadline allow. One batch that fails costs no other.
    Returns the items never accepted, and the first error that ended a batch, if one did."""
    batches = [items[start : start + size] for start in range(0, len(items), size)]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(lambda batch: _resend(send, batch, deadline), batches))
    return [item for left, _ in results for item in left], next((error for _, error in results if error), None)


def _resend(send: Callable[[list], list], batch: list, deadline: Deadline) -> tuple[list, Exception | None]:
    for retry in range(RETRY_ATTEMPTS):
        try:
            batch = send(batch)
        except Exception as error:  # noqa: BLE001 - this batch failed after its call's retries: told by the caller
            return batch, error
        if not batch:
            return [], None
        delay = backoff_s(retry)
        if not deadline.room_for(delay):
            break
        deadline.wait(delay)
    return batch, None
