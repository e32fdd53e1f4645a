"""The SNS message stays within SNS's limit whatever grows, and keeps as much as fits.

The limit is SNS's own (262,144 bytes for a Publish request: subject, message, and each
attribute's name, type and value), written here rather than read from the module under test.
"""

from __future__ import annotations

import functools
import json
import random
from collections import Counter
from datetime import UTC, datetime

import pytest

from cert_audit import message
from cert_audit.config import DEFAULT_FLAGGED_STATUSES
from cert_audit.findings import FINDING_TYPES, finding_for
from cert_audit.message import build_message, email_text, fit_report
from cert_audit.report import build_report
from cert_audit.scan import CaScan
from cert_audit.suppressions import Suppression

SNS_LIMIT = 262_144  # bytes, SNS's maximum message size (the topic default)
LISTS = {  # each list that grows with the fleet, and the count of what a fitted report left out
    "cas": "casOmitted",
    "errors": "errorsOmitted",
    "findings": "findingsOmitted",
    "expiredSuppressions": "expiredSuppressionsOmitted",
    "suppressedFindings": "suppressedFindingsOmitted",
}
ACCESS_DENIED = (
    "User: arn:aws:sts::123456789012:assumed-role/cert-audit/cert-audit is not authorized to perform: "
    "iot:DescribeCACertificate on resource: arn:aws:iot:eu-west-1:123456789012:cacert/"
    "9b1d6c1f0a7e4d3c8b2a5f6e7d8c9b0a1f2e3d4c5b6a7f8e9d0c1b2a3f4e5d6c because no identity-based policy "
    "allows the iot:DescribeCACertificate action"
)
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def sns_size(publish: dict) -> int:
    """Bytes of a Publish request as SNS counts them against its limit."""
    attributes = publish["MessageAttributes"].items()
    parts = [publish["Subject"], publish["Message"]]
    parts += [name + value["DataType"] + value["StringValue"] for name, value in attributes]
    return sum(len(part.encode()) for part in parts)


def published(report: dict) -> int:
    return sns_size(build_message(report))


def fleet(
    clean_cas: int = 0,
    failed_cas: int = 0,
    ca_error: str = ACCESS_DENIED,
    cas_with_findings: int = 1,
    findings: int = 0,
    reason: str | None = None,  # of the findings (not the suppressed ones)
    types: int = 1,
    suppressed: int = 0,
    expired: int = 0,
    expired_reason: str = "Lab devices (CHG-1234)",
    run_errors: int = 0,
    run_error: str = "Suppressions parameter /audit/suppressions: AccessDeniedException: not allowed",
    seed: int = 0,
) -> dict:
    """A report from the engine's own builder: clean and failed CAs, and `findings` findings and
    `suppressed` suppressed findings spread over `cas_with_findings` more CAs, all shuffled."""
    flagged = frozenset(DEFAULT_FLAGGED_STATUSES)
    scans = [CaScan(f"c{n:063x}", certificates_scanned=1, by_status=Counter(ACTIVE=1)) for n in range(clean_cas)]
    scans += [
        CaScan(f"f{n:063x}", error={"code": "AccessDeniedException", "message": ca_error}) for n in range(failed_cas)
    ]
    with_findings = [
        CaScan(f"a{n:063x}", certificates_scanned=1, by_status=Counter(INACTIVE=1)) for n in range(cas_with_findings)
    ]
    for n in range(findings + suppressed):
        scan = with_findings[n % cas_with_findings]
        status = ("INACTIVE", "REGISTER_INACTIVE", "REVOKED")[n % 3]
        certificate = {
            "certificateId": f"{n:064x}",
            "certificateArn": f"arn:aws:iot:eu-west-1:123456789012:cert/{n:064x}",
            "status": status,
            "certificateMode": "DEFAULT",
            "creationDate": datetime(2020 + n % 5, 1, 1, tzinfo=UTC),
        }
        finding = finding_for(certificate, scan.ca_certificate_id, flagged)
        finding["type"] = FINDING_TYPES[n % types]  # shaped as a status finding, of any type
        if n < findings:
            finding["reason"] = reason or finding["reason"]
            scan.findings.append(finding)
        else:
            scan.suppressed.append({**finding, "suppression": {"certificateId": f"{n:064x}", "reason": "accepted"}})
    scans += with_findings if findings + suppressed else []
    random.Random(seed).shuffle(scans)
    return build_report(
        scans,
        flagged=flagged,
        audit_id="0f8fad5b-d9cb-469f-a165-70867728950e",
        account_id="123456789012",
        region="eu-west-1",
        started_at="2026-01-01T00:00:00Z",
        finished_at="2026-01-01T00:14:00Z",
        now=NOW,
        expired=[
            Suppression(expired_reason, certificate_id=f"{n:064x}", expires=datetime(2025, 1, 1, tzinfo=UTC)).as_dict()
            for n in range(expired)
        ],
        errors=[
            {"source": "suppressions", "code": "AccessDeniedException", "message": f"{run_error}{n}"}
            for n in range(run_errors)
        ],
    )


MULTIBYTE = "証明書の状態 ✓ é 😀 "  # 3-byte, 4-byte and escaped characters
ADVERSARIAL = {
    "450 CAs with one certificate each": dict(clean_cas=450),
    "200 CAs, all AccessDenied": dict(failed_cas=200),
    "10,000 CAs, a third failed with 2 KiB multibyte errors": dict(
        clean_cas=6_667, failed_cas=3_333, ca_error=MULTIBYTE * 150
    ),
    "5,000 findings with long multibyte reasons": dict(findings=5_000, cas_with_findings=40, reason=MULTIBYTE * 60),
    "3,000 suppressed findings": dict(findings=3, suppressed=3_000),
    "3,000 expired suppressions with long reasons": dict(expired=3_000, expired_reason=MULTIBYTE * 20),
    "5,000 short run errors": dict(clean_cas=2, run_errors=5_000, run_error="x"),
    "a CA error longer than the limit": dict(clean_cas=50, failed_cas=1, ca_error="é" * 300_000),
    "everything at once": dict(
        clean_cas=3_000,
        failed_cas=1_000,
        ca_error=MULTIBYTE * 10,
        findings=20_000,
        cas_with_findings=500,
        reason=MULTIBYTE * 5,
        suppressed=2_000,
        expired=500,
        run_errors=300,
        run_error=MULTIBYTE,
    ),
}


def attention(ca: dict) -> int:
    """What a reader needs first: failed CAs, then CAs with findings, then clean ones."""
    return 0 if ca["error"] else 1 if ca["findings"] else 2


@functools.cache
def adversarial(case: str) -> dict:
    """The report of an ADVERSARIAL case, built once (tests must not change it)."""
    return fleet(**ADVERSARIAL[case])


@pytest.fixture(scope="module", params=list(ADVERSARIAL), ids=list(ADVERSARIAL))
def cut(request) -> tuple[dict, dict]:
    """An adversarial report and the report fitted to SNS."""
    whole = adversarial(request.param)
    return whole, fit_report(whole)


def test_message_is_within_the_sns_limit(cut):
    whole, fitted = cut
    assert published(whole) > SNS_LIMIT  # each case is too big as it is
    assert published(fitted) <= SNS_LIMIT


def test_summary_stays_whole_and_each_list_counts_what_it_left_out(cut):
    whole, fitted = cut
    assert fitted["summary"] == whole["summary"]
    for name, omitted in LISTS.items():
        kept = fitted[name]
        assert len(kept) + fitted.get(omitted, 0) == len(whole[name]), name
        if name != "cas":
            assert kept == whole[name][: len(kept)], f"{name}: the first ones kept (worst first)"
    kept = {ca["caCertificateId"] for ca in fitted["cas"]}
    assert fitted["cas"] == [ca for ca in whole["cas"] if ca["caCertificateId"] in kept], "in the report's order"
    assert all(isinstance(fitted[LISTS[name]], int) for name in ("cas", "errors", "expiredSuppressions"))
    assert fitted["findingsTruncated"] is (fitted["findingsOmitted"] > 0)
    assert ("suppressedFindingsOmitted" in fitted) is (
        len(fitted["suppressedFindings"]) < len(whole["suppressedFindings"])
    )


def test_cas_that_need_attention_are_kept_first(cut):
    whole, fitted = cut
    kept = {ca["caCertificateId"] for ca in fitted["cas"]}
    omitted = [ca for ca in whole["cas"] if ca["caCertificateId"] not in kept]
    if omitted and fitted["cas"]:
        assert max(attention(ca) for ca in fitted["cas"]) <= min(attention(ca) for ca in omitted)


def test_email_says_what_each_list_left_out(cut):
    _, fitted = cut
    text = email_text(fitted)
    summary = fitted["summary"]
    if fitted["casOmitted"]:
        assert f"\n... and {fitted['casOmitted']:,} more CAs not shown: run `cert-audit scan --format json`" in text
    errors_not_shown = summary["casFailed"] - sum(1 for ca in fitted["cas"] if ca["error"]) + fitted["errorsOmitted"]
    assert (f"\n... and {errors_not_shown:,} more scan errors not shown: " in text) is (errors_not_shown > 0)
    if fitted["findingsOmitted"]:
        assert f"\n{fitted['findingsOmitted']:,} more findings did not fit in one SNS message" in text
    if fitted["expiredSuppressionsOmitted"]:
        assert f"\n... and {fitted['expiredSuppressionsOmitted']:,} more expired suppressions not shown" in text
    if "suppressedFindingsOmitted" in fitted:
        assert f"; {fitted['suppressedFindingsOmitted']:,} left out to fit one SNS message)." in text
    # The counts a reader sees first are the whole run's
    assert f"Scanned {summary['certificatesScanned']:,} device certificates of {summary['casScanned']:,} CA" in text
    assert text.startswith(f"IoT certificate audit: {summary['findings']:,} finding")


def one_more(whole: dict, fitted: dict, name: str) -> dict | None:
    """The fitted report with the next item of list `name` it left out, or None if it left none."""
    if name == "cas":
        kept = {ca["caCertificateId"] for ca in fitted["cas"]}
        omitted = [ca for ca in whole["cas"] if ca["caCertificateId"] not in kept]
        if not omitted:
            return None
        extra = min(omitted, key=attention)
        return {**fitted, "cas": [ca for ca in whole["cas"] if ca["caCertificateId"] in kept or ca is extra]}
    count = len(fitted[name])
    if count == len(whole[name]):
        return None
    return {**fitted, name: whole[name][: count + 1], LISTS[name]: fitted.get(LISTS[name], 1) - 1}


# Bytes a fitted message may leave unused beyond the next item that would not fit (the digits
# of the counts of left-out items are reckoned at their longest).
SLACK = 16


def test_the_budget_is_used_no_list_could_have_kept_one_more(cut):
    whole, fitted = cut
    for name in LISTS:
        bigger = one_more(whole, fitted, name)
        if bigger is not None:
            assert published(bigger) > SNS_LIMIT - SLACK, name


@pytest.mark.parametrize("length", range(1, 25))
def test_a_tight_fit_stays_within_the_limit(length):
    # Given every CA and finding type, and thousands of run errors short enough that the
    # message fills to within a few bytes of the limit (how close depends on their length)
    whole = fleet(clean_cas=5, cas_with_findings=5, findings=300, types=5, run_errors=5_000, run_error="x" * length)

    # When it is fitted, then it is within the limit and no more error would have fitted
    fitted = fit_report(whole)
    assert published(fitted) <= SNS_LIMIT
    assert published(one_more(whole, fitted, "errors")) > SNS_LIMIT - SLACK


def most_findings_that_fit(shape: dict) -> int:
    """The most findings a fleet of this shape can have with its whole report within the limit."""
    low, high = 0, 1_000  # published(low findings) <= SNS_LIMIT < published(high findings)
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if published(fleet(**shape, findings=middle)) <= SNS_LIMIT else (low, middle)
    return low


def test_any_limit_is_kept_to_the_byte():
    # Given a report with every list cut at a small limit, all CAs kept (12 with findings)
    whole = fleet(clean_cas=3, cas_with_findings=12, findings=60, types=5, run_errors=400, expired=60, suppressed=9)

    # When it is fitted to each of 120 consecutive limits (more than any item's size apart)
    for limit in range(40_000, 40_120):
        fitted = fit_report(whole, limit)

        # Then each message is within its limit, and no list could have kept one more
        assert published(fitted) <= limit
        assert fitted["casOmitted"] == 0 and fitted["findingsOmitted"] and fitted["errorsOmitted"]
        for name in LISTS:
            bigger = one_more(whole, fitted, name)
            assert bigger is None or name == "suppressedFindings" or published(bigger) > limit - SLACK


def test_a_report_that_fits_is_unchanged():
    # Given a report whose message is just within the limit
    shape = dict(clean_cas=20, failed_cas=5, cas_with_findings=3, expired=3, run_errors=2)
    whole = fleet(**shape, findings=most_findings_that_fit(shape))
    assert SNS_LIMIT - published(whole) < 2_000

    # When it is fitted, then nothing is left out
    fitted = fit_report(whole)
    assert fitted == {
        **whole,
        "casOmitted": 0,
        "errorsOmitted": 0,
        "expiredSuppressionsOmitted": 0,
        "resolvedFindingsOmitted": 0,
    }


def test_a_report_over_by_a_little_loses_only_a_little():
    # Given a report of many CAs and findings, one finding over the limit
    shape = dict(clean_cas=150, failed_cas=30, cas_with_findings=20)
    whole = fleet(**shape, findings=most_findings_that_fit(shape) + 1)
    assert published(whole) - SNS_LIMIT < 1_500

    # When it is fitted, then a few items go (the one over, and room for the five counts of
    # what was left out, which the fit adds), and the rest stays
    fitted = fit_report(whole)
    lost = sum(len(whole[name]) - len(fitted[name]) for name in LISTS)
    assert 1 <= lost <= 3
    assert published(fitted) <= SNS_LIMIT


def test_suppressed_findings_give_way_when_the_message_is_full():
    # Given findings that fill the message (each larger than a suppressed one), and suppressed findings
    alerting = fleet(findings=300, reason="r" * 2_000)
    with_suppressed = fleet(findings=300, reason="r" * 2_000, suppressed=50)

    # When each is fitted
    fitted = fit_report(with_suppressed)

    # Then the suppressed findings are left out (counted), never at the cost of an alerting one,
    # not even to fill the room a finding left
    assert fitted["suppressedFindings"] == []
    assert fitted["suppressedFindingsOmitted"] == 50
    assert fitted["summary"]["suppressedFindings"] == 50
    assert fitted["findings"] == fit_report(alerting)["findings"]
    assert "50 findings suppressed by your suppressions" in email_text(fitted)
    assert "; 50 left out to fit one SNS message)." in email_text(fitted)


def test_suppressed_findings_are_listed_when_they_fit():
    fitted = fit_report(fleet(findings=10, suppressed=40))
    assert len(fitted["suppressedFindings"]) == 40
    assert "suppressedFindingsOmitted" not in fitted


def test_cas_left_out_turn_the_subject_into_a_count_of_all_cas():
    # Given more CAs with findings than fit
    whole = fleet(findings=3_000, cas_with_findings=1_500)
    fitted = fit_report(whole)
    assert fitted["casOmitted"] > 0

    # Then the subject does not claim how many of them have findings, which the cut report cannot know
    assert build_message(fitted)["Subject"] == "IoT certificate audit: 3,000 findings in 1,500 CAs (eu-west-1)"


def test_fitting_twice_changes_nothing():
    once = fit_report(adversarial("everything at once"))
    assert fit_report(once) == once


def test_bound_holds_even_if_an_item_cost_is_misjudged(monkeypatch):
    # The final measurement is what guarantees the bound should the cost of an item ever be
    # misjudged (a rendering change, a new field): make every item look a quarter of its size.
    real = message._escaped_size
    monkeypatch.setattr(message, "_escaped_size", lambda text: real(text) // 4)
    fitted = fit_report(adversarial("everything at once"))

    assert published(fitted) <= SNS_LIMIT
    assert fitted["findings"] and fitted["cas"]  # cut in proportion, not emptied
    assert published(fitted) > SNS_LIMIT // 2
    assert json.loads(build_message(fitted)["Message"])["default"]
