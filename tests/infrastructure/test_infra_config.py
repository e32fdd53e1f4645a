"""The stack's context: defaults, command-line strings, and one clear error per bad value."""

from __future__ import annotations

import json

import pytest

from cert_audit.config import (
    DEFAULT_FLAGGED_STATUSES,
    DEFAULT_IOT_RATE_LIMIT,
    NOTIFY_CHOICES,
    ConfigError,
    load_config,
)
from infra.config import DEFAULTS, load_stack_config
from infra.heartbeat import heartbeat_window
from infra.schedule import DAY, HOUR, MINUTE, parse_schedule

CA_A = "a" * 64
CA_B = "0123456789abcdef" * 4


def test_defaults_audit_every_ca_daily_notify_on_changes_and_send_a_weekly_digest():
    # Given no context at all
    # When it is loaded
    config = load_stack_config({})

    # Then the stack audits every CA once a day with the function's default statuses
    assert config.all_cas and config.ca_certificate_ids == ()
    assert config.alert_emails == ()
    assert config.schedule.expression == "rate(1 day)"
    assert config.flagged_statuses == tuple(sorted(DEFAULT_FLAGGED_STATUSES))
    assert (config.notify_on, config.alarm_on_findings, config.metrics_detail) == ("changes", False, "ca")
    # And warns of CA expiry 90 days ahead, as the engine does; no age check, no suppressions
    assert (config.ca_expiry_warning_days, config.max_certificate_age_days, config.suppressions) == (90, None, None)
    # And paces its IoT calls at 5 a second, half of ListCertificatesByCA's default quota, as the engine does
    assert config.iot_rate_limit == 5 == DEFAULT_IOT_RATE_LIMIT
    # And remembers: a digest of every open finding Mondays 08:00 UTC, a year of archived reports, events on
    # the default bus, no alarm on new findings unless asked
    assert config.digest_schedule.expression == "cron(0 8 ? * MON *)"
    assert config.report_retention_days == 365
    assert (config.event_bus_name, config.alarm_on_new_findings) == ("default", False)


def test_cdk_json_writes_out_exactly_the_defaults(request):
    # Given the context users read and edit in cdk.json
    context = json.loads((request.config.rootpath / "cdk.json").read_text())["context"]

    # When only our keys are compared (the rest are CDK feature flags and CLI settings)
    ours = {key: value for key, value in context.items() if key in DEFAULTS}

    # Then cdk.json states every default, and states it as the code does
    assert set(ours) == set(DEFAULTS)
    assert load_stack_config(ours) == load_stack_config({})
    assert context["cli-telemetry"] is False


def test_command_line_strings_give_lists_and_booleans():
    # Given values as `-c key=value` delivers them: always strings, lists comma-separated
    context = {
        "caCertificateIds": f" {CA_A.upper()} ,{CA_B},{CA_A}",
        "alertEmails": "ops@example.com, Sec@Example.org,ops@example.com",
        "flaggedStatuses": "revoked,INACTIVE",
        "notifyOn": "ALWAYS",
        "alarmOnFindings": "true",
        "metricsDetail": "totals",
        "schedule": " cron(0 6 * * ? *) ",
        "caExpiryWarningDays": " 30 ",
        "maxCertificateAgeDays": "365",
        "iotRateLimit": " 12 ",
        "digestSchedule": " rate(7 days) ",
        "reportRetentionDays": " 90 ",
        "alarmOnNewFindings": "TRUE",
        "eventBusName": " iot-audit ",
    }

    # When they are loaded
    config = load_stack_config(context)

    # Then they are normalised (case, spaces, duplicates) into typed values
    assert config.ca_certificate_ids == (CA_A, CA_B)
    assert config.alert_emails == ("ops@example.com", "Sec@Example.org")
    assert config.flagged_statuses == ("INACTIVE", "REVOKED")
    assert (config.notify_on, config.alarm_on_findings, config.metrics_detail) == ("always", True, "totals")
    assert config.schedule.expression == "cron(0 6 * * ? *)"
    assert (config.ca_expiry_warning_days, config.max_certificate_age_days) == (30, 365)
    assert config.iot_rate_limit == 12
    assert config.digest_schedule.expression == "rate(7 days)"
    assert (config.report_retention_days, config.alarm_on_new_findings, config.event_bus_name) == (
        90,
        True,
        "iot-audit",
    )


@pytest.mark.parametrize(
    ("value", "days"),
    [(365, 365), ("365", 365), ("", None), (" ", None), (None, None), ("null", None), ("NULL", None)],
)
def test_certificate_age_limit_is_a_number_of_days_or_off(value, days):
    # "null" is what `-c maxCertificateAgeDays=null` delivers for the README's null
    assert load_stack_config({"maxCertificateAgeDays": value}).max_certificate_age_days == days


def test_json_lists_from_cdk_json_are_accepted_like_strings():
    # Given the same values as cdk.json lists and booleans
    context = {"caCertificateIds": [CA_A, CA_B], "alertEmails": ["ops@example.com"], "alarmOnFindings": True}

    # When loaded / Then they mean the same as the command-line form
    assert load_stack_config(context) == load_stack_config(
        {"caCertificateIds": f"{CA_A},{CA_B}", "alertEmails": "ops@example.com", "alarmOnFindings": "true"}
    )


@pytest.mark.parametrize("all_cas", ["*", "", " * ", ["*"]])
def test_star_or_empty_means_every_ca(all_cas):
    assert load_stack_config({"caCertificateIds": all_cas}).all_cas


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        (
            "caCertificateIds",
            "abc123",
            "caCertificateIds: 'abc123' is not a CA certificate ID; expected 64 hexadecimal",
        ),
        ("caCertificateIds", f"{CA_A};{CA_B}", "is not a CA certificate ID"),
        ("caCertificateIds", 42, "caCertificateIds: 42 is not allowed; give a list of strings or one comma-separated"),
        ("alertEmails", "ops@example.com;sec@example.com", "alertEmails: 'ops@example.com;sec@example.com' is not an"),
        ("alertEmails", "ops.example.com", "alertEmails: 'ops.example.com' is not an email address"),
        ("flaggedStatuses", "REVOKED,EXPIRED", "flaggedStatuses: unknown status EXPIRED; allowed: ACTIVE, INACTIVE"),
        ("flaggedStatuses", ",", "flaggedStatuses: no status given"),
        ("notifyOn", "never", "notifyOn: 'never' is not allowed; choose one of findings, always, changes"),
        ("alarmOnFindings", "yes", "alarmOnFindings: 'yes' is not allowed; choose true or false"),
        ("metricsDetail", "per-ca", "metricsDetail: 'per-ca' is not allowed; choose one of ca, totals"),
        ("runbookUrl", "wiki/runbook", "runbookUrl: 'wiki/runbook' is not allowed; give an https:// URL"),
        ("schedule", "rate(5 minute)", "the unit must be plural when the value is not 1 (rate(5 minutes)); e.g. rate("),
        ("schedule", "rate(1 days)", "the unit must be singular when the value is 1 (rate(1 day))"),
        ("schedule", "rate(0 hours)", "the value must be a positive whole number"),
        ("schedule", "rate(2 weeks)", "unknown unit 'weeks'; use minute(s), hour(s) or day(s)"),
        ("schedule", "every day", "expected rate(value unit) or cron(6 fields); e.g. rate(1 minute)"),
        (
            "schedule",
            "cron(0 6 * * *)",
            "cron needs 6 fields (minutes hours day-of-month month day-of-week year), got 5",
        ),
        ("schedule", "cron(0 6 * * * *)", "exactly one of day-of-month and day-of-week must be '?'"),
        ("schedule", "cron(0 6 ? * ? *)", "exactly one of day-of-month and day-of-week must be '?'"),
        ("schedule", "cron(60 6 * * ? *)", "minutes value '60' is out of range 0-59; e.g. cron(0 6 * * ? *)"),
        ("schedule", "cron(0 6 * * ? 1969)", "year value '1969' is out of range 1970-2199"),
        ("schedule", "cron(0 ? * * ? *)", "'?' is only allowed in day-of-month and day-of-week, not in hours"),
        ("schedule", "cron(0 6 ? * FRI-MON *)", "day-of-week range 'FRI-MON' runs backwards"),
        ("schedule", "cron(0 6 1 * ? *)", "restricts day-of-month, month, year or uses L/#, so runs can be weeks"),
        ("schedule", "rate(4 days)", "more than CloudWatch's 168-hour alarm window; use a schedule that runs at least"),
        ("caExpiryWarningDays", "0", "caExpiryWarningDays: '0' is not allowed; give a whole number of days from 1 to"),
        ("caExpiryWarningDays", 3653, "caExpiryWarningDays: 3653 is not allowed; give a whole number of days from 1"),
        ("caExpiryWarningDays", "", "caExpiryWarningDays: '' is not allowed; give a whole number of days"),
        ("caExpiryWarningDays", True, "caExpiryWarningDays: True is not allowed"),
        ("maxCertificateAgeDays", "-1", "maxCertificateAgeDays: '-1' is not allowed; give a whole number of days"),
        ("maxCertificateAgeDays", "1.5", "from 1 to 3652, or null (or empty) to turn the check off"),
        ("maxCertificateAgeDays", "a year", "maxCertificateAgeDays: 'a year' is not allowed"),
        ("maxCertificateAgeDays", "none", "or null (or empty) to turn the check off"),
        ("iotRateLimit", "0", "iotRateLimit: '0' is not allowed; give a whole number of IoT requests per second"),
        ("iotRateLimit", 101, "iotRateLimit: 101 is not allowed; give a whole number of IoT requests per second from"),
        ("iotRateLimit", "2.5", "from 1 to 100 (default 5, half of ListCertificatesByCA's default quota"),
        ("iotRateLimit", "", "iotRateLimit: '' is not allowed"),
        ("iotRateLimit", True, "iotRateLimit: True is not allowed"),
        ("schedule", "rate(1 minute)", "'rate(1 minute)' starts runs 1 minute apart, shorter than the function's 15"),
        ("schedule", "rate(14 minutes)", "at least 15 minutes apart, e.g. rate(15 minutes), cron(0/15 * * * ? *)"),
        ("schedule", "cron(0/5 * * * ? *)", "'cron(0/5 * * * ? *)' starts runs 5 minutes apart"),
        # a daily cron whose two runs sit close together: the shortest gap counts, not the average
        ("schedule", "cron(0,10 6 * * ? *)", "starts runs 10 minutes apart, shorter than the function's 15 minutes"),
        # the digest: the same parser, named as itself
        ("digestSchedule", "rate(7 day)", "digestSchedule: 'rate(7 day)' is not a valid EventBridge schedule"),
        ("digestSchedule", "weekly", "digestSchedule: 'weekly' is not a valid EventBridge schedule expression"),
        ("digestSchedule", "rate(10 minutes)", "digestSchedule: 'rate(10 minutes)' starts runs 10 minutes apart"),
        ("digestSchedule", "cron(0 8 1 * ? *)", "digestSchedule: 'cron(0 8 1 * ? *)' restricts day-of-month"),
        ("digestSchedule", "cron(0 8 1 * ? *)", "too rare for the digest that keeps the open findings in view"),
        ("reportRetentionDays", "0", "reportRetentionDays: '0' is not allowed; give a whole number of days from 1"),
        ("reportRetentionDays", 3651, "reportRetentionDays: 3651 is not allowed; give a whole number of days from 1"),
        ("reportRetentionDays", "a year", "from 1 to 3650 to keep each archived report"),
        ("reportRetentionDays", "", "reportRetentionDays: '' is not allowed"),
        ("reportRetentionDays", True, "reportRetentionDays: True is not allowed"),
        ("alarmOnNewFindings", "1", "alarmOnNewFindings: '1' is not allowed; choose true or false"),
        ("eventBusName", "arn:aws:events:eu-west-1:123456789012:event-bus/x", "eventBusName: 'arn:aws:events:"),
        ("eventBusName", "my bus", "give the name of an EventBridge bus in this account and region"),
        ("eventBusName", "b" * 257, "or null (or empty) to send no events"),
    ],
)
def test_each_bad_value_names_key_value_and_what_is_allowed(key, value, expected):
    # Given one bad context value
    # When the context is loaded
    with pytest.raises(ConfigError) as error:
        load_stack_config({key: value})

    # Then the one message says which key, which value, and what would be right
    assert expected in str(error.value)
    assert str(error.value).startswith("Invalid CDK context (cdk.json or -c key=value): ")


def test_every_problem_is_reported_at_once():
    # Given two bad values
    # When loaded
    with pytest.raises(ConfigError) as error:
        load_stack_config({"notifyOn": "never", "schedule": "rate(5 minute)"})

    # Then both are named, so one synth shows everything to fix
    assert "notifyOn: 'never'" in str(error.value) and "schedule: 'rate(5 minute)'" in str(error.value)


@pytest.mark.parametrize(
    ("typo", "meant"),
    [
        ("caCertificateId", "caCertificateIds"),
        ("alertEmail", "alertEmails"),
        ("cacertificateids", "caCertificateIds"),
        ("shedule", "schedule"),
        ("notifyon", "notifyOn"),
        ("alarmOnFinding", "alarmOnFindings"),
        ("suppressionFile", "suppressionsFile"),
        ("caExpiryWarningDay", "caExpiryWarningDays"),
        ("maxCertificateAge", "maxCertificateAgeDays"),
        ("iotRatelimit", "iotRateLimit"),
        ("iotRateLimits", "iotRateLimit"),
        ("digestSchedules", "digestSchedule"),
        ("reportRetentionDay", "reportRetentionDays"),
        ("alarmOnNewFinding", "alarmOnNewFindings"),
        ("eventBusNames", "eventBusName"),
    ],
)
def test_a_key_that_looks_like_a_typo_of_ours_is_refused_with_a_suggestion(typo, meant):
    # Given a misspelt key, whose value would otherwise be silently ignored
    # When loaded
    with pytest.raises(ConfigError) as error:
        load_stack_config({typo: "x"})

    # Then the message suggests the key that was meant
    assert f"{typo}: unknown context key; did you mean {meant!r}?" in str(error.value)


def test_cdk_feature_flags_and_cli_settings_are_not_mistaken_for_typos():
    # Given context keys that are not ours but belong in cdk.json
    context = {
        "@aws-cdk/aws-lambda:recognizeLayerVersion": True,
        "@aws-cdk/core:checkSecretUsage": True,
        "cli-telemetry": False,
        "aws:cdk:enable-path-metadata": True,
    }

    # When loaded / Then they pass
    assert load_stack_config(context) == load_stack_config({})


@pytest.mark.parametrize(
    ("expression", "gap"),
    [
        ("rate(1 minute)", MINUTE),
        ("rate(5 minutes)", 5 * MINUTE),
        ("rate(1 hour)", HOUR),
        ("rate(12 hours)", 12 * HOUR),
        ("rate(1 day)", DAY),
        ("rate(3 days)", 3 * DAY),
        ("cron(0 6 * * ? *)", DAY),  # daily at 06:00
        ("cron(0/15 * * * ? *)", 15 * MINUTE),
        ("cron(0 6,18 ? * * *)", 12 * HOUR),
        ("cron(30 1 ? * MON-FRI *)", 3 * DAY),  # Friday to Monday
        ("cron(0 9 ? * 2,4 *)", 5 * DAY),  # Monday and Wednesday: Wednesday to next Monday
        ("cron(0 0-12/4 * * ? *)", 12 * HOUR),  # 00, 04, 08, 12: then 12 hours to midnight
    ],
)
def test_schedule_gap_is_the_longest_time_between_two_runs(expression, gap):
    assert parse_schedule(expression).longest_gap_seconds == gap


@pytest.mark.parametrize(
    ("expression", "gap"),
    [
        ("rate(15 minutes)", 15 * MINUTE),
        ("rate(1 day)", DAY),
        ("cron(0/15 * * * ? *)", 15 * MINUTE),
        ("cron(0 6,18 ? * * *)", 12 * HOUR),
        ("cron(30 1 ? * MON-FRI *)", DAY),  # weekdays: a day apart, then three
        ("cron(0,20 6 * * ? *)", 20 * MINUTE),  # two runs a day, twenty minutes apart
    ],
)
def test_schedule_shortest_gap_is_the_least_time_between_two_runs(expression, gap):
    assert parse_schedule(expression).shortest_gap_seconds == gap


@pytest.mark.parametrize("schedule", ["rate(15 minutes)", "cron(0/15 * * * ? *)", "cron(0,15 6 * * ? *)"])
def test_runs_exactly_one_timeout_apart_are_allowed(schedule):
    # A run ends by its 15-minute timeout, so the next may start then (no digest: every quarter hour has a run)
    config = load_stack_config({"schedule": schedule, "digestSchedule": None})
    assert config.schedule.expression == schedule


@pytest.mark.parametrize(
    ("gap", "period", "evaluations"),
    [
        (MINUTE, MINUTE, 18),  # 2 x 1 min + the 15-minute timeout, strictly exceeded
        (5 * MINUTE, 5 * MINUTE, 6),
        (HOUR, HOUR, 3),
        (DAY, HOUR, 49),  # 2 days and 15 minutes of silence: 49 hours
        (3 * DAY, HOUR, 145),
    ],
)
def test_heartbeat_window_exceeds_twice_the_gap_plus_a_run(gap, period, evaluations):
    # Given runs at most `gap` apart, each taking up to the 15-minute timeout
    window = heartbeat_window(gap, 15 * MINUTE)

    # Then the alarm waits longer than two missed runs, within CloudWatch's limits
    assert (window.period_seconds, window.evaluation_periods) == (period, evaluations)
    assert window.seconds > 2 * gap + 15 * MINUTE
    assert window.seconds <= (DAY if window.period_seconds < HOUR else 7 * DAY)


@pytest.mark.parametrize("value", ["0", "1", "5", "100", "101", "2.5", "-3", "fast"])
def test_iot_rate_limit_is_refused_exactly_where_the_function_refuses_it(value):
    # Given one value, as the stack's context and as the function's IOT_RATE_LIMIT
    def accepted(load) -> bool:
        try:
            load()
        except ConfigError:
            return False
        return True

    # When both load it / Then synth refuses what the function would refuse at run time, and only that
    stack = accepted(lambda: load_stack_config({"iotRateLimit": value}))
    function = accepted(lambda: load_config({"IOT_RATE_LIMIT": value}, require_topic=False))
    assert stack == function


@pytest.mark.parametrize("off", ["", " ", None, "null", "NULL"])
def test_digest_and_events_are_off_when_given_as_null_or_empty(off):
    # Given the two keys that are on by default, present but null or empty (cdk.json null, -c key=, -c key=null)
    config = load_stack_config({"digestSchedule": off, "eventBusName": off})

    # Then there is no digest and no bus, rather than the defaults
    assert (config.digest_schedule, config.event_bus_name) == (None, None)


def test_digest_and_events_take_their_defaults_when_absent():
    config = load_stack_config({"schedule": "rate(1 day)"})
    assert (config.digest_schedule.expression, config.event_bus_name) == ("cron(0 8 ? * MON *)", "default")


@pytest.mark.parametrize(
    ("schedule", "digest", "apart"),
    [
        ("cron(0 8 * * ? *)", "cron(0 8 ? * MON *)", "at the same time"),
        ("cron(0/30 * * * ? *)", "cron(10 8 ? * MON *)", "10 minutes apart"),
        ("cron(55 7 ? * MON-FRI *)", "cron(0 8 ? * MON *)", "5 minutes apart"),
        ("cron(55 23 ? * SUN *)", "cron(5 0 ? * MON *)", "10 minutes apart"),  # across midnight
        ("cron(55 23 ? * SAT *)", "cron(5 0 ? * SUN *)", "10 minutes apart"),  # across the week's end
    ],
)
def test_a_digest_starting_within_a_timeout_of_a_scheduled_run_stops_synth(schedule, digest, apart):
    # Given two cron schedules whose runs can start closer than the 15-minute timeout
    # When loaded
    with pytest.raises(ConfigError) as error:
        load_stack_config({"schedule": schedule, "digestSchedule": digest})

    # Then the message names both and how close they come
    assert f"digestSchedule: {digest!r} and schedule {schedule!r} start runs {apart}" in str(error.value)
    assert "start the digest at least 15 minutes from every run of the schedule" in str(error.value)
    assert "or set digestSchedule to null to send no digest" in str(error.value)


@pytest.mark.parametrize(
    ("schedule", "digest"),
    [
        ("cron(0 6 * * ? *)", "cron(0 8 ? * MON *)"),
        ("cron(0/30 * * * ? *)", "cron(15 8 ? * MON *)"),  # exactly a timeout from each half hour
        ("rate(1 day)", "cron(0 8 ? * MON *)"),  # a rate counts from the deploy: nothing to compare at synth
        ("cron(0 8 * * ? *)", "rate(7 days)"),
    ],
)
def test_schedules_at_least_a_timeout_apart_or_not_comparable_are_allowed(schedule, digest):
    config = load_stack_config({"schedule": schedule, "digestSchedule": digest})
    assert config.digest_schedule.expression == digest


@pytest.mark.parametrize("choice", NOTIFY_CHOICES)
def test_the_function_accepts_every_notify_on_the_stack_passes(choice):
    # Given a notifyOn the stack accepts and passes on as NOTIFY_ON
    # When the function loads it / Then it is accepted there too
    assert load_config({"NOTIFY_ON": choice}, require_topic=False).notify_on == choice
