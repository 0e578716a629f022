#!/usr/bin/env python3
"""Per-core throughput of examples/spark_scoring.py against single-process recur at 1 thread.

    .venv-test/bin/python bench/spark_throughput.py MODEL [--rows 1000000] [--master local[2]]
        [--format array|binary] [--binary-output] [--batch-rows N]

Writes --rows random sequences of the model's input shape to a Parquet file, starts Spark (timed
apart), scores a small warm-up file (Python workers start, the model loads), then times the
scoring job alone. The single-process baseline is recur's predict at 1 thread over the same
rows in batches of spark.sql.execution.arrow.maxRecordsPerBatch (--batch-rows). Prints both in
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


def cpu_seconds():
    """CPU seconds of this process and all its descendants (the JVM, Spark's Python workers),
    and of the JVM alone: the job's cost, which other load on the machine inflates much less
    than wall time."""
    tick = os.sysconf("SC_CLK_TCK")
    procs = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    name, fields = f.read().split("(", 1)[1].rsplit(")", 1)
            except OSError:
                continue
            fields = fields.split()  # state ppid ... utime(12) stime(13) cutime(14) cstime(15)
            procs[int(d)] = (int(fields[1]), sum(int(v) for v in fields[11:15]), name)
    mine = {os.getpid()}
    while True:
        more = {pid for pid, (ppid, _, _) in procs.items() if ppid in mine} - mine
        if not more:
            break
        mine |= more
    total = sum(procs[p][1] for p in mine if p in procs)
    jvm = sum(procs[p][1] for p in mine if p in procs and procs[p][2] == "java")
    return total / tick, jvm / tick


def write_input(path, x, binary=False, plain=False):
    rows, per_row = x.shape[0], int(np.prod(x.shape[1:]))
    if binary:  # float32 bytes per row (int32 offsets: under 2 GiB per file)
        offsets = pa.py_buffer(np.arange(0, rows * per_row * 4 + 1, per_row * 4, dtype=np.int32))
        seqs = pa.Array.from_buffers(pa.binary(), rows, [None, offsets, pa.py_buffer(x.astype("<f4").tobytes())])
    else:
        offsets = pa.array(np.arange(0, rows * per_row + 1, per_row, dtype=np.int32))
        seqs = pa.ListArray.from_arrays(offsets, pa.array(x.reshape(-1)))
    extra = {"use_dictionary": False, "compression": "none"} if plain else {}
    pq.write_table(pa.table({"id": np.arange(rows, dtype=np.int64), "sequence": seqs}), path,
                   row_group_size=100_000, **extra)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--steps", type=int, default=50, help="for an open time axis")
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--format", choices=["array", "binary"], default="array", help="the sequence column's type")
    ap.add_argument("--binary-output", action="store_true")
    ap.add_argument("--plain", action="store_true", help="write the input Parquet uncompressed, without dictionaries")
    ap.add_argument("--batch-rows", type=int, default=BATCH, help="maxRecordsPerBatch")
    args = ap.parse_args()
    cores = int(args.master[args.master.index("[") + 1:-1]) if "[" in args.master else os.cpu_count()

    m = recur.load_model(args.model)
    shape = [args.steps if d is None else d for d in m.inputs[0].shape[1:]]
    x = np.random.default_rng(0).standard_normal([args.rows, *shape]).astype(np.float32)
    start, cpu = time.perf_counter(), time.process_time()
    for i in range(0, args.rows, args.batch_rows):
        m.predict(x[i:i + args.batch_rows], threads=1)
    single = args.rows / (time.perf_counter() - start)
    single_cpu = args.rows / (time.process_time() - cpu)

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    from pyspark.sql import SparkSession

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        write_input(tmp / "in.parquet", x, args.format == "binary", args.plain)
        write_input(tmp / "warm.parquet", x[:2 * args.batch_rows], args.format == "binary", args.plain)
        start = time.perf_counter()
        spark = SparkSession.builder.master(args.master).appName("recur-bench").getOrCreate()
        jvm = time.perf_counter() - start
        try:
            opts = {"binary_output": args.binary_output, "batch_rows": args.batch_rows}
            spark_scoring.score(spark, args.model, tmp / "warm.parquet", tmp / "warm.out", **opts)
            start, cpu = time.perf_counter(), cpu_seconds()
            spark_scoring.score(spark, args.model, tmp / "in.parquet", tmp / "out.parquet", **opts)
            job = time.perf_counter() - start
            job_cpu, jvm_cpu = (b - a for a, b in zip(cpu, cpu_seconds()))
        finally:
            spark.stop()
    per_core = args.rows / job / cores
    print(f"{Path(args.model).name}: {args.rows} rows {shape}, {args.format} in, "
          f"{'binary' if args.binary_output else 'array'} out, {args.batch_rows} rows a batch{', plain Parquet' if args.plain else ''}; Spark {args.master}: session start "
          f"{jvm:.1f} s, job {job:.1f} s = {args.rows / job:,.0f} sequences/s, {per_core:,.0f} per core; "
          f"single process, 1 thread: {single:,.0f} sequences/s; per-core ratio {per_core / single:.2f}. "
          f"CPU time: job {job_cpu:.1f} s (JVM {jvm_cpu:.1f} s) = {args.rows / job_cpu:,.0f} sequences per CPU-second; single process "
          f"{single_cpu:,.0f}; ratio {args.rows / job_cpu / single_cpu:.2f}")


if __name__ == "__main__":
    main()
