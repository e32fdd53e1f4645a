"""The formats group measures the function's own OCSF archive code and checks what it wrote: a
document a line, one per finding; RESULTS.md's section states the figures it measured."""

from __future__ import annotations

import gzip

from bench import formats as formats_group

META = {"command": "python -m bench --only formats", "started": "now", "duration_s": 6, "load_before": 1.0}


def test_the_group_archives_every_finding_as_a_document_and_says_what_it_cost():
    # When the group runs at a small size (each step in a process of its own)
    figures = formats_group.run_group(1500, log=lambda line: None)

    # Then the OCSF file holds a document per finding, no run error, and its cost was measured
    ocsf = figures["ocsf"]
    assert ocsf["correct"] and ocsf["documents"] == ocsf["findings"] == 1500 and ocsf["errors"] == []
    assert ocsf["gz_bytes"] > 0 and ocsf["text_bytes"] > 10 * ocsf["gz_bytes"] / 2
    assert ocsf["cpu_s"] > 0 and ocsf["peak_rss_mb"] >= ocsf["rss_before_mb"] > 0
    assert figures["json"]["findings"] == 1500 and figures["json"]["gz_bytes"] > 0
    # and the section of RESULTS.md states those figures
    text = "\n".join(formats_group.section(figures | {"meta": {**META, "load_after": 2.0, "versions": "v"}}))
    assert "## The OCSF archive at scale (issue 11)" in text
    assert f"| {ocsf['gz_bytes'] / 1500:.0f} | " in text and "| yes |" in text
    assert f"costs {ocsf['cpu_s']:.1f} s of CPU at 1,500 findings" in text


def test_a_wrong_count_is_not_correct(tmp_path):
    # Given an OCSF file with one document fewer than the findings
    path = tmp_path / "x.ocsf.json.gz"
    path.write_bytes(gzip.compress(b'[\n{"a":1},\n{"a":2}\n]\n'))

    # Then reading it back counts its documents, which the group compares with the findings
    assert formats_group.read_back(str(path))[0] == 2
