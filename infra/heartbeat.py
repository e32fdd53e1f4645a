"""The heartbeat alarm's window: how long `AuditRuns` may be missing before anyone is told.

The alarm fires when no run has completed for more than twice the longest gap between
scheduled runs, plus one function timeout (a run reports its heartbeat when it ends, up
to a timeout after it started). Missing data counts as breaching, so a schedule that
silently stopped, a function that cannot start and a run that always fails all look
the same: silence.

CloudWatch limits the window (period x evaluation periods) to one day for periods under
an hour and to seven days otherwise, so the period is the schedule gap up to one hour,
and a schedule sparser than about three days cannot be watched: that is a synth error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from cert_audit.config import ConfigError
from infra.schedule import DAY, HOUR, MINUTE

MISSED_RUNS = 2  # runs that may be missed before the alarm fires
_SHORT_PERIOD_LIMIT = DAY  # CloudWatch: period < 1 h => period x evaluations <= 1 day
_LONG_PERIOD_LIMIT = 7 * DAY  # otherwise <= 7 days


@dataclass(frozen=True)
class HeartbeatWindow:
    period_seconds: int
    evaluation_periods: int

    @property
    def seconds(self) -> int:
        return self.period_seconds * self.evaluation_periods


def heartbeat_window(longest_gap_seconds: int, run_timeout_seconds: int) -> HeartbeatWindow:
    """The alarm's period and evaluation periods for runs at most `longest_gap_seconds` apart."""
    period = max(MINUTE, min(longest_gap_seconds, HOUR) // MINUTE * MINUTE)
    silence = MISSED_RUNS * longest_gap_seconds + run_timeout_seconds
    window = HeartbeatWindow(period, math.floor(silence / period) + 1)  # strictly longer than `silence`
    limit = _SHORT_PERIOD_LIMIT if period < HOUR else _LONG_PERIOD_LIMIT
    if window.seconds > limit:
        raise ConfigError(
            f"schedule: runs can be {longest_gap_seconds // HOUR} hours apart, so the heartbeat alarm would need "
            f"{window.seconds // HOUR} hours of silence, more than CloudWatch's {limit // HOUR}-hour alarm window; "
            "use a schedule that runs at least every 3 days, e.g. rate(1 day)"
        )
    return window
