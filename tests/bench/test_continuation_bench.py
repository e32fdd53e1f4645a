"""The continuation group measures the function's own hand-over and merge, and its section says so."""

from __future__ import annotations

from bench import continuation


def test_the_group_hands_over_and_merges_every_finding_once():
    # Given a small run: hand-overs of 300 findings, a merge of 2,000 findings in the group's parts
    results = continuation.run_group(2_000, log=lambda line: None, handover_sizes=(300,))

    # Then the part holds the findings (gzip, tens of bytes each) and the checkpoint stays small
    [handover] = results["handover"]
    assert handover["findings"] == 300 and 20 < handover["gz_bytes"] / 300 < 200
    assert handover["checkpoint_bytes"] < 256 * 1024
    # And the merge found every finding once, in one report of the group's CAs
    merge = results["merge"]
    assert merge["correct"] and merge["findings"] == 2_000 and merge["cas"] == continuation.CAS
    assert merge["peak_rss_mb"] >= merge["rss_before_mb"] > 0

    # And the section renders these figures
    results["meta"] = {
        "command": "c",
        "started": "s",
        "duration_s": 1,
        "load_before": 0,
        "load_after": 0,
        "engine": "e",
    }
    text = "\n".join(continuation.section(results))
    assert (
        "## Continuation (issue 12)" in text and "2,000 findings in 10 parts" in text and "every finding once" in text
    )
