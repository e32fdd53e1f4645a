"""Suppressions: the file format with its errors, matching, and expiry. Pure, no AWS."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cert_audit.suppressions import (
    SuppressionError,
    apply_suppressions,
    expired_suppressions,
    load_suppressions_file,
    parse_suppressions,
)

CERT, CA, OTHER = "1" * 64, "a" * 64, "b" * 64
NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


def finding(kind: str = "CERTIFICATE_STATUS", certificate: str = CERT, ca: str = CA) -> dict:
    return {"type": kind, "certificateId": certificate, "caCertificateId": ca, "severity": "HIGH"}


def write(tmp_path, text: str, name: str = "suppressions.yaml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_yaml_file_with_every_field(tmp_path):
    path = write(
        tmp_path,
        f"""
suppressions:
  - certificateId: {CERT.upper()}
    type: CERTIFICATE_STATUS
    reason: Spare device in the safe
    expires: 2026-06-30
  - caCertificateId: {CA}
    reason: Legacy CA being retired
""",
    )
    first, second = load_suppressions_file(path)
    assert first.certificate_id == CERT and first.type == "CERTIFICATE_STATUS"
    assert first.expires == datetime(2026, 7, 1, tzinfo=UTC)  # valid through the 30th
    assert second.ca_certificate_id == CA and second.expires is None
    assert first.as_dict() == {
        "certificateId": CERT,
        "type": "CERTIFICATE_STATUS",
        "reason": "Spare device in the safe",
        "expires": "2026-07-01T00:00:00Z",
    }


def test_json_file_as_a_plain_list(tmp_path):
    path = write(tmp_path, f'[{{"caCertificateId": "{CA}", "reason": "x"}}]', "s.json")
    assert [s.ca_certificate_id for s in load_suppressions_file(path)] == [CA]


def test_the_wire_form_parses_back_to_the_same_suppression(tmp_path):
    [original] = load_suppressions_file(write(tmp_path, f"- {{certificateId: {CERT}, reason: r, expires: 2026-06-30}}"))
    assert parse_suppressions([original.as_dict()]) == [original]


@pytest.mark.parametrize(
    "text, message",
    [
        (
            f"- certificateId: {CERT}\n  reason: ok\n- certificatId: {CERT}\n  reason: typo\n",
            "line 3: unknown field 'certificatId' (did you mean 'certificateId'?)",
        ),
        (
            f"- certificateId: {CERT}\n  reason: ok\n\n- certificateId: xyz\n  reason: bad id\n",
            "line 4: certificateId 'xyz' is not 64 hexadecimal characters",
        ),
        (
            f"- certificateId: {CERT}\n  caCertificateId: {CA}\n  reason: both\n",
            "line 1: give exactly one of certificateId or caCertificateId",
        ),
        (f"- certificateId: {CERT}\n  type: STATUS\n  reason: r\n", "line 1: type 'STATUS' is not a finding type"),
        (f"- certificateId: {CERT}\n", "line 1: reason is required"),
        (
            f"- certificateId: {CERT}\n  reason: r\n  expires: next week\n",
            "line 1: expires 'next week' is not a date (YYYY-MM-DD) or ISO-8601 time",
        ),
        ("suppressions:\n  - [unclosed\n", "line 3: not valid JSON or YAML"),
        ("certificateId: x\n", "expected a list of suppressions"),
    ],
)
def test_malformed_file_names_the_line_and_the_problem(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(SuppressionError) as error:
        load_suppressions_file(path)
    assert message in str(error.value)
    assert str(error.value).startswith(path) or message.startswith("expected")


def test_every_problem_is_reported_at_once(tmp_path):
    path = write(tmp_path, f"- certificateId: {CERT}\n- caCertificateId: nope\n  reason: r\n")
    with pytest.raises(SuppressionError) as error:
        load_suppressions_file(path)
    assert "line 1: reason is required" in str(error.value) and "line 2: caCertificateId" in str(error.value)


def test_matching_by_certificate_ca_and_type():
    suppressions = parse_suppressions(
        [
            {"certificateId": CERT, "reason": "this certificate"},
            {"caCertificateId": OTHER, "type": "CA_CERTIFICATE_EXPIRING", "reason": "renewal booked"},
        ]
    )
    findings = [
        finding(),
        finding(certificate="2" * 64),
        finding("CA_CERTIFICATE_EXPIRING", OTHER, OTHER),
        finding("CERTIFICATE_STATUS", "3" * 64, OTHER),
    ]
    kept, suppressed = apply_suppressions(findings, suppressions, NOW)
    assert [f["certificateId"] for f in kept] == ["2" * 64, "3" * 64]
    assert [(f["certificateId"], f["suppression"]["reason"]) for f in suppressed] == [
        (CERT, "this certificate"),
        (OTHER, "renewal booked"),
    ]


@pytest.mark.parametrize(
    "expires, applies",
    [("2026-06-15", True), ("2026-06-14", False), ("2026-06-15T12:00:00Z", False), ("2026-06-15T12:00:01Z", True)],
)
def test_expiry(expires, applies):
    suppressions = parse_suppressions([{"certificateId": CERT, "reason": "r", "expires": expires}])
    kept, suppressed = apply_suppressions([finding()], suppressions, NOW)
    assert (len(suppressed), len(kept)) == ((1, 0) if applies else (0, 1))
    assert len(expired_suppressions(suppressions, NOW)) == (0 if applies else 1)
