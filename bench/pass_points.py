#!/usr/bin/env python3
"""The scheduler's per-pass DEBUG1 lines of one lag cell, as CSV rows for a fit.

    pass_points.py server.log START END LABEL RATE >> passes.csv

START and END are Unix times (the cell's load ran between them); the server logs in UTC
(log_line_prefix '%m ...', scripts/cluster.sh) with log_min_messages = debug1. Each pass
that found at least one key is one row: label, rate, keys queued at its start, the
microseconds it spent reading the queues (its prelude) and in all (bench/fixed_cost.sh
fits total = a + b * keys over them).
"""
import re
import sys
from datetime import datetime, timezone

log, start, end, label, rate = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4], sys.argv[5]
line_re = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+) UTC .*pg_incview scheduler pass: (\d+) stage\(s\) due, "
                     r"(\d+) key\(s\) queued, (\d+) us reading the queues, (\d+) us in all")
with open(log, errors="replace") as f:
    for line in f:
        m = line_re.match(line)
        if not m:
            continue
        t = datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=timezone.utc).timestamp()
        due, keys, prelude, total = (int(m.group(i)) for i in range(2, 6))
        if start <= t <= end and due > 0 and keys > 0:
            print(f"{label},{rate},{keys},{prelude},{total}")
