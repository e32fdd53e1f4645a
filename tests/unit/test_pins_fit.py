"""The cut of a report to fit one SNS message, on small reports and small limits so that each
fit takes milliseconds (issue 9, mutation run; tests/unit/test_message_budget.py does the same at
SNS's 256 KiB with thousands of items).

A run with a memory: findings new and still open, resolved findings, failed CAs and CAs with more
or fewer findings, run errors, expired suppressions and suppressed findings, all cut at once.
"""

from __future__ import annotations

import json

import pytest

from cert_audit import message
from cert_audit.message import build_message, email_text, fit_report
from tests.unit.test_message_budget import SLACK, fleet, published

LISTS = {
    "cas": "casOmitted",
    "errors": "errorsOmitted",
    "findings": "findingsOmitted",
    "resolvedFindings": "resolvedFindingsOmitted",
    "expiredSuppressions": "expiredSuppressionsOmitted",
    "suppressedFindings": "suppressedFindingsOmitted",
}
ALERTING = [name for name in LISTS if name != "suppressedFindings"]


def remembered() -> dict:
    """12 CAs (3 failed, 5 with 1 to 5 findings), 13 findings (every third new), 6 resolved, 5 run
    errors, 5 expired suppressions, 6 suppressed findings."""
    report = fleet(
        clean_cas=4, failed_cas=3, cas_with_findings=5, findings=13, types=3, suppressed=6, expired=5, run_errors=5
    )
    counts = iter([5, 4, 2, 1, 1])  # findings per CA with findings, so that CAs rank by their count
    for ca in report["cas"]:
        if ca["caCertificateId"].startswith("a"):
            ca["findings"] = next(counts)
    for n, finding in enumerate(report["findings"]):
        finding.update(isNew=n % 3 == 0, firstSeen="2026-01-02T03:04:05Z", findingId=f"{n:032x}")
    resolved = [
        {**finding, "findingId": f"r{n:031x}", "resolvedAt": "2026-01-01T00:14:00Z"}
        for n, finding in enumerate(report["findings"][:6])
    ]
    report.update(
        changes={"new": 5, "resolved": 6, "ongoing": 8},
        oldestOpenSince="2026-01-02T03:04:05Z",
        resolvedFindings=resolved,
    )
    return report


WHOLE = remembered()


def in_keeping_order(name: str) -> list:
    """The order a cut keeps a list's items in: failed CAs, then CAs by findings (most first),
    then clean ones; new findings before those still open; every other list as it is."""
    items = WHOLE[name]
    if name == "cas":
        failed = [ca for ca in items if ca["error"]]
        with_findings = sorted(
            (ca for ca in items if not ca["error"] and ca["findings"]), key=lambda ca: -ca["findings"]
        )
        return failed + with_findings + [ca for ca in items if not ca["error"] and not ca["findings"]]
    if name == "findings":
        return [f for f in items if f["isNew"]] + [f for f in items if not f["isNew"]]
    return items


def with_one_more(fitted: dict, name: str) -> dict | None:
    """The fitted report with the next item of `name` it left out (None if it left none, or only
    one: the last item also takes away the line that counts the items left out, which the cut
    reckons with until the list is whole)."""
    order = in_keeping_order(name)
    count = len(fitted[name])
    if count >= len(order) - 1:
        return None
    kept = order[: count + 1]
    if name == "cas":  # CAs are listed in the report's order
        kept = [ca for ca in WHOLE["cas"] if any(ca is k for k in kept)]
    return {**fitted, name: kept, LISTS[name]: fitted.get(LISTS[name], 1) - 1}


# Bytes a cut may leave unused beyond the next item: SLACK (the counts of left-out items reckoned
# at their most digits), and for a CA 16 more: the cut reckons with the subject's "5 of 12 CAs",
# written twice (Subject and e-mail), although a report with CAs left out says "12 CAs" (this
# report leaves at most 28 bytes unused before a CA).
UNUSED = {name: SLACK for name in LISTS} | {"cas": SLACK + 16}
SIZE = published(WHOLE)
# Limits where something that alerts must go: from a message with room for 2 or 3 items of each list
# to one with room for all but 2 findings.
LIMITS = range(SIZE - 28_000, SIZE - 6_000, 251)


@pytest.mark.parametrize("limit", LIMITS)
def test_a_cut_report_is_within_the_limit_and_no_list_could_keep_one_more(limit):
    # When the report is fitted to a limit it is over
    fitted = fit_report(WHOLE, limit)

    # Then its message is within the limit, its summary whole, and it still reads as JSON
    assert published(fitted) <= limit
    assert fitted["summary"] == WHOLE["summary"]
    assert json.loads(json.loads(build_message(fitted)["Message"])["default"]) == fitted

    # And each list keeps its first items in keeping order and counts the rest
    for name, omitted in LISTS.items():
        kept = fitted[name]
        assert len(kept) + fitted.get(omitted, 0) == len(WHOLE[name]), name
        if name == "cas":
            assert sorted(map(id, kept)) == sorted(map(id, in_keeping_order("cas")[: len(kept)]))
            assert kept == [ca for ca in WHOLE["cas"] if any(ca is k for k in kept)], "in the report's order"
        else:
            assert kept == in_keeping_order(name)[: len(kept)], name
    assert fitted["findingsTruncated"] is (fitted["findingsOmitted"] > 0)

    # And no list that alerts could have kept one more item within the limit
    for name in ALERTING:
        bigger = with_one_more(fitted, name)
        assert bigger is None or published(bigger) > limit - UNUSED[name], name

    # And suppressed findings are listed only when nothing that alerts was left out
    if any(fitted[LISTS[name]] for name in ALERTING):
        assert (fitted["suppressedFindings"], fitted["suppressedFindingsOmitted"]) == ([], 6)
    else:
        bigger = with_one_more(fitted, "suppressedFindings")
        assert bigger is None or published(bigger) > limit - UNUSED["suppressedFindings"]


def test_the_lists_take_turns_so_that_none_crowds_out_the_others():
    # Given a limit with room for a few items of each list
    fitted = fit_report(WHOLE, SIZE - 28_000)

    # Then every list that alerts keeps some of its items, and none keeps all while another keeps none
    kept = {name: len(fitted[name]) for name in ALERTING}
    assert all(kept.values()), kept
    assert all(fitted[LISTS[name]] for name in ALERTING), "each was cut"


def test_a_report_well_within_the_limit_is_sent_whole():
    # Given a limit 1 KiB above the report's size, When it is fitted, Then nothing is left out,
    # the findings new first (README: findings[] "new first, then worst first")
    fitted = fit_report(WHOLE, SIZE + 1_024)
    assert fitted == {**WHOLE, "findings": in_keeping_order("findings"), **{LISTS[name]: 0 for name in ALERTING}}
    assert in_keeping_order("findings") != WHOLE["findings"]


def test_the_email_of_a_cut_report_keeps_its_sections_and_counts():
    # Given a cut with some of each list left out
    fitted = fit_report(WHOLE, SIZE - 28_000)
    text = email_text(fitted)

    # Then new findings come first under their own heading, then those still open, each type
    # headed by the whole count of that type among the findings kept in its section
    new = [f for f in fitted["findings"] if f["isNew"]]
    assert new and fitted["findings"][: len(new)] == new
    assert text.index("New since the last run (worst first)\n") < text.index(f"certificate {new[0]['certificateId']}")
    for title, section in (
        ("New since the last run (worst first)", new),
        ("Still open (worst first)", fitted["findings"][len(new) :]),
    ):
        if section:
            first_type = section[0]["type"]
            count = sum(1 for f in section if f["type"] == first_type)
            assert f"\n{title}\n\n{first_type} ({count})\n\n" in text
    # And the resolved findings left out are counted
    assert f"... and {fitted['resolvedFindingsOmitted']} more resolved findings not shown" in text


def test_the_message_is_the_json_report_and_the_email_in_compact_json():
    # When a report's message is built
    message = build_message(WHOLE)["Message"]

    # Then SNS gets the JSON report as `default` and the e-mail as `email` (MessageStructure=json)
    body = json.loads(message)
    assert list(body) == ["default", "email"]
    assert json.loads(body["default"]) == WHOLE
    assert body["email"] == email_text(WHOLE)
    # And both are compact JSON, without a space after a separator: every byte counts against 256 KiB
    assert message == json.dumps(body, separators=(",", ":"))
    assert body["default"] == json.dumps(WHOLE, separators=(",", ":"))


@pytest.mark.xfail(
    strict=True,
    reason="message.py (issue 9 mutation run, reported): the e-mail's 'Resolved since the last run' and "
    "'Expired suppressions' headings are not reckoned once their lists are whole (the cut's skeleton then has "
    "neither items nor a left-out count), so near the limit the measured message is over it and the fallback "
    "cuts one item of every list, a suppressed finding listed while alerting ones are left out",
)
def test_near_the_limit_nothing_that_fits_is_lost_and_suppressed_findings_still_give_way():
    # When the report is fitted to limits from 4 KiB below its size to its size
    for limit in range(SIZE - 4_000, SIZE + 1, 50):
        fitted = fit_report(WHOLE, limit)

        # Then suppressed findings are listed only when nothing that alerts was left out
        if any(fitted[LISTS[name]] for name in ALERTING):
            assert fitted["suppressedFindings"] == [], limit
    # And a report is sent whole at a limit of its own size
    assert fit_report(WHOLE, SIZE) == {
        **WHOLE,
        "findings": in_keeping_order("findings"),
        **dict.fromkeys((LISTS[name] for name in ALERTING), 0),
    }


def test_with_some_bytes_to_spare_a_report_is_sent_whole():
    # Given limits from 100 bytes to 1 KiB above the report's size
    for limit in range(SIZE + 100, SIZE + 1_025, 25):
        # When it is fitted, Then nothing is left out
        fitted = fit_report(WHOLE, limit)
        assert [fitted[LISTS[name]] for name in ALERTING] == [0] * len(ALERTING), limit
        assert fitted["suppressedFindings"] == WHOLE["suppressedFindings"], limit


def test_the_limit_holds_even_if_an_items_cost_is_misjudged(monkeypatch):
    # Given every item looking a quarter of its size (a rendering change the costs missed)
    real = message._escaped_size
    monkeypatch.setattr(message, "_escaped_size", lambda text: real(text) // 4)

    for limit in (SIZE - 20_000, SIZE - 10_000):
        # When the report is fitted, Then the message measured is still within the limit,
        # cut in proportion rather than emptied
        fitted = fit_report(WHOLE, limit)
        assert limit // 2 < published(fitted) <= limit
        assert all(fitted[name] for name in ("cas", "errors", "findings", "resolvedFindings")), limit


def test_one_finding_left_out_is_a_truncated_list():
    # Given a limit with room for every item that alerts but one finding
    fitted = fit_report(WHOLE, SIZE - 5_000)

    # Then that one is counted and the findings are marked truncated; nothing suppressed is listed
    assert (fitted["findingsOmitted"], fitted["findingsTruncated"]) == (1, True)
    assert [fitted[LISTS[name]] for name in ALERTING if name != "findings"] == [0, 0, 0, 0]
    assert (fitted["suppressedFindings"], fitted["suppressedFindingsOmitted"]) == ([], 6)


def test_suppressed_findings_take_the_room_that_everything_alerting_leaves():
    # Given a limit with room for everything that alerts and some of the 6 suppressed findings
    limit = SIZE - 2_000
    fitted = fit_report(WHOLE, limit)

    # Then every alerting item is kept, the suppressed findings fill the rest, and the others are counted
    assert [fitted[LISTS[name]] for name in ALERTING] == [0] * len(ALERTING)
    kept = len(fitted["suppressedFindings"])
    assert kept >= 1 and fitted["suppressedFindingsOmitted"] == 6 - kept
    assert fitted["suppressedFindings"] == WHOLE["suppressedFindings"][:kept]
    assert published(with_one_more(fitted, "suppressedFindings")) > limit
