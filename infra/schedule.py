"""EventBridge schedule expressions: validated at synth time, and how long runs can be apart.

EventBridge accepts `rate(value unit)` and six-field `cron(...)` expressions and rejects
the rest at deploy time, after the stack has started to change (`rate(5 minute)` is the
classic). Checking here turns that into a synth error with an example of a valid value.

`longest_gap` is what the heartbeat alarm needs: the longest time between two scheduled
runs; `shortest_gap` must not be shorter than the function's timeout, or a run could still
be going when the next one starts (`check_runs_cannot_overlap`). For `rate` both are exact.
For `cron` they are computed over one week of fire times from the minutes, hours and
day-of-week fields; expressions that restrict day-of-month, month or year can leave weeks
or months between runs, longer than any CloudWatch alarm can watch, so they are refused
with a message that says so.

The same parser and the same overlap rule serve both schedules of the stack: the audit's
(`schedule`) and the weekly digest's (`digestSchedule`); every message names the key it is
about. Two cron schedules are also checked together (`check_schedules_apart`): their runs
must not come closer than a timeout either. A `rate` schedule counts from the deploy, so
when it starts is unknown at synth and it cannot be checked against another.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cert_audit.config import ConfigError

MINUTE = 60
HOUR = 60 * MINUTE
DAY = 24 * HOUR
WEEK = 7 * DAY

_RATE = re.compile(r"^rate\((\d+) ([a-z]+)\)$")
_RATE_UNITS = {"minute": MINUTE, "hour": HOUR, "day": DAY}
_CRON = re.compile(r"^cron\((.*)\)$")
_DAY_NAMES = {name: number for number, name in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"), start=1)}
_MONTH_NAMES = {
    name: number
    for number, name in enumerate(
        ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), start=1
    )
}

RATE_EXAMPLES = "rate(1 minute), rate(5 minutes), rate(1 hour), rate(12 hours), rate(1 day), rate(2 days)"
CRON_EXAMPLE = "cron(0 6 * * ? *) (06:00 UTC daily) or cron(0 6 ? * MON-FRI *) (weekdays)"


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: dict[str, int]
    question_mark: bool = False  # `?` allowed (day-of-month, day-of-week)
    special: re.Pattern | None = None  # L / W / # forms


_FIELDS = (
    _Field("minutes", 0, 59, {}),
    _Field("hours", 0, 23, {}),
    _Field("day-of-month", 1, 31, {}, question_mark=True, special=re.compile(r"^(L|LW|\d{1,2}W)$")),
    _Field("month", 1, 12, _MONTH_NAMES),
    _Field("day-of-week", 1, 7, _DAY_NAMES, question_mark=True, special=re.compile(r"^(L|[1-7]L|[1-7]#[1-5])$")),
    _Field("year", 1970, 2199, {}),
)


# Why the audit's schedule must run at least every few days (the default reason for the check).
HEARTBEAT_REASON = (
    "longer than the heartbeat alarm (twice the schedule period, at most 7 days in CloudWatch) can watch; use a "
    "schedule that runs at least every 3 days"
)


@dataclass(frozen=True)
class Schedule:
    expression: str
    longest_gap_seconds: int  # the longest time between two scheduled runs
    shortest_gap_seconds: int  # the shortest time between two scheduled runs
    key: str = "schedule"  # the context key it came from, for messages
    # cron only: the fire times within a week, in seconds from Sunday 00:00 UTC; empty for rate,
    # whose runs count from the deploy and so are unknown at synth.
    week_times: tuple[int, ...] = ()


def _problem(key: str, expression: str, why: str, example: str) -> ConfigError:
    return ConfigError(f"{key}: {expression!r} is not a valid EventBridge schedule expression: {why}; e.g. {example}")


def _parse_rate(key: str, expression: str, value: str, unit: str) -> Schedule:
    number = int(value)
    singular = unit.rstrip("s")
    if singular not in _RATE_UNITS:
        raise _problem(key, expression, f"unknown unit {unit!r}; use minute(s), hour(s) or day(s)", RATE_EXAMPLES)
    if number < 1:
        raise _problem(key, expression, "the value must be a positive whole number", RATE_EXAMPLES)
    expected = singular if number == 1 else singular + "s"
    if unit != expected:
        rule = "singular when the value is 1" if number == 1 else "plural when the value is not 1"
        raise _problem(key, expression, f"the unit must be {rule} (rate({number} {expected}))", RATE_EXAMPLES)
    gap = number * _RATE_UNITS[singular]
    return Schedule(expression, gap, gap, key)


def _value(field: _Field, text: str) -> int:
    number = field.names.get(text.upper()) if not text.isdigit() else int(text)
    if number is None or not field.low <= number <= field.high:
        raise ValueError(f"{field.name} value {text!r} is out of range {field.low}-{field.high}")
    return number


def _expand(field: _Field, text: str) -> set[int]:
    """The values a cron field selects; raises ValueError naming the bad part."""
    if text == "?":
        if not field.question_mark:
            raise ValueError(f"'?' is only allowed in day-of-month and day-of-week, not in {field.name}")
        return set()
    values: set[int] = set()
    for part in text.split(","):
        if field.special and field.special.match(part):
            values.add(-1)  # L, W, #: valid, but not a plain value
            continue
        base, _, step_text = part.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) < 1:
                raise ValueError(f"{field.name} step {step_text!r} must be a positive whole number")
            step = int(step_text)
        if base == "*":
            low, high = field.low, field.high
        elif "-" in base:
            start, _, end = base.partition("-")
            low, high = _value(field, start), _value(field, end)
            if low > high:
                raise ValueError(f"{field.name} range {base!r} runs backwards")
        elif base:
            low = _value(field, base)
            high = field.high if step_text else low
        else:
            raise ValueError(f"{field.name} has an empty part in {text!r}")
        values.update(range(low, high + 1, step))
    return values


def _parse_cron(key: str, expression: str, body: str, sparse_reason: str) -> Schedule:
    fields = body.split()
    if len(fields) != len(_FIELDS):
        raise _problem(
            key,
            expression,
            f"cron needs 6 fields (minutes hours day-of-month month day-of-week year), got {len(fields)}",
            CRON_EXAMPLE,
        )
    try:
        selected = [_expand(field, text) for field, text in zip(_FIELDS, fields, strict=True)]
    except ValueError as error:
        raise _problem(key, expression, str(error), CRON_EXAMPLE) from None
    _, _, day_of_month, month, day_of_week, year = fields
    if (day_of_month == "?") == (day_of_week == "?"):
        raise _problem(
            key,
            expression,
            "exactly one of day-of-month and day-of-week must be '?' (EventBridge cannot combine both)",
            CRON_EXAMPLE,
        )
    if day_of_month not in ("*", "?") or month != "*" or year != "*" or -1 in selected[4]:
        raise ConfigError(
            f"{key}: {expression!r} restricts day-of-month, month, year or uses L/#, so runs can be weeks "
            f"apart, {sparse_reason}, e.g. {CRON_EXAMPLE}"
        )
    days = selected[4] or set(range(1, 8))  # day-of-week '?' means every day here
    times = sorted(
        (day - 1) * DAY + hour * HOUR + minute * MINUTE
        for day in days
        for hour in selected[1]
        for minute in selected[0]
    )
    gaps = [later - earlier for earlier, later in zip(times, times[1:] + [times[0] + WEEK], strict=True)]
    return Schedule(expression, max(gaps), min(gaps), key, tuple(times))


def parse_schedule(value: object, key: str = "schedule", sparse_reason: str = HEARTBEAT_REASON) -> Schedule:
    """Validate an EventBridge schedule expression and measure its longest and shortest gaps between runs.

    `key` names the context key in messages; `sparse_reason` says why a cron that can leave weeks
    between runs is refused for that key."""
    expression = str(value).strip()
    rate = _RATE.match(expression)
    if rate:
        return _parse_rate(key, expression, *rate.groups())
    cron = _CRON.match(expression)
    if cron:
        return _parse_cron(key, expression, cron.group(1), sparse_reason)
    raise _problem(
        key, expression, "expected rate(value unit) or cron(6 fields)", f"{RATE_EXAMPLES}; or {CRON_EXAMPLE}"
    )


def _duration(seconds: int) -> str:
    if seconds % HOUR == 0:
        hours = seconds // HOUR
        return f"{hours} hour" + ("s" if hours != 1 else "")
    minutes = seconds // MINUTE
    return f"{minutes} minute" + ("s" if minutes != 1 else "")


def check_runs_cannot_overlap(schedule: Schedule, timeout_seconds: int) -> None:
    """Refuse a schedule that can start a run while the previous one may still be going.

    The function runs up to its timeout; a closer schedule would have every other run find
    the run lock held and skip (or, without the lock, double the IoT request rate)."""
    if schedule.shortest_gap_seconds >= timeout_seconds:
        return
    timeout = _duration(timeout_seconds)
    raise ConfigError(
        f"{schedule.key}: {schedule.expression!r} starts runs {_duration(schedule.shortest_gap_seconds)} apart, "
        f"shorter than the function's {timeout} timeout, so a run could start while the last one is still "
        f"going; use a schedule whose runs are at least {timeout} apart, e.g. rate({timeout_seconds // MINUTE} "
        f"minutes), cron(0/{timeout_seconds // MINUTE} * * * ? *) or the default rate(1 day)"
    )


def check_schedules_apart(first: Schedule, second: Schedule, timeout_seconds: int) -> None:
    """Refuse two cron schedules whose runs can start closer together than the function's timeout.

    The later run would find the run lock held and wait for the other, and skip when the other takes
    more than half the timeout: a digest lost for the week. Only cron fire times are known at synth;
    a `rate` schedule is not checked."""
    if not first.week_times or not second.week_times:
        return
    gaps = [min(abs(a - b), WEEK - abs(a - b)) for a in first.week_times for b in second.week_times]
    closest = min(gaps)
    if closest >= timeout_seconds:
        return
    timeout = _duration(timeout_seconds)
    when = "at the same time" if closest == 0 else f"{_duration(closest)} apart"
    raise ConfigError(
        f"{second.key}: {second.expression!r} and {first.key} {first.expression!r} start runs {when}, closer than "
        f"the function's {timeout} timeout, so one run would wait for the other and may be skipped; start the "
        f"digest at least {timeout} from every run of the schedule (e.g. half-way between two of them), or set "
        f"{second.key} to null to send no digest"
    )
