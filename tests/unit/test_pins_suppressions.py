"""Suppressions files as a team writes them: every problem said in full, at its line, in either
file form; expiries in any zone; the wire form of a CA-level suppression (issue 9, mutation run)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from cert_audit.suppressions import (
    SuppressionError,
    apply_suppressions,
    expired_suppressions,
    load_suppressions_file,
    parse_suppressions,
)

CERT, CA = "1" * 64, "a" * 64
NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
FIELDS = "certificateId, caCertificateId, type, reason, expires"
TYPES = (
    "CERTIFICATE_STATUS, CA_NOT_ACTIVE_WITH_ACTIVE_DEVICE_CERTIFICATES, CA_CERTIFICATE_EXPIRED, "
    "CA_CERTIFICATE_EXPIRING, DEVICE_CERTIFICATE_AGE, DEVICE_CERTIFICATE_EXPIRED, DEVICE_CERTIFICATE_EXPIRING, "
    "WEAK_KEY, WEAK_SIGNATURE"
)


def problem_of(data: object) -> str:
    with pytest.raises(SuppressionError) as error:
        parse_suppressions(data)
    return str(error.value)


@pytest.mark.parametrize(
    "data, problem",
    [
        ("x", "expected a list of suppressions, or a mapping with the key 'suppressions'"),
        (["x"], f"entry 1: expected a mapping with {FIELDS}, got 'x'"),
        ([{"certificateId": CERT, "reason": "r", "zzz": 1}], f"entry 1: unknown field 'zzz'; allowed: {FIELDS}"),
        (
            [{"certificateId": CERT, "reason": "r", "type": "STATUS"}],
            f"entry 1: type 'STATUS' is not a finding type; allowed: {TYPES}",
        ),
        (
            [{"certificateId": CERT}, {"caCertificateId": CA, "reason": "r"}, {"certificateId": "x", "reason": "r"}],
            "entry 1: reason is required: say why this finding is accepted; "
            "entry 3: certificateId 'x' is not 64 hexadecimal characters",
        ),
    ],
)
def test_each_problem_is_said_in_full(data, problem):
    assert problem_of(data) == problem


def test_a_ca_level_suppression_is_written_back_with_its_ca():
    # Given a CA-level suppression that has expired
    suppressions = parse_suppressions([{"caCertificateId": CA, "reason": "legacy CA", "expires": "2026-06-01"}])

    # Then the report lists it under the CA's ID, as it was written
    assert expired_suppressions(suppressions, NOW) == [
        {"caCertificateId": CA, "reason": "legacy CA", "expires": "2026-06-02T00:00:00Z"}
    ]


@pytest.mark.parametrize(
    "expires, ends_at",
    [
        ("2026-06-15T14:00:00+02:00", datetime(2026, 6, 15, 12, 0, tzinfo=UTC)),
        (datetime(2026, 6, 15, 17, 0, tzinfo=timezone(timedelta(hours=5))), datetime(2026, 6, 15, 12, 0, tzinfo=UTC)),
        ("2026-06-15T12:00:00Z", datetime(2026, 6, 15, 12, 0, tzinfo=UTC)),
    ],
)
def test_an_expiry_with_a_time_zone_ends_at_that_instant(expires, ends_at):
    # Given a suppression that ends at an instant written in some zone
    suppressions = parse_suppressions([{"certificateId": CERT, "reason": "r", "expires": expires}])
    finding = {"type": "CERTIFICATE_STATUS", "certificateId": CERT, "caCertificateId": CA}

    # Then it applies until that instant and not from it on
    assert apply_suppressions([finding], suppressions, ends_at - timedelta(seconds=1))[0] == []
    assert apply_suppressions([finding], suppressions, ends_at)[0] == [finding]


def write(tmp_path, content: bytes, name: str = "suppressions.yaml") -> str:
    path = tmp_path / name
    path.write_bytes(content)
    return str(path)


def file_problem(path: str) -> str:
    with pytest.raises(SuppressionError) as error:
        load_suppressions_file(path)
    return str(error.value)


def test_a_file_that_is_not_utf8_names_the_line(tmp_path):
    # Given a file saved in Latin-1, its first non-ASCII letter on line 4
    path = write(tmp_path, f"- certificateId: {CERT}\n  reason: ok\n\n  # caf\xe9\n".encode("latin-1"))

    # Then the problem names the file and that line
    assert file_problem(path) == f"{path}, line 4: not UTF-8 text; save the file as UTF-8"


def test_a_date_that_does_not_exist_names_the_file(tmp_path):
    path = write(tmp_path, f"- certificateId: {CERT}\n  reason: r\n  expires: 2027-13-45\n".encode())
    assert file_problem(path) == (
        f"{path}: a date that does not exist (month must be in 1..12); write dates as YYYY-MM-DD"
    )


def test_yaml_that_does_not_parse_names_the_line_and_the_problem(tmp_path):
    path = write(tmp_path, b"suppressions:\n  - [unclosed\n")
    assert file_problem(path) == f"{path}, line 3: not valid JSON or YAML: expected ',' or ']', but got '<stream end>'"


def test_a_character_yaml_refuses_is_a_problem_too(tmp_path):
    # Given a control character pasted into the file (YAML's reader refuses it, with no line)
    path = write(tmp_path, f"suppressions:\n  - certificateId: {CERT}\x01\n".encode())

    # Then the problem names the file and YAML's reason
    assert file_problem(path).startswith(
        f"{path}: not valid JSON or YAML: unacceptable character #x0001: special characters are not allowed"
    )


def test_entries_under_the_suppressions_key_are_named_by_their_line(tmp_path):
    # Given the mapping form with a bad entry on line 4
    path = write(
        tmp_path, f"suppressions:\n  - caCertificateId: {CA}\n    reason: ok\n  - caCertificateId: aaaa\n".encode()
    )

    # Then the problem is at line 4
    assert file_problem(path).startswith(f"{path}, line 4: ")
