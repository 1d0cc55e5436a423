"""Reference figures for the catalog benchmark: what a pandas user does with the same file.

argv: CSV path, Parquet output path, number of queries, first and last query start (ns).
Prints one JSON line: import_seconds (read_csv with parsed dates + to_parquet) and the median
seconds of one-day filtered reads with pyarrow.parquet.read_table.
"""
import json
import random
import sys
import time

import pandas as pd
import pyarrow.parquet as pq

csv_path, out_path, queries, first, last = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
start = time.perf_counter()
frame = pd.read_csv(csv_path)
frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True, format="ISO8601")
frame.to_parquet(out_path, compression="zstd", row_group_size=64 * 1024, index=False)
import_seconds = time.perf_counter() - start

rng = random.Random(7)
day = 86_400 * 1_000_000_000
times = []
for _ in range(queries):
    lo = pd.Timestamp(rng.randrange(first, max(last, first + 1)), tz="UTC")
    hi = lo + pd.Timedelta(nanoseconds=day - 1)
    t = time.perf_counter()
    table = pq.read_table(out_path, filters=[("timestamp", ">=", lo), ("timestamp", "<=", hi)])
    times.append(time.perf_counter() - t)
times.sort()
print(json.dumps({"import_seconds": import_seconds, "query_seconds_median": times[len(times) // 2], "rows": len(frame)}))
