#!/usr/bin/env python3
"""Draws docs/perf-ratios.png from the bench's output (RATIO lines).

usage: tlsengine_bench > run.txt; python3 bench/plot.py run.txt [more runs...] [-o out.png]
Each workload's bar is the median ratio over the given runs, with the runs as dots; the
target is a tick. Rates: tlsengine/raw, higher is better; idle_pair_bytes: lower is better.
Needs matplotlib (Debian: python3-matplotlib).
"""
import statistics
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

TARGETS = {"hs13": 1.0, "hs12": 1.0, "resume13": 1.0, "resume12": 1.0, "bulk16k": 1.05,
           "bulk1k": 2.0, "bulk64": 10.0, "msg1k": 1.0, "msg64": 1.0}


def main(argv):
    out = "docs/perf-ratios.png"
    files = []
    i = 0
    while i < len(argv):
        if argv[i] == "-o":
            out = argv[i + 1]
            i += 2
        else:
            files.append(argv[i])
            i += 1
    runs = {}
    order = []
    for path in files:
        with open(path) as f:
            for line in f:
                parts = line.split()
                if len(parts) == 3 and parts[0] == "RATIO":
                    if parts[1] not in runs:
                        runs[parts[1]] = []
                        order.append(parts[1])
                    runs[parts[1]].append(float(parts[2]))
    if not order:
        sys.exit("plot.py: no RATIO lines in " + ", ".join(files))
    fig, ax = plt.subplots(figsize=(9, 4.5))
    xs = range(len(order))
    medians = [statistics.median(runs[w]) for w in order]
    colors = ["#4c72b0" if w != "idle_pair_bytes" else "#dd8452" for w in order]
    ax.bar(xs, medians, color=colors)
    for x, w in zip(xs, order):
        ax.plot([x] * len(runs[w]), runs[w], "k.", markersize=4)
        if w in TARGETS:
            ax.plot([x - 0.4, x + 0.4], [TARGETS[w]] * 2, "r-", linewidth=2)
        ax.annotate(f"{statistics.median(runs[w]):.2f}", (x, statistics.median(runs[w])),
                    ha="center", va="bottom", fontsize=8)
    ax.axhline(1.0, color="gray", linewidth=0.8, linestyle="--")
    ax.set_yscale("log")
    ax.set_xticks(list(xs))
    ax.set_xticklabels(order, rotation=30, ha="right")
    ax.set_ylabel("tlsengine / raw OpenSSL (log)")
    ax.set_title(f"tlsengine vs raw OpenSSL 3.0 (BIO_s_mem), median of {len(files)} run(s); "
                 "red: target", fontsize=10)
    fig.text(0.01, 0.01, "rates: higher is better; idle_pair_bytes (orange): lower is better",
             fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print("wrote", out)


if __name__ == "__main__":
    main(sys.argv[1:])
