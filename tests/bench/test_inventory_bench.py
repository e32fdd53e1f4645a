"""The inventory group's harness (bench/inventory.py), small: its figures add up, no timing judged."""

from __future__ import annotations

from bench import inventory as group
from bench.dynamodb import read_units


def test_the_cache_figures_add_up():
    # Given a cache of 5,000 entries, When the group sizes and loads it
    figures = group.cache(5_000)
    # Then every entry was loaded, in pages of at most 1 MB, billed as DynamoDB bills an eventually
    # consistent Scan (half a unit per 4 KB a page)
    assert figures["cachedEntries"] == figures["entries"] == 5_000
    total = figures["itemBytes"] * figures["entries"]
    assert figures["scanPages"] == -(-int(total) // group.PAGE_BYTES)
    # each page rounded up to whole 4 KB: at least the table's bytes' worth, at most one unit more a page
    assert read_units(int(total)) <= figures["readUnitsPerRun"] <= read_units(int(total)) + figures["scanPages"]
    assert 200 < figures["itemBytes"] < 400


def test_the_describes_stay_within_the_rate_they_ask_for():
    # Given the stand-in under the quota, When the engine describes for 2 s at 5 a second
    figures = group.throughput(5, 2.0)
    # Then it made no more than the rate allows (the limiter's first call is at once), and none failed
    assert 1 <= figures["described"] <= 5 * 2 + 1
    assert figures["failed"] == 0
