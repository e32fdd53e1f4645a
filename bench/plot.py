"""The results plot: certificates per second and peak RSS against N, one line per contender."""

from __future__ import annotations

from pathlib import Path

from bench.run import Row
from bench.scenarios import SIZE

COLOURS = {
    "ours": "tab:blue",
    "floor": "tab:gray",
    "awscli": "tab:red",
}


def plot(rows: list[Row], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display on a build machine
    import matplotlib.pyplot as plt

    one_ca = [r for r in rows if r.group == SIZE and r.cas == 1 and r.flagged_share == 0.01]
    figure, (speed, memory) = plt.subplots(1, 2, figsize=(11, 4.2))
    for contender in dict.fromkeys(r.contender for r in one_ca):
        points = sorted(
            (r.certificates, r.certificates_per_s, r.peak_rss_mb) for r in one_ca if r.contender == contender
        )
        n = [p[0] for p in points]
        style = {"marker": "o", "color": COLOURS.get(contender), "label": contender}
        speed.plot(n, [p[1] for p in points], **style)
        memory.plot(n, [p[2] for p in points], **style)
    for axis, label in ((speed, "certificates / s (process wall time)"), (memory, "peak RSS (MB)")):
        axis.set_xscale("log")
        axis.set_xlabel("certificates on one CA (N), 1% flagged")
        axis.set_ylabel(label)
        axis.grid(True, which="both", alpha=0.3)
        axis.legend()
    speed.set_ylim(bottom=0)
    memory.set_ylim(bottom=0)
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
