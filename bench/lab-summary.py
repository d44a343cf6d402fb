#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# bench/lab-summary.py LAB.CSV: one markdown row per scenario x regime x brake over all runs of a bench/lab
# result: how many runs, the OOM kills and who killed in each run, each run's key outcome, and
# min/median/max of the figures that vary from run to run (memory recovered without a kill, pressure to
# relief, peak PSI some avg10, supervisor CPU). Prints; asserts nothing.
import csv
import statistics
import sys
from collections import OrderedDict


def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def spread(values, fmt="{:.1f}"):
    xs = sorted(x for x in (num(v) for v in values) if x is not None)
    if not xs:
        return "-"
    if len(xs) == 1:
        return fmt.format(xs[0])
    return "/".join(fmt.format(x) for x in (xs[0], statistics.median(xs), xs[-1]))


def relief(v):
    # "3.5", ">12.0 (still at end)", "no pressure seen"
    if v.startswith(">"):
        return None
    return v


def main():
    rows = list(csv.DictReader(open(sys.argv[1], newline="")))
    cells = OrderedDict()
    for r in rows:
        cells.setdefault((r["scenario"], r["regime"], r["brake"]), []).append(r)
    runs = max((int(r["run"]) for r in rows), default=0)
    print("| scenario | regime | brake | runs | OOM kills per run | killed by | key outcome per run "
          "| recovered w/o kill MiB | pressure→relief s | peak PSI some avg10 | supervisor CPU s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for (scen, regime, brake), rs in cells.items():
        killers = OrderedDict()
        for r in rs:
            killers[r["killed_by"]] = killers.get(r["killed_by"], 0) + 1
        killed = "; ".join(k if n == len(rs) else "%s ×%d" % (k, n) for k, n in killers.items())
        still = sum(1 for r in rs if r["pressure_to_relief_s"].startswith(">"))
        rel = spread([relief(r["pressure_to_relief_s"]) for r in rs])
        if still:
            rel += " (%d of %d still pressured at the end)" % (still, len(rs))
        print("| %s | %s | %s | %d | %s | %s | %s | %s | %s | %s | %s |" % (
            scen, regime, brake, len(rs), ",".join(r["oom_kill_events"] for r in rs), killed,
            " / ".join(r.get("key", "-") or "-" for r in rs),
            spread([r["recovered_mib_no_kill"] for r in rs], "{:.0f}"), rel,
            spread([r["peak_some_avg10"] for r in rs]), spread([r["supervisor_cpu_s"] for r in rs], "{:.2f}")))
    first = rows[0] if rows else {}
    print()
    print("%d run(s) per cell; %s, kernel %s. Spreads are min/median/max over the runs."
          % (runs, first.get("date", "?"), first.get("kernel", "?")))


if __name__ == "__main__":
    main()
