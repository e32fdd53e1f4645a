"""Configuration edges a deployment can hit: the bounds of every number, the CA ID and topic ARN
formats. Each value is written out here, not read from the module under test, so a changed bound
is a failing test and a decision, not a silent change of what deploys."""

from __future__ import annotations

import pytest

from cert_audit.config import ConfigError, ca_ids_from_event, inventory_settings, load_config, notify_from_event

TOPIC = "arn:aws:sns:eu-west-1:123456789012:alerts"
CA = "a" * 64

# (variable, lowest allowed, highest allowed, AuditConfig field)
BOUNDS = [
    ("PAGE_SIZE", 1, 250, "page_size"),
    ("SCAN_CONCURRENCY", 1, 16, "scan_concurrency"),
    ("CA_EXPIRY_WARNING_DAYS", 1, 3652, "ca_expiry_warning_days"),
    ("IOT_RATE_LIMIT", 1, 100, "iot_rate_limit"),
    ("MAX_CERTIFICATE_AGE_DAYS", 1, 3652, "max_certificate_age_days"),
]


def config_with(**env: str):
    return load_config({"ALERT_TOPIC_ARN": TOPIC, **env})


@pytest.mark.parametrize("name, low, high, field", BOUNDS)
def test_the_lowest_and_highest_values_are_accepted(name, low, high, field):
    # Given each whole-number setting at its lowest and at its highest allowed value,
    # When the configuration is loaded, Then the value is used as given
    assert getattr(config_with(**{name: str(low)}), field) == low
    assert getattr(config_with(**{name: str(high)}), field) == high


@pytest.mark.parametrize("name, low, high, field", BOUNDS)
@pytest.mark.parametrize("outside", ["below", "above"])
def test_one_past_either_bound_is_rejected_with_the_range(name, low, high, field, outside):
    # Given a value one below the lowest or one above the highest allowed
    value = str(low - 1 if outside == "below" else high + 1)

    # When the configuration is loaded, Then it fails naming the variable, the value and the range
    with pytest.raises(ConfigError) as error:
        config_with(**{name: value})
    assert f"{name}: '{value}' is not a whole number from {low} to {high}" in str(error.value)


@pytest.mark.parametrize("name, low, high, field", BOUNDS)
@pytest.mark.parametrize("value", ["abc", "2.5", "1e2"])
def test_a_value_that_is_not_a_whole_number_is_rejected(name, low, high, field, value):
    with pytest.raises(ConfigError) as error:
        config_with(**{name: value})
    assert f"{name}: '{value}' is not a whole number from {low} to {high}" in str(error.value)


def test_the_defaults_of_the_numbers():
    # Given none of the numbers set, Then the documented defaults apply and the age check is off
    config = config_with()
    assert (config.page_size, config.scan_concurrency, config.ca_expiry_warning_days, config.iot_rate_limit) == (
        250,
        10,
        90,
        5,
    )
    assert config.max_certificate_age_days is None
    assert config_with(MAX_CERTIFICATE_AGE_DAYS=" ").max_certificate_age_days is None


def test_every_problem_is_reported_in_one_error():
    # Given two bad numbers and a bad choice
    with pytest.raises(ConfigError) as error:
        config_with(PAGE_SIZE="abc", SCAN_CONCURRENCY="17", NOTIFY_ON="never")

    # Then one error names all three, one after another
    message = str(error.value)
    assert message.startswith("Invalid configuration: ")
    problems = message.removeprefix("Invalid configuration: ").split("; ")
    assert {problem.split(":")[0] for problem in problems if ":" in problem} == {
        "PAGE_SIZE",
        "SCAN_CONCURRENCY",
        "NOTIFY_ON",
    }


@pytest.mark.parametrize("length", [63, 65])
def test_a_ca_id_one_character_short_or_long_is_rejected(length):
    with pytest.raises(ConfigError, match="CA_CERTIFICATE_IDS: .* is not a CA certificate ID"):
        config_with(CA_CERTIFICATE_IDS="a" * length)


def test_a_ca_id_of_64_hex_characters_is_accepted():
    assert config_with(CA_CERTIFICATE_IDS="0123456789abcdef" * 4).ca_certificate_ids == ("0123456789abcdef" * 4,)


@pytest.mark.parametrize(
    "topic, region",
    [
        ("arn:aws:sns:eu-west-1:123456789012:alerts", "eu-west-1"),
        ("arn:aws:sns:eu-west-1:123456789012:iot_cert-audit-Alerts2", "eu-west-1"),
        ("arn:aws-cn:sns:cn-north-1:123456789012:alerts", "cn-north-1"),
        ("arn:aws-us-gov:sns:us-gov-west-1:123456789012:alerts", "us-gov-west-1"),
        ("arn:aws:sns:eu-west-1:123456789012:alerts", ""),  # region unknown (the CLI): format only
    ],
)
def test_a_standard_topic_in_the_functions_region_and_partition_is_accepted(topic, region):
    assert load_config({"ALERT_TOPIC_ARN": topic, "AWS_REGION": region}).alert_topic_arn == topic


@pytest.mark.parametrize(
    "topic",
    [
        "arn:aws:sqs:eu-west-1:123456789012:alerts",  # another service
        "arn:aws:sns:eu-west-1:12345678901:alerts",  # 11-digit account
        "arn:aws:sns:eu-west-1:1234567890123:alerts",  # 13-digit account
        "arn:aws:sns:eu-west-1:123456789012:",  # no topic name
        "arn:aws:sns:eu-west-1:123456789012:alerts:extra",  # a subscription ARN
        "arn:aws:sns:eu-west-1:123456789012:al.erts",
        "arn:aws:sns:eu-west-1:123456789012:alerts.fifo.x",
        "arn:aws:sns::123456789012:alerts",  # no region
        "arn:azure:sns:eu-west-1:123456789012:alerts",
        "xarn:aws:sns:eu-west-1:123456789012:alerts",
        "alerts",
    ],
)
def test_anything_but_an_sns_topic_arn_is_rejected(topic):
    with pytest.raises(ConfigError) as error:
        load_config({"ALERT_TOPIC_ARN": topic, "AWS_REGION": "eu-west-1"})
    assert f"ALERT_TOPIC_ARN: {topic!r} is not an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)" in str(error.value)


@pytest.mark.parametrize(
    "topic, region, expected",
    [
        (
            "arn:aws:sns:eu-west-1:123456789012:alerts.fifo",
            "eu-west-1",
            "is a FIFO topic, which needs a message group the audit does not send; use a standard topic",
        ),
        (
            "arn:aws:sns:us-east-1:123456789012:alerts",
            "eu-west-1",
            "is in us-east-1, not in the function's region eu-west-1; use a topic in eu-west-1",
        ),
        ("arn:aws:sns:cn-north-1:123456789012:alerts", "cn-north-1", "is in partition aws, not aws-cn"),
        ("arn:aws-cn:sns:us-east-1:123456789012:alerts", "us-east-1", "is in partition aws-cn, not aws"),
        ("arn:aws:sns:us-iso-east-1:123456789012:alerts", "us-iso-east-1", "is in partition aws, not aws-iso"),
        ("arn:aws:sns:us-isob-east-1:123456789012:alerts", "us-isob-east-1", "is in partition aws, not aws-iso-b"),
    ],
)
def test_a_topic_the_function_cannot_publish_to_is_rejected_before_the_scan(topic, region, expected):
    with pytest.raises(ConfigError) as error:
        load_config({"ALERT_TOPIC_ARN": topic, "AWS_REGION": region})
    assert f"ALERT_TOPIC_ARN: {topic!r} {expected}" in str(error.value)


def test_a_fifo_topic_is_rejected_even_where_the_region_is_unknown():
    with pytest.raises(ConfigError, match="FIFO topic"):
        load_config({"ALERT_TOPIC_ARN": "arn:aws:sns:eu-west-1:123456789012:alerts.fifo"})


ALLOWED_STATUSES = "ACTIVE, INACTIVE, REVOKED, PENDING_TRANSFER, REGISTER_INACTIVE, PENDING_ACTIVATION"


def problem_of(env: dict) -> str:
    """The one problem the configuration reports, without the common prefix."""
    with pytest.raises(ConfigError) as error:
        load_config(env)
    message = str(error.value)
    assert message.startswith("Invalid configuration: ")
    return message.removeprefix("Invalid configuration: ")


@pytest.mark.parametrize(
    "env, problem",
    [
        (
            {"CA_CERTIFICATE_IDS": f"{CA},xyz"},
            "CA_CERTIFICATE_IDS: 'xyz' is not a CA certificate ID; expected 64 hexadecimal characters "
            "(the caCertificateId shown by `aws iot list-ca-certificates`)",
        ),
        (
            {"FLAGGED_STATUSES": "revoked,zombie,bogus"},
            f"FLAGGED_STATUSES: unknown status BOGUS, ZOMBIE; allowed: {ALLOWED_STATUSES}",
        ),
        ({"FLAGGED_STATUSES": " , "}, f"FLAGGED_STATUSES: no status given; allowed: {ALLOWED_STATUSES}"),
        ({"METRICS_DETAIL": "all"}, "METRICS_DETAIL: 'all' is not allowed; choose one of ca, totals"),
    ],
)
def test_each_problem_names_the_variable_the_value_and_what_is_allowed(env, problem):
    assert problem_of({"ALERT_TOPIC_ARN": TOPIC, **env}) == problem


def test_notify_on_lists_its_choices():
    assert problem_of({"ALERT_TOPIC_ARN": TOPIC, "NOTIFY_ON": "never"}).startswith(
        "NOTIFY_ON: 'never' is not allowed; choose one of findings, always"
    )


def test_the_function_needs_a_topic():
    assert problem_of({}) == "ALERT_TOPIC_ARN: missing; set it to the ARN of the SNS topic that receives findings"


def test_the_optional_settings_are_read_and_trimmed():
    # Given every optional setting, with the spaces a console paste leaves
    config = config_with(
        NOTIFY_ON=" Always ",
        METRICS_DETAIL=" TOTALS",
        SUPPRESSIONS_PARAMETER=" /iot-cert-audit/suppressions ",
        RUN_LOCK_TABLE_NAME=" audit-lock ",
        STATE_TABLE_NAME=" audit-state ",
        REPORT_BUCKET_NAME=" audit-reports ",
        EVENT_BUS_NAME=" audit-bus ",
    )

    # Then each is used, trimmed (choices in lower case)
    assert (config.notify_on, config.metrics_detail) == ("always", "totals")
    assert (config.suppressions_parameter, config.run_lock_table) == ("/iot-cert-audit/suppressions", "audit-lock")
    assert (config.state_table, config.report_bucket, config.event_bus) == ("audit-state", "audit-reports", "audit-bus")


OPTIONAL_NAMES = (
    "SUPPRESSIONS_PARAMETER",
    "RUN_LOCK_TABLE_NAME",
    "STATE_TABLE_NAME",
    "REPORT_BUCKET_NAME",
    "EVENT_BUS_NAME",
)


def test_optional_settings_left_out_or_blank_are_off():
    for config in (config_with(), config_with(**dict.fromkeys(OPTIONAL_NAMES, " "))):
        optional = (config.suppressions_parameter, config.run_lock_table, config.state_table, config.report_bucket)
        assert optional == (None, None, None, None) and config.event_bus is None
    assert (config_with().notify_on, config_with().metrics_detail) == ("findings", "ca")


EVENT_CAS_PROBLEM = "event.caCertificateIds: {!r} is not allowed; pass a non-empty list of CA certificate IDs"


@pytest.mark.parametrize(
    "event, problem",
    [
        (
            {"caCertificateId": [CA]},
            "event: unknown key 'caCertificateId' (did you mean 'caCertificateIds'?); "
            "an on-demand event may carry only ",
        ),
        (
            {"zzz": 1, "caCertificateId": [CA], "caCertificateIds": [CA]},
            "event: unknown key 'caCertificateId', 'zzz' (did you mean 'caCertificateIds'?); "
            "an on-demand event may carry only ",
        ),
        ({"caCertificateIds": []}, EVENT_CAS_PROBLEM.format([])),
        ({"caCertificateIds": CA}, EVENT_CAS_PROBLEM.format(CA)),
        ({"caCertificateIds": [CA, 7]}, EVENT_CAS_PROBLEM.format([CA, 7])),
        (
            {"caCertificateIds": ["xyz"]},
            "event.caCertificateIds: 'xyz' is not a CA certificate ID; expected 64 hexadecimal characters "
            "(the caCertificateId shown by `aws iot list-ca-certificates`)",
        ),
    ],
)
def test_an_on_demand_event_that_is_not_understood_is_rejected_saying_why(event, problem):
    with pytest.raises(ConfigError) as error:
        ca_ids_from_event(event)
    message = str(error.value)
    if problem.endswith("may carry only "):  # then the keys it may carry, one of them caCertificateIds
        assert message.startswith(problem) and "caCertificateIds" in message.removeprefix(problem).split(", ")
    else:
        assert message == problem


def test_an_on_demand_event_names_its_cas_and_anything_else_audits_the_configured_ones():
    assert ca_ids_from_event({"caCertificateIds": [CA.upper(), CA]}) == (CA,)
    assert ca_ids_from_event({}) is None
    assert ca_ids_from_event({"source": "aws.scheduler", "caCertificateId": "ignored"}) is None
    assert ca_ids_from_event("not a mapping") is None


def test_two_misspelt_keys_get_a_hint_each():
    with pytest.raises(ConfigError) as error:
        ca_ids_from_event({"caCertificateId": [CA], "caCertificateID": [CA]})
    assert str(error.value).startswith(
        "event: unknown key 'caCertificateID', 'caCertificateId' (did you mean 'caCertificateIds'?)"
        " (did you mean 'caCertificateIds'?); "
    )


@pytest.mark.parametrize(
    "event, notify",
    [
        ({"notify": " Always "}, "always"),
        ({"notify": "findings", "caCertificateIds": [CA]}, "findings"),
        ({"caCertificateIds": [CA]}, None),
        ({}, None),
        ({"source": "aws.scheduler", "notify": "always"}, None),  # an AWS event is never read for options
        (["notify"], None),
    ],
)
def test_an_on_demand_event_may_choose_when_to_notify(event, notify):
    assert notify_from_event(event) == notify


@pytest.mark.parametrize("value", ["never", 1, None, "ALWAYS!"])
def test_an_on_demand_notify_that_is_not_a_choice_is_rejected_before_anything_runs(value):
    # Given an event whose notify is not one of the choices
    event = {"notify": value, "caCertificateIds": [CA]}

    # Then reading either option of the event fails, naming the value and the choices
    for read in (notify_from_event, ca_ids_from_event):
        with pytest.raises(ConfigError) as error:
            read(event)
        message = str(error.value)
        assert message.startswith(f"event.notify: {value!r} is not allowed; choose one of ")
        assert {"findings", "always"} <= set(message.split("choose one of ")[1].split(", "))


def test_security_hub_without_the_state_table_is_refused_saying_what_to_set():
    # Given SECURITY_HUB on and no STATE_TABLE_NAME, When the configuration is loaded,
    # Then the whole message names both settings and the two ways out
    with pytest.raises(ConfigError) as refused:
        config_with(SECURITY_HUB="true")
    assert str(refused.value) == (
        "Invalid configuration: SECURITY_HUB: true needs STATE_TABLE_NAME, the state table that remembers what "
        "Security Hub was given (the stack sets both); set it, or SECURITY_HUB=false"
    )


def test_every_inventory_setting_problem_is_told_at_once():
    # Given a key minimum below its range and two signature hashes nobody knows (in lower case)
    env = {"MIN_RSA_KEY_BITS": "512", "WEAK_SIGNATURE_HASHES": "sha1,blake2,md4"}

    # When the inventory's settings are read, Then both problems are in one message, each in full
    with pytest.raises(ConfigError) as refused:
        inventory_settings(env)
    assert str(refused.value) == (
        "MIN_RSA_KEY_BITS: '512' is not a whole number from 1024 to 16384; "
        "WEAK_SIGNATURE_HASHES: unknown hash BLAKE2, MD4; allowed: MD5, SHA1, SHA224, SHA256, SHA384, SHA512, "
        "SHA3224, SHA3256, SHA3384, SHA3512"
    )
