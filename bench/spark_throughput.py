#!/usr/bin/env python3
"""Per-core throughput of examples/spark_scoring.py against single-process recur at 1 thread.

    .venv-test/bin/python bench/spark_throughput.py MODEL [--rows 1000000] [--master local[2]]
        [--mode direct|arrow] [--format array|binary] [--binary-output] [--batch-rows N] [--runs 3]

Writes --rows random sequences of the model's input shape to a Parquet file, starts Spark (timed
apart), scores a small warm-up file (Python workers start, the model loads), then --runs times:
the single-process baseline (recur's predict at 1 thread over the same rows in batches of
--batch-rows, in this process), then the scoring job alone (read Parquet, score, write Parquet).
Prints both in sequences/s per core (wall) and per CPU-second (all of the job's processes: the
JVM, Spark's Python workers, this driver), their ratios, the medians, and the load average;
docs/SCALING.md quotes it. On a machine shared with other work, quote the CPU ratio.
"""
import argparse
import os
import statistics
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


def write_input(path, x, fmt="array", plain=False, row_group=100_000):
    """x (rows, ...) as Parquet (id, sequence): sequence as array<float> (fmt "array"), binary float32
    bytes ("binary"), or fixed-size binary ("fixed": Parquet's FIXED_LEN_BYTE_ARRAY). Written one
    row group at a time, so binary's int32 offsets hold for any file size."""
    rows, per_row = x.shape[0], int(np.prod(x.shape[1:]))
    flat = np.ascontiguousarray(x, "<f4").reshape(rows, per_row)
    extra = {"use_dictionary": False, "compression": "none"} if plain else {}
    writer = None
    for r0 in range(0, rows, row_group):
        chunk = flat[r0:r0 + row_group]
        if fmt == "fixed":
            seqs = pa.FixedSizeBinaryArray.from_buffers(pa.binary(per_row * 4), chunk.shape[0],
                                                        [None, pa.py_buffer(chunk)])
        else:  # the column spark_scoring writes its predictions as
            seqs = spark_scoring._predictions(pa, chunk, fmt == "binary")
        table = pa.table({"id": np.arange(r0, r0 + chunk.shape[0], dtype=np.int64), "sequence": seqs})
        if writer is None:
            writer = pq.ParquetWriter(path, table.schema, **extra)
        writer.write_table(table, row_group_size=row_group)
    writer.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--steps", type=int, default=50, help="for an open time axis")
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--mode", choices=["direct", "arrow"], default="direct", help="spark_scoring's mode")
    ap.add_argument("--format", choices=["array", "binary", "fixed"], default="array",
                    help="the sequence column's type (fixed: fixed-size binary)")
    ap.add_argument("--binary-output", action="store_true")
    ap.add_argument("--plain", action="store_true", help="write the input Parquet uncompressed, without dictionaries")
    ap.add_argument("--row-group", type=int, default=50_000, help="rows per Parquet row group of the input")
    ap.add_argument("--batch-rows", type=int, default=BATCH, help="rows per predict call")
    ap.add_argument("--unit-rows", type=int, default=spark_scoring.UNIT_ROWS, help="direct mode: rows per task (at least)")
    ap.add_argument("--runs", type=int, default=3, help="timed runs (each: the baseline, then the job); medians follow")
    args = ap.parse_args()
    cores = int(args.master[args.master.index("[") + 1:-1]) if "[" in args.master else os.cpu_count()

    m = recur.load_model(args.model)
    shape = [args.steps if d is None else d for d in m.inputs[0].shape[1:]]
    x = np.random.default_rng(0).standard_normal([args.rows, *shape]).astype(np.float32)

    def single_process():
        start, cpu = time.perf_counter(), time.process_time()
        for i in range(0, args.rows, args.batch_rows):
            m.predict(x[i:i + args.batch_rows], threads=1)
        return args.rows / (time.perf_counter() - start), args.rows / (time.process_time() - cpu)

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    from pyspark.sql import SparkSession

    print(f"{Path(args.model).name}: {args.rows} rows {shape}, {args.mode} mode, {args.format} in, "
          f"{'binary' if args.binary_output else 'array'} out, {args.row_group} rows a row group, "
          f"{args.batch_rows} rows a batch, {args.unit_rows} a task (direct){', plain Parquet' if args.plain else ''}; Spark {args.master}; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs", flush=True)
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        write_input(tmp / "in.parquet", x, args.format, args.plain, args.row_group)
        write_input(tmp / "warm.parquet", x[:2 * args.batch_rows], args.format, args.plain,
                    args.batch_rows)
        start = time.perf_counter()
        spark = (SparkSession.builder.master(args.master).appName("recur-bench")
                 .config("spark.ui.showConsoleProgress", "false").getOrCreate())
        session = time.perf_counter() - start
        print(f"session start {session:.1f} s", flush=True)
        try:
            opts = {"binary_output": args.binary_output, "batch_rows": args.batch_rows, "mode": args.mode,
                    "unit_rows": args.unit_rows}
            # both Python workers load the model: two units in direct mode
            spark_scoring.score(spark, args.model, tmp / "warm.parquet", tmp / "warm.out",
                                **dict(opts, unit_rows=args.batch_rows))
            for run in range(args.runs):
                single, single_cpu = single_process()
                load = os.getloadavg()[0]
                start, cpu = time.perf_counter(), cpu_seconds()
                spark_scoring.score(spark, args.model, tmp / "in.parquet", tmp / "out.parquet", **opts)
                job = time.perf_counter() - start
                job_cpu, jvm_cpu = (b - a for a, b in zip(cpu, cpu_seconds()))
                load = max(load, os.getloadavg()[0])
                r = {"job": job, "per_core": args.rows / job / cores, "single": single, "job_cpu": job_cpu,
                     "jvm_cpu": jvm_cpu, "per_cpu_s": args.rows / job_cpu, "single_cpu": single_cpu,
                     "ratio_cpu": args.rows / job_cpu / single_cpu, "load": load}
                r["ratio_wall"] = r["per_core"] / single
                runs.append(r)
                print(f"run {run + 1}: job {job:.1f} s = {args.rows / job:,.0f} sequences/s, {r['per_core']:,.0f} "
                      f"per core; single process, 1 thread: {single:,.0f} sequences/s; per-core ratio "
                      f"{r['ratio_wall']:.2f}. CPU: job {job_cpu:.1f} s (JVM {jvm_cpu:.1f} s) = "
                      f"{r['per_cpu_s']:,.0f} sequences per CPU-second; single process {single_cpu:,.0f}; "
                      f"ratio {r['ratio_cpu']:.2f}; load average up to {load:.1f}", flush=True)
        finally:
            spark.stop()
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    each = ", ".join(f"{r['ratio_cpu']:.2f}" for r in runs)
    print(f"median of {len(runs)}: job {med['job']:.1f} s, CPU {med['job_cpu']:.1f} s (JVM {med['jvm_cpu']:.1f} s), "
          f"{med['per_cpu_s']:,.0f} sequences per CPU-second against {med['single_cpu']:,.0f}: ratio "
          f"{med['ratio_cpu']:.2f} (by CPU; runs {each}); by wall per core "
          f"{med['ratio_wall']:.2f}; session start {session:.1f} s; load average up to {max(r['load'] for r in runs):.1f}")


if __name__ == "__main__":
    main()
