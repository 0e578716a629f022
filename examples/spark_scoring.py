#!/usr/bin/env python3
"""Scores a Parquet file of sequences with a Keras model through recur, on Spark.

    python examples/spark_scoring.py MODEL INPUT.parquet OUTPUT.parquet [--master local[*]]

INPUT has an `id` column and a `sequence` column: one array<float> per row, the model input
(time steps x features) flattened in C order. OUTPUT gets `id` and `prediction` (the model's
output for that row, flattened, array<float>). Works on a real cluster unchanged (spark-submit
with --master yarn/k8s/spark://...): the model file is shipped to every executor with
SparkContext.addFile, and each executor's Python worker loads it once (recur.shared_model),
then scores Arrow batches with the GIL released. docs/SCALING.md says how to size it.
"""
import argparse
import os
import sys
from typing import Iterator

import numpy as np
import pandas as pd


def score_partitions(model_name: str, threads: int):
    """The pandas UDF body: an iterator of `sequence` batches in, predictions out."""

    def score(batches: Iterator[pd.Series]) -> Iterator[pd.Series]:
        import recur
        from pyspark import SparkFiles

        model = recur.shared_model(SparkFiles.get(model_name), threads=threads)
        shape = model.inputs[0].shape[1:]
        for seqs in batches:
            if len(seqs) == 0:
                yield pd.Series([], dtype=object)
                continue
            x = np.stack(seqs.to_numpy()).astype(np.float32, copy=False)
            if None in shape:  # open time axis: steps follow from each row's length
                x = x.reshape(len(seqs), -1, *shape[1:])
            else:
                x = x.reshape(len(seqs), *shape)
            y = model.predict(x)
            yield pd.Series(list(y.reshape(len(seqs), -1)))

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
    from pyspark.sql import functions as F
    from pyspark.sql.types import ArrayType, FloatType

    builder = SparkSession.builder.appName("recur-scoring")
    if args.master:
        builder = builder.master(args.master)
    spark = builder.getOrCreate()
    try:
        spark.sparkContext.addFile(os.path.abspath(args.model))
        name = os.path.basename(args.model)
        df = spark.read.parquet(args.input)
        if args.partitions:
            df = df.repartition(args.partitions)
        score = F.pandas_udf(score_partitions(name, args.threads), ArrayType(FloatType()))
        df.select("id", score("sequence").alias("prediction")).write.mode("overwrite").parquet(args.output)
    finally:
        spark.stop()


if __name__ == "__main__":
    main()
