#!/usr/bin/env python3
"""Scores a Parquet file of sequences with a Keras model through recur, on Spark.

    python examples/spark_scoring.py MODEL INPUT.parquet OUTPUT.parquet [--master local[*]]

INPUT has an `id` column and a `sequence` column: one array<float> per row, the model input
(time steps x features) flattened in C order. OUTPUT gets `id` and `prediction` (the model's
output for that row, flattened, array<float>). Works on a real cluster unchanged (spark-submit
with --master yarn/k8s/spark://...): the model file is shipped to every executor with
SparkContext.addFile, and each executor's Python worker loads it once (recur.shared_model),
then scores whole Arrow batches (mapInArrow: the flat values buffer of the `sequence` column,
no Python object per row) with the GIL released. docs/SCALING.md says how to size it.
"""
import argparse
import os
import sys

import numpy as np


def score_batches(model_name: str, threads: int):
    """The mapInArrow body: Arrow record batches (id, sequence) in, (id, prediction) out.

    The `sequence` list column is read through its flat values buffer (no Python object per
    row) and the predictions go back the same way, as one flat float32 buffer with offsets."""

    def score(batches):
        import pyarrow as pa
        import recur
        from pyspark import SparkFiles

        model = recur.shared_model(SparkFiles.get(model_name), threads=threads)
        shape = model.inputs[0].shape[1:]
        for batch in batches:
            rows = batch.num_rows
            seqs = batch.column("sequence")
            if rows == 0:
                yield pa.RecordBatch.from_arrays(
                    [batch.column("id"), pa.array([], pa.list_(pa.float32()))], ["id", "prediction"])
                continue
            if seqs.null_count:
                raise ValueError("sequence: null rows cannot be scored")
            offsets = seqs.offsets.to_numpy()
            lengths = np.diff(offsets)
            if (lengths != lengths[0]).any():
                raise ValueError("sequence: rows of different lengths in one batch "
                                 f"({lengths.min()}..{lengths.max()} values)")
            flat = seqs.values.slice(offsets[0], offsets[-1] - offsets[0])
            x = flat.to_numpy(zero_copy_only=False).astype(np.float32, copy=False)
            x = x.reshape(rows, -1, *shape[1:]) if None in shape else x.reshape(rows, *shape)
            y = np.ascontiguousarray(model.predict(x), dtype=np.float32).reshape(rows, -1)
            per_row = y.shape[1]
            pred = pa.ListArray.from_arrays(
                pa.array(np.arange(0, rows * per_row + 1, per_row, dtype=np.int32)),
                pa.array(y.ravel()))
            yield pa.RecordBatch.from_arrays([batch.column("id"), pred], ["id", "prediction"])

    return score


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", help=".keras or .h5 file (one input, one output)")
    ap.add_argument("input", help="Parquet with columns id, sequence (array<float>)")
    ap.add_argument("output", help="Parquet folder to write (id, prediction)")
    ap.add_argument("--master", default=None, help="Spark master (default: spark-submit's, or local[*])")
    ap.add_argument("--threads", type=int, default=1, help="recur threads per task (default 1: Spark's cores do the parallel work)")
    ap.add_argument("--partitions", type=int, default=None, help="repartition the input (default: as read)")
    args = ap.parse_args(argv)

    # Executors' Python workers run this interpreter (the one with recur installed) by default.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName("recur-scoring")
    if args.master:
        builder = builder.master(args.master)
    spark = builder.getOrCreate()
    try:
        score(spark, args.model, args.input, args.output, args.threads, args.partitions)
    finally:
        spark.stop()


def score(spark, model, input, output, threads=1, partitions=None):
    """Scores Parquet `input` (id, sequence) into Parquet `output` (id, prediction)."""
    spark.sparkContext.addFile(os.path.abspath(model))
    df = spark.read.parquet(str(input))
    if partitions:
        df = df.repartition(partitions)
    schema = f"id {df.schema['id'].dataType.simpleString()}, prediction array<float>"
    out = df.select("id", "sequence").mapInArrow(score_batches(os.path.basename(model), threads), schema)
    out.write.mode("overwrite").parquet(str(output))


if __name__ == "__main__":
    main()
