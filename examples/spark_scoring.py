#!/usr/bin/env python3
"""Scores a Parquet file of sequences with a Keras model through recur, on Spark.

    python examples/spark_scoring.py MODEL INPUT.parquet OUTPUT.parquet [--master local[*]]

INPUT has an `id` column and a `sequence` column: per row, the model input (time steps x
features) flattened in C order, either as array<float> or as binary (the float32 values'
little-endian bytes, which the JVM passes on without touching each value: the faster form).
OUTPUT gets `id` and `prediction` (the model's output for that row, flattened): array<float>,
or binary float32 bytes with --binary-output. Works on a real cluster unchanged (spark-submit
with --master yarn/k8s/spark://...): the model file is shipped to every executor with
SparkContext.addFile, and each executor's Python worker loads it once (recur.shared_model),
then scores whole Arrow batches (mapInArrow: the flat values buffer of the `sequence` column,
no Python object per row) with the GIL released. docs/SCALING.md says how to size it.
"""
import argparse
import os
import sys

import numpy as np


def score_batches(model_name: str, threads: int, binary_output: bool = False):
    """The mapInArrow body: Arrow record batches (id, sequence) in, (id, prediction) out.

    The `sequence` column is read through its flat buffer (no Python object per row) and the
    predictions go back the same way, as one flat float32 buffer with offsets."""

    def score(batches):
        import pyarrow as pa
        import recur
        from pyspark import SparkFiles

        model = recur.shared_model(SparkFiles.get(model_name), threads=threads)
        shape = model.inputs[0].shape[1:]
        for batch in batches:
            rows = batch.num_rows
            if rows == 0:
                yield pa.RecordBatch.from_arrays(
                    [batch.column("id"), _predictions(pa, np.zeros((0, 0), np.float32), binary_output)],
                    ["id", "prediction"])
                continue
            x = _flat_rows(pa, batch.column("sequence"))
            x = x.reshape(rows, -1, *shape[1:]) if None in shape else x.reshape(rows, *shape)
            y = np.ascontiguousarray(model.predict(x), dtype=np.float32).reshape(rows, -1)
            yield pa.RecordBatch.from_arrays([batch.column("id"), _predictions(pa, y, binary_output)],
                                             ["id", "prediction"])

    return score


def _flat_rows(pa, seqs):
    """The rows of a list<float> or binary (float32 bytes) column as one (rows, values) array."""
    rows = len(seqs)
    if seqs.null_count:
        raise ValueError("sequence: null rows cannot be scored")
    binary = pa.types.is_binary(seqs.type) or pa.types.is_large_binary(seqs.type)
    if binary:
        index = np.int64 if pa.types.is_large_binary(seqs.type) else np.int32
        offsets = np.frombuffer(seqs.buffers()[1], index)[seqs.offset:seqs.offset + rows + 1]
    else:
        offsets = seqs.offsets.to_numpy()
    lengths = np.diff(offsets)
    if (lengths != lengths[0]).any():
        raise ValueError("sequence: rows of different lengths in one batch "
                         f"({lengths.min()}..{lengths.max()} {'bytes' if binary else 'values'})")
    if not binary:
        flat = seqs.values.slice(offsets[0], offsets[-1] - offsets[0])
        return flat.to_numpy(zero_copy_only=False).astype(np.float32, copy=False).reshape(rows, -1)
    if lengths[0] % 4:
        raise ValueError(f"sequence: binary rows of {lengths[0]} bytes are not float32 values (4 bytes each)")
    raw = np.frombuffer(seqs.buffers()[2], np.uint8)[offsets[0]:offsets[-1]]
    if raw.ctypes.data % 4:
        raw = raw.copy()
    return raw.view("<f4").astype(np.float32, copy=False).reshape(rows, -1)


def _predictions(pa, y, binary):
    """(rows, values) float32 as a list<float> or binary (little-endian float32 bytes) column."""
    rows, per_row = y.shape
    if binary:
        offsets = np.arange(0, rows * per_row * 4 + 1, per_row * 4, dtype=np.int32)
        data = np.ascontiguousarray(y, dtype="<f4")
        return pa.Array.from_buffers(pa.binary(), rows, [None, pa.py_buffer(offsets), pa.py_buffer(data)])
    return pa.ListArray.from_arrays(pa.array(np.arange(0, rows * per_row + 1, per_row, dtype=np.int32)),
                                    pa.array(y.ravel(), pa.float32()))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", help=".keras or .h5 file (one input, one output)")
    ap.add_argument("input", help="Parquet with columns id, sequence (array<float>)")
    ap.add_argument("output", help="Parquet folder to write (id, prediction)")
    ap.add_argument("--master", default=None, help="Spark master (default: spark-submit's, or local[*])")
    ap.add_argument("--threads", type=int, default=1, help="recur threads per task (default 1: Spark's cores do the parallel work)")
    ap.add_argument("--partitions", type=int, default=None, help="repartition the input (default: as read)")
    ap.add_argument("--binary-output", action="store_true", help="write predictions as float32 bytes (binary)")
    ap.add_argument("--batch-rows", type=int, default=None,
                    help="rows per predict call (spark.sql.execution.arrow.maxRecordsPerBatch; Spark's default 10000)")
    args = ap.parse_args(argv)

    # Executors' Python workers run this interpreter (the one with recur installed) by default.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName("recur-scoring")
    if args.master:
        builder = builder.master(args.master)
    spark = builder.getOrCreate()
    try:
        score(spark, args.model, args.input, args.output, args.threads, args.partitions, args.binary_output,
              args.batch_rows)
    finally:
        spark.stop()


def score(spark, model, input, output, threads=1, partitions=None, binary_output=False, batch_rows=None):
    """Scores Parquet `input` (id, sequence) into Parquet `output` (id, prediction)."""
    if batch_rows:
        spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", str(batch_rows))
    if __name__ != "__main__":  # workers cannot import this file by name: ship it by value
        from pyspark import cloudpickle

        cloudpickle.register_pickle_by_value(sys.modules[__name__])
    spark.sparkContext.addFile(os.path.abspath(model))
    df = spark.read.parquet(str(input))
    if partitions:
        df = df.repartition(partitions)
    kind = "binary" if binary_output else "array<float>"
    schema = f"id {df.schema['id'].dataType.simpleString()}, prediction {kind}"
    out = df.select("id", "sequence").mapInArrow(score_batches(os.path.basename(model), threads, binary_output), schema)
    out.write.mode("overwrite").parquet(str(output))


if __name__ == "__main__":
    main()
