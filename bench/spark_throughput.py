#!/usr/bin/env python3
"""Per-core throughput of examples/spark_scoring.py against single-process recur at 1 thread.

    .venv-test/bin/python bench/spark_throughput.py MODEL [--rows 1000000] [--master local[2]]

Writes --rows random sequences of the model's input shape to a Parquet file, starts Spark (timed
apart), scores a small warm-up file (Python workers start, the model loads), then times the
scoring job alone. The single-process baseline is recur's predict at 1 thread over the same
rows in batches of spark.sql.execution.arrow.maxRecordsPerBatch (10 000). Prints both in
sequences/s per core and their ratio; docs/SCALING.md quotes it.
"""
import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

import recur

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))
import spark_scoring  # noqa: E402

BATCH = 10_000  # Spark's default maxRecordsPerBatch


def write_input(path, x):
    rows, per_row = x.shape[0], int(np.prod(x.shape[1:]))
    offsets = pa.array(np.arange(0, rows * per_row + 1, per_row, dtype=np.int32))
    seqs = pa.ListArray.from_arrays(offsets, pa.array(x.reshape(-1)))
    pq.write_table(pa.table({"id": np.arange(rows, dtype=np.int64), "sequence": seqs}), path,
                   row_group_size=100_000)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--steps", type=int, default=50, help="for an open time axis")
    ap.add_argument("--master", default="local[2]")
    args = ap.parse_args()
    cores = int(args.master[args.master.index("[") + 1:-1]) if "[" in args.master else os.cpu_count()

    m = recur.load_model(args.model)
    shape = [args.steps if d is None else d for d in m.inputs[0].shape[1:]]
    x = np.random.default_rng(0).standard_normal([args.rows, *shape]).astype(np.float32)
    start = time.perf_counter()
    for i in range(0, args.rows, BATCH):
        m.predict(x[i:i + BATCH], threads=1)
    single = args.rows / (time.perf_counter() - start)

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    from pyspark.sql import SparkSession

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        write_input(tmp / "in.parquet", x)
        write_input(tmp / "warm.parquet", x[:2 * BATCH])
        start = time.perf_counter()
        spark = SparkSession.builder.master(args.master).appName("recur-bench").getOrCreate()
        jvm = time.perf_counter() - start
        try:
            spark_scoring.score(spark, args.model, tmp / "warm.parquet", tmp / "warm.out")
            start = time.perf_counter()
            spark_scoring.score(spark, args.model, tmp / "in.parquet", tmp / "out.parquet")
            job = time.perf_counter() - start
        finally:
            spark.stop()
    per_core = args.rows / job / cores
    print(f"{Path(args.model).name}: {args.rows} rows {shape}; Spark {args.master}: session start "
          f"{jvm:.1f} s, job {job:.1f} s = {args.rows / job:,.0f} sequences/s, {per_core:,.0f} per core; "
          f"single process, 1 thread: {single:,.0f} sequences/s; per-core ratio {per_core / single:.2f}")


if __name__ == "__main__":
    main()
