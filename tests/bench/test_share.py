"""The share scenarios measure what they claim: the stand-in counts a competing caller apart from
the contender, the competing caller retries a bounded number of times and reports what became of
each request, ours runs with the rate limit the scenario names, and the share target judges the
figures it is given. No timing is asserted."""

from __future__ import annotations

import time

import boto3
import pytest

from bench.competitor import ATTEMPTS, Competitor, Outcome, client_config, share_within
from bench.fleet import Fleet
from bench.processes import run_python_contender
from bench.report import latest_reruns, share_section
from bench.run import run_scenario
from bench.scenarios import FLOOR, OURS, SHARE, SIZE, Scenario
from bench.server import StandInIoT, caller_of, serving
from bench.targets import judge
from tests.bench.test_harness import SIZES, make_row


@pytest.fixture(scope="module")
def fleet() -> Fleet:
    return Fleet.build(ca_count=2, certificates_per_ca=500, flagged_share=0.1)


def wait_until(condition, timeout_s: float = 30) -> None:
    give_up = time.monotonic() + timeout_s
    while not condition() and time.monotonic() < give_up:
        time.sleep(0.05)


class DenyAll:
    """A quota with no room at all: every request is throttled."""

    def take(self) -> bool:
        return False


class DenyFirst:
    def __init__(self, times: int):
        self.left = times

    def take(self) -> bool:
        self.left -= 1
        return self.left < 0


def test_a_named_caller_is_counted_apart_from_the_contender(fleet):
    # Given the stand-in, a client as the contender's and one naming itself as the competing caller
    api = StandInIoT(fleet)
    ca_id = fleet.cas[0].ca_certificate_id
    with serving(api) as url:
        session = boto3.Session(aws_access_key_id="t", aws_secret_access_key="t", region_name="us-east-1")
        session.client("iot", endpoint_url=url).list_certificates_by_ca(caCertificateId=ca_id)
        other = session.client("iot", endpoint_url=url, config=client_config())
        # When the competing caller makes two requests and the contender one
        for _ in range(2):
            other.list_certificates_by_ca(caCertificateId=ca_id)
        traffic = api.control("traffic")
    # Then the contender's counts hold only its own request, and the other caller's are named
    assert traffic == {"ListCertificatesByCA|ok": 1, "competitor:ListCertificatesByCA|ok": 2}
    assert api.traffic.pages("ListCertificatesByCA") == 1


def test_caller_is_read_from_the_user_agent():
    # Given user agents as botocore writes them; Then only bench-caller/NAME names another caller
    assert caller_of("Boto3/1.43 md/Botocore#1.43 bench-caller/competitor") == "competitor"
    assert caller_of("Boto3/1.43 md/Botocore#1.43 iot-certificate-audit") == ""
    assert caller_of(None) == ""


def test_competitor_gives_up_after_its_attempts_and_counts_every_throttled_answer(fleet):
    # Given a stand-in whose quota throttles every request
    api = StandInIoT(fleet)
    api.quota = DenyAll()
    with serving(api) as url:
        # When the competing caller sends its demand for a moment (few requests: botocore's retry
        # quota, 100 retries without a success, must not run out before this test has seen three)
        competitor = Competitor(url, fleet.cas[0].ca_certificate_id, rate=5).start()
        wait_until(lambda: len(competitor.outcomes) >= 3)
        outcomes = competitor.stop()
        traffic = api.control("traffic")
    # Then every request failed after exactly its 3 attempts (never retrying without end),
    # and its throttled answers are the ones the server sent it
    assert outcomes and all(not o.ok and o.throttled == ATTEMPTS for o in outcomes)
    assert traffic["competitor:ListCertificatesByCA|ThrottlingException"] == ATTEMPTS * len(outcomes)
    assert "ListCertificatesByCA|ThrottlingException" not in traffic  # none counted as the contender's


def test_competitor_request_succeeds_when_a_retry_gets_through(fleet):
    # Given a stand-in that throttles the first two requests, then lets everything through
    api = StandInIoT(fleet)
    api.quota = DenyFirst(2)
    with serving(api) as url:
        competitor = Competitor(url, fleet.cas[0].ca_certificate_id, rate=1).start()
        wait_until(lambda: competitor.outcomes)
        first = competitor.stop()[0]
    # Then its first request succeeded on its third attempt, with two throttled answers
    assert first == Outcome(first.due, True, 2)


def test_share_counts_only_the_requests_due_in_the_window():
    # Given requests due at 1..6 s, of which the one at 3 s failed after 3 throttled answers
    outcomes = [Outcome(t, t != 3, 3 if t == 3 else 0) for t in range(1, 7)]
    # When the window is 2..4 s
    share = share_within(outcomes, 2, 4)
    # Then 3 were due, 2 succeeded, 1 failed, with 3 throttled answers
    assert (share.demanded, share.succeeded, share.failed, share.throttled) == (3, 2, 1, 3)
    assert share.success_share == pytest.approx(2 / 3)
    assert share_within(outcomes, 10, 11).success_share is None


def test_ours_runs_with_the_scenarios_rate_limit():
    # Given the size group (no limiter), a share scenario at IOT_RATE_LIMIT=8, and the floor
    size = Scenario(SIZE, 1, 1000, 0.01, (OURS, FLOOR))
    shared = Scenario(SHARE, 1, 1000, 0.01, (OURS,), quota_rps=10, iot_rate_limit=8, competitor_rps=5)
    # Then ours runs without a limiter in the first and at 8 in the second; the floor has neither
    assert size.contender_env(OURS) == {"BENCH_RATE_LIMIT": "off"}
    assert shared.contender_env(OURS) == {"IOT_RATE_LIMIT": "8"}
    assert size.contender_env(FLOOR) == {}
    assert "other caller 5 req/s" in shared.label and "IOT_RATE_LIMIT=8" in shared.label
    assert "IOT_RATE_LIMIT" not in size.label  # the size and latency labels stay comparable with earlier runs


@pytest.mark.parametrize(("env", "limit"), [({"IOT_RATE_LIMIT": "7"}, 7), ({"BENCH_RATE_LIMIT": "off"}, None)])
def test_ours_reports_the_rate_limit_it_ran_with(fleet, env, limit):
    # Given the stand-in; When ours runs as the benchmark runs it, with a limit or with none
    with serving(StandInIoT(fleet)) as url:
        figures = run_python_contender(OURS, url, [fleet.cas[0].ca_certificate_id], env)
    # Then it reports that limit, its scan's place on the machine's clock and no throttled answer
    assert figures["iot_rate_limit"] == limit
    assert figures["scan_started"] < figures["scan_ended"]
    assert figures["client_throttles"] == 0 and figures["certificates"] == 500


def test_floor_retries_throttled_pages_through_botocore(fleet):
    # Given a stand-in that throttles the first two requests (the engine's clients no longer retry)
    api = StandInIoT(fleet)
    api.quota = DenyFirst(2)
    with serving(api) as url:
        # When the floor lists a CA
        figures = run_python_contender(FLOOR, url, [fleet.cas[0].ca_certificate_id], {})
    # Then it retried both and listed every certificate
    assert figures["client_retries"] == 2 and figures["certificates"] == 500


def test_share_scenario_row_keeps_the_competitors_requests_out_of_ours():
    # Given a share scenario: ours at 5 requests/s over 3 requests (so its scan lasts at least
    # 0.4 s) while another caller asks for 50 requests/s, with no quota
    scenario = Scenario(SHARE, 1, 250, 0.1, (OURS,), all_cas=True, iot_rate_limit=5, competitor_rps=50)
    # When it runs
    (row,) = run_scenario(scenario, log=lambda _: None)
    # Then ours' pages are its own (exact), and the other caller's requests due during the scan
    # all succeeded, none throttled
    assert row.pages_exact and row.correct and row.failed_cas == 0 and row.throttled == 0
    assert row.iot_rate_limit == 5
    assert row.competitor_demanded > 0 and row.competitor_succeeded == row.competitor_demanded
    assert row.competitor_throttled == 0 and row.competitor_share == 1.0


def share_row(**overrides):
    values = dict(
        group=SHARE,
        pages=200,
        discovery_pages=1,
        describes=10,
        scan_wall_s=42.2,
        quota_rps=10,
        quota_burst=10,
        iot_rate_limit=5,
        competitor_rps=5,
        competitor_demanded=200,
        competitor_succeeded=200,
        competitor_throttled=0,
    )
    return make_row(**(values | overrides))


def shared_verdict(rows):
    return next(v for v in judge(rows, SIZES) if v.target.startswith("Sharing"))


def test_share_target_needs_the_other_caller_served_and_ours_whole():
    # Given ours at the default limit, the other caller with every request served
    assert shared_verdict([share_row()]).passed is True
    # Then it fails when fewer than 95% of the other caller's requests succeed
    starved = shared_verdict([share_row(competitor_succeeded=180)])
    assert starved.passed is False and "other caller 90% of 200 succeeded" in starved.measured
    # Or when ours failed a CA, or got a wrong result
    assert shared_verdict([share_row(failed_cas=1)]).passed is False
    assert shared_verdict([share_row(correct=False)]).passed is False
    # And a run at another limit only is reported but not judged
    assert shared_verdict([share_row(iot_rate_limit=100)]).passed is None


def test_share_section_shows_both_callers_figures():
    # Given a share run at limit 5 and one without a limiter
    rows = [share_row(), share_row(iot_rate_limit=None, competitor_succeeded=150, competitor_throttled=90)]
    # When rendered; Then each has its limit, ours' rate and share, and the other caller's outcome
    lines = share_section(rows)
    body = "\n".join(lines)
    assert "| 10 | 5 | 42.2 | 5.00 (50%) |" in body
    assert "| 10 | off |" in body and "| 200 | 150 (75%) | 90 |" in body


def test_results_name_only_the_last_rerun_of_each_group():
    # Given a quota group re-run twice and a share group once
    meta = {
        "rerun": [
            {"group": "quota", "started": "1"},
            {"group": "share", "started": "2"},
            {"group": "quota", "started": "3"},
        ]
    }
    # When the re-runs are listed; Then the first quota re-run is gone (its rows were replaced)
    assert [(r["group"], r["started"]) for r in latest_reruns(meta)] == [("share", "2"), ("quota", "3")]


def test_page_target_leaves_out_a_run_whose_ca_failed():
    # Given an exact run, and a run that listed fewer pages because a CA failed under the quota
    rows = [make_row(), make_row(scenario="throttled", pages=388, failed_cas=1)]
    # When judged; Then the page target passes on the exact run and names the one left out
    pages = next(v for v in judge(rows, SIZES) if v.target.startswith("Page"))
    assert pages.passed is True and "1 of 1 runs exact" in pages.measured and "throttled" in pages.measured
