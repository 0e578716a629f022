#!/usr/bin/env python3
"""Scores a Parquet file of sequences with a Keras model through recur, on Spark.

    python examples/spark_scoring.py MODEL INPUT OUTPUT [--master local[*]] [--mode direct|arrow]

INPUT (a Parquet file or folder) has an `id` column and a `sequence` column: per row, the model
input (time steps x features) flattened in C order, either as array<float> or as binary (the
float32 values' little-endian bytes). OUTPUT (a folder) gets `id` and `prediction` (the model's
output for that row, flattened): array<float>, or binary float32 bytes with --binary-output.

Two modes (docs/SCALING.md compares them):
- direct (the default): Spark only schedules. The driver reads the input files' footers and
  makes work units (a file's consecutive row groups); each task reads its row groups with
  pyarrow, scores them and writes its own part file, and the driver collects part names and row
  counts. Rows never pass through the JVM. Input and output must be on a file system every
  executor reaches under the same name (a local path in local mode; HDFS, S3, GCS... through
  pyarrow.fs on a cluster). Output parts keep the input's order: part-00000, part-00001, ...
- arrow: a mapInArrow step (Spark reads and writes the Parquet, the JVM hands the rows to Python
  as Arrow batches and takes the predictions back): the rows' copies cost the JVM CPU, but
  its function (score_batches) also scores a DataFrame from any other Spark step.

The model file is shipped to every executor with SparkContext.addFile; each executor's Python
worker loads it once (recur.shared_model) and scores whole batches (the flat values buffer of
`sequence`, no Python object per row) with the GIL released.
"""
import argparse
import os
import re
import sys
import uuid

import numpy as np

BATCH = 10_000  # rows per predict call: Spark's default maxRecordsPerBatch


def score_batches(model_name: str, threads: int, binary_output: bool = False):
    """The arrow mode's mapInArrow body: Arrow record batches (id, sequence) in, (id, prediction) out."""

    def score(batches):
        import pyarrow as pa
        import recur
        from pyspark import SparkFiles

        model = recur.shared_model(SparkFiles.get(model_name), threads=threads)
        for batch in batches:
            y = _predict(model, batch.column("sequence"), "sequence")
            yield pa.RecordBatch.from_arrays([batch.column("id"), _predictions(pa, y, binary_output)],
                                             ["id", "prediction"])

    return score


def _predict(model, seqs, where):
    """The model's outputs for a list<float> or binary column, as (rows, values) float32."""
    rows = len(seqs)
    shape = model.inputs[0].shape[1:]
    if rows == 0:
        return np.zeros((0, 0), np.float32)
    x = _flat_rows(seqs, where)
    per_row = x.shape[1]
    if None in shape:
        features = int(np.prod(shape[1:]))
        if per_row == 0 or per_row % features:
            raise ValueError(f"{where}: rows of {per_row} values; the model takes a multiple of "
                             f"{features} (steps x {' x '.join(map(str, shape[1:]))})")
        x = x.reshape(rows, -1, *shape[1:])
    else:
        if per_row != int(np.prod(shape)):
            raise ValueError(f"{where}: rows of {per_row} values; the model takes "
                             f"{' x '.join(map(str, shape))} = {int(np.prod(shape))} per row")
        x = x.reshape(rows, *shape)
    return np.ascontiguousarray(model.predict(x), dtype=np.float32).reshape(rows, -1)


def _flat_rows(seqs, where):
    """The rows of a list<float> or binary (float32 bytes; fixed-size or not) column as one
    (rows, values) array, read from the column's buffers (zero-copy for float32 values)."""
    import pyarrow as pa

    rows = len(seqs)
    if seqs.null_count:
        raise ValueError(f"{where}: null rows cannot be scored")
    t = seqs.type
    if pa.types.is_fixed_size_binary(t):
        width = t.byte_width
        if width % 4:
            raise ValueError(f"{where}: binary rows of {width} bytes are not float32 values (4 bytes each)")
        raw = np.frombuffer(seqs.buffers()[1], np.uint8)[seqs.offset * width:(seqs.offset + rows) * width]
        return _floats(raw).reshape(rows, -1)
    binary = pa.types.is_binary(t) or pa.types.is_large_binary(t)
    if binary:
        index = np.int64 if pa.types.is_large_binary(t) else np.int32
        offsets = np.frombuffer(seqs.buffers()[1], index)[seqs.offset:seqs.offset + rows + 1]
    elif pa.types.is_list(t) or pa.types.is_large_list(t):
        offsets = seqs.offsets.to_numpy()
    else:
        raise ValueError(f"{where}: sequence is {t}; it must be array<float> or binary (float32 bytes)")
    lengths = np.diff(offsets)
    if (lengths != lengths[0]).any():
        raise ValueError(f"{where}: rows of different lengths in one batch "
                         f"({lengths.min()}..{lengths.max()} {'bytes' if binary else 'values'})")
    if not binary:
        flat = seqs.values.slice(offsets[0], offsets[-1] - offsets[0])
        return flat.to_numpy(zero_copy_only=False).astype(np.float32, copy=False).reshape(rows, -1)
    if lengths[0] % 4:
        raise ValueError(f"{where}: binary rows of {lengths[0]} bytes are not float32 values (4 bytes each)")
    return _floats(np.frombuffer(seqs.buffers()[2], np.uint8)[offsets[0]:offsets[-1]]).reshape(rows, -1)


def _floats(raw):
    """Little-endian float32 values from bytes (copied only when misaligned)."""
    if raw.ctypes.data % 4:
        raw = raw.copy()
    return raw.view("<f4").astype(np.float32, copy=False)


def _predictions(pa, y, binary):
    """(rows, values) float32 as a list<float> or binary (little-endian float32 bytes) column."""
    rows, per_row = y.shape
    if binary:
        offsets = np.arange(0, rows * per_row * 4 + 1, per_row * 4, dtype=np.int32)
        data = np.ascontiguousarray(y, dtype="<f4")
        return pa.Array.from_buffers(pa.binary(), rows, [None, pa.py_buffer(offsets), pa.py_buffer(data)])
    return pa.ListArray.from_arrays(pa.array(np.arange(0, rows * per_row + 1, per_row, dtype=np.int32)),
                                    pa.array(y.ravel(), pa.float32()))


# The direct mode: Spark schedules work units, Python reads and writes the Parquet itself.

def filesystem(uri):
    """(pyarrow FileSystem, path in it) for a local path or a URI pyarrow.fs knows (file://, s3://,
    gs://, hdfs://, abfs://; Hadoop's s3a:// is read as s3://)."""
    from pyarrow import fs

    uri = str(uri)
    if "://" not in uri:
        return fs.LocalFileSystem(), os.path.abspath(uri)
    return fs.FileSystem.from_uri(re.sub(r"^s3[an]://", "s3://", uri))


def _output_type(binary):
    import pyarrow as pa

    return pa.binary() if binary else pa.list_(pa.float32())


UNIT_ROWS = 100_000  # the least rows of a direct-mode work unit (a task): a task costs the JVM ~0.1 CPU-s


def plan_units(input, min_rows=UNIT_ROWS):
    """The direct mode's work units: (file, first row group, end row group, rows), a file's
    consecutive row groups until they hold min_rows or more; and the id column's type. Reads only
    the files' footers, and refuses a file without `id` and `sequence` (naming it)."""
    from concurrent.futures import ThreadPoolExecutor

    import pyarrow.parquet as pq
    from pyarrow.fs import FileSelector, FileType

    fs, root = filesystem(input)
    info = fs.get_file_info(root)
    if info.type == FileType.NotFound:
        raise FileNotFoundError(f"{input}: no such file or folder")
    if info.type == FileType.Directory:  # as Spark: names starting with _ or . are not data
        files = sorted(f.path for f in fs.get_file_info(FileSelector(root, recursive=True))
                       if f.type == FileType.File
                       and not any(p.startswith(("_", ".")) for p in os.path.relpath(f.path, root).split("/")))
    else:
        files = [root]
    if not files:
        raise ValueError(f"{input}: no Parquet files")

    def footer(path):
        with fs.open_input_file(path) as f:
            meta = pq.ParquetFile(f).metadata
        schema = meta.schema.to_arrow_schema()
        _check_columns(path, schema)
        return schema.field("id").type, [meta.row_group(g).num_rows for g in range(meta.num_row_groups)]

    with ThreadPoolExecutor(8) as pool:
        footers = list(pool.map(footer, files))
    id_type = footers[0][0]
    units = []
    for path, (t, groups) in zip(files, footers):
        if t != id_type:
            raise ValueError(f"{path}: column 'id' is {t}, {files[0]} has {id_type}")
        start, rows = 0, 0
        for g, n in enumerate(groups):
            rows += n
            if rows >= min_rows or g == len(groups) - 1:
                if rows:
                    units.append((path, start, g + 1, rows))
                start, rows = g + 1, 0
    return units, id_type


def _check_columns(path, schema):
    """Refuses a file without `id` and a `sequence` of a type the scoring reads, naming it."""
    import pyarrow as pa

    for name in ("id", "sequence"):
        if schema.get_field_index(name) < 0:
            raise ValueError(f"{path}: no column '{name}' (columns: {', '.join(schema.names)})")
    t = schema.field("sequence").type
    if not (pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t)
            or ((pa.types.is_list(t) or pa.types.is_large_list(t)) and pa.types.is_floating(t.value_type))):
        raise ValueError(f"{path}: column 'sequence' is {t}; it must be array<float> or binary (float32 bytes)")


def score_unit(model, fs, unit, part, binary_output=False, batch_rows=BATCH):
    """Scores one unit's row groups into the Parquet file `part` (written under a temporary name,
    then moved: a retried or speculative task cannot leave half a file). Returns the rows written."""
    from pyarrow.fs import FileType

    path, first, end, _ = unit
    tmp = f"{os.path.dirname(part)}/_temporary/{os.path.basename(part)}.{uuid.uuid4().hex}"
    try:
        rows = _score_row_groups(model, fs, path, range(first, end), tmp, binary_output, batch_rows)
    except BaseException:
        if fs.get_file_info(tmp).type != FileType.NotFound:
            fs.delete_file(tmp)
        raise
    fs.move(tmp, part)
    return rows


def _score_row_groups(model, fs, path, groups, out_path, binary_output, batch_rows):
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = 0
    with fs.open_input_file(path) as f:
        pf = pq.ParquetFile(f)
        _check_columns(path, pf.schema_arrow)
        schema = pa.schema([("id", pf.schema_arrow.field("id").type), ("prediction", _output_type(binary_output))])
        with pq.ParquetWriter(out_path, schema, filesystem=fs) as out:
            for g in groups:
                # use_threads=False: the task's core is its slot; Spark's other slots use the rest
                for batch in pf.iter_batches(batch_size=batch_rows, row_groups=[g], columns=["id", "sequence"],
                                             use_threads=False):
                    y = _predict(model, batch.column("sequence"), f"{path}, row group {g}")
                    out.write_batch(pa.RecordBatch.from_arrays(
                        [batch.column("id"), _predictions(pa, y, binary_output)], schema=schema))
                    rows += batch.num_rows
    return rows


def score_units(model_name, units, output, threads, binary_output, batch_rows):
    """The direct mode's task body (a mapInArrow over unit numbers): scores each unit into
    OUTPUT/part-NNNNN.parquet and yields (part, rows)."""

    def run(batches):
        import pyarrow as pa
        import recur
        from pyspark import SparkFiles

        model = recur.shared_model(SparkFiles.get(model_name), threads=threads)
        fs, root = filesystem(output)
        for batch in batches:
            for i in batch.column(0).to_pylist():
                part = f"{root}/part-{i:05d}.parquet"
                rows = score_unit(model, fs, units[i], part, binary_output, batch_rows)
                yield pa.RecordBatch.from_pydict({"part": [os.path.basename(part)], "rows": [rows]})

    return run


def score_direct(spark, model, input, output, threads=1, binary_output=False, batch_rows=None, units=None,
                 unit_rows=UNIT_ROWS):
    """The direct mode: Parquet `input` (id, sequence) into the Parquet folder `output` (id,
    prediction), replacing it. units: plan_units(input) if already made. Returns [(part, rows)]."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    batch_rows = batch_rows or BATCH
    units, id_type = units or plan_units(input, unit_rows)
    fs, root = filesystem(output)
    if any(u[0] == root or u[0].startswith(root.rstrip("/") + "/") for u in units) \
            and fs.type_name == filesystem(input)[0].type_name:
        raise ValueError(f"{output}: holds input files; the output folder is replaced, give another")
    fs.delete_dir_contents(root, missing_dir_ok=True)
    fs.create_dir(f"{root}/_temporary")
    _ship(spark, model)
    job = spark.range(0, len(units), 1, max(len(units), 1)).mapInArrow(
        score_units(os.path.basename(model), units, str(output), threads, binary_output, batch_rows),
        "part string, rows long")
    parts = sorted((r.part, r.rows) for r in job.collect())
    if sum(n for _, n in parts) != sum(u[3] for u in units) or len(parts) != len(units):
        raise RuntimeError(f"{output}: {len(parts)} parts of {sum(n for _, n in parts)} rows written, "
                           f"expected {len(units)} of {sum(u[3] for u in units)}")
    if not units:  # an empty input still gives a readable (empty) output
        schema = pa.schema([("id", id_type), ("prediction", _output_type(binary_output))])
        pq.write_table(schema.empty_table(), f"{root}/part-00000.parquet", filesystem=fs)
    fs.delete_dir(f"{root}/_temporary")
    with fs.open_output_stream(f"{root}/_SUCCESS"):
        pass
    return parts


def _ship(spark, model):
    if __name__ != "__main__":  # workers cannot import this file by name: ship it by value
        from pyspark import cloudpickle

        cloudpickle.register_pickle_by_value(sys.modules[__name__])
    spark.sparkContext.addFile(model if "://" in str(model) else os.path.abspath(model))


def score_arrow(spark, model, input, output, threads=1, partitions=None, binary_output=False, batch_rows=None):
    """The arrow mode: Parquet `input` (id, sequence) into Parquet `output` (id, prediction)."""
    if batch_rows:
        spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", str(batch_rows))
    _ship(spark, model)
    df = spark.read.parquet(str(input))
    if partitions:
        df = df.repartition(partitions)
    kind = "binary" if binary_output else "array<float>"
    schema = f"id {df.schema['id'].dataType.simpleString()}, prediction {kind}"
    out = df.select("id", "sequence").mapInArrow(score_batches(os.path.basename(model), threads, binary_output), schema)
    out.write.mode("overwrite").parquet(str(output))


def score(spark, model, input, output, threads=1, partitions=None, binary_output=False, batch_rows=None,
          mode="direct", unit_rows=UNIT_ROWS):
    """Scores Parquet `input` (id, sequence) into the Parquet folder `output` (id, prediction)."""
    if mode == "direct":
        return score_direct(spark, model, input, output, threads, binary_output, batch_rows, unit_rows=unit_rows)
    if mode != "arrow":
        raise ValueError(f"mode must be 'direct' or 'arrow', got {mode!r}")
    return score_arrow(spark, model, input, output, threads, partitions, binary_output, batch_rows)


def _task_error(e):
    """The Python error line inside a failed Spark job's message (the rest is stack traces)."""
    found = re.findall(r"^\s*(?:\w+\.)*(\w*(?:Error|Exception)): (.+)$", str(e), re.M)
    return ": ".join(found[-1]) if found else None


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", help=".keras or .h5 file (one input, one output)")
    ap.add_argument("input", help="Parquet file or folder with columns id, sequence (array<float> or binary)")
    ap.add_argument("output", help="Parquet folder to write (id, prediction); replaced")
    ap.add_argument("--master", default=None, help="Spark master (default: spark-submit's, or local[*])")
    ap.add_argument("--mode", choices=["direct", "arrow"], default="direct",
                    help="direct: tasks read and write Parquet themselves (default); arrow: through Spark's mapInArrow")
    ap.add_argument("--threads", type=int, default=1, help="recur threads per task (default 1: Spark's cores do the parallel work)")
    ap.add_argument("--partitions", type=int, default=None, help="arrow mode: repartition the input (default: as read)")
    ap.add_argument("--binary-output", action="store_true", help="write predictions as float32 bytes (binary)")
    ap.add_argument("--batch-rows", type=int, default=None,
                    help=f"rows per predict call (default {BATCH}; arrow mode: spark.sql.execution.arrow.maxRecordsPerBatch)")
    ap.add_argument("--unit-rows", type=int, default=UNIT_ROWS,
                    help=f"direct mode: a task's least rows (a file's consecutive row groups; default {UNIT_ROWS})")
    args = ap.parse_args(argv)

    units = None
    if args.mode == "direct":  # input errors before the JVM starts
        try:
            units = plan_units(args.input, args.unit_rows)
        except (OSError, ValueError) as e:
            sys.exit(f"spark_scoring: {e}")

    # Executors' Python workers run this interpreter (the one with recur installed) by default.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName("recur-scoring")
    if args.master:
        builder = builder.master(args.master)
    spark = builder.getOrCreate()
    try:
        if units is not None:
            score_direct(spark, args.model, args.input, args.output, args.threads, args.binary_output,
                         args.batch_rows, units)
        else:
            score_arrow(spark, args.model, args.input, args.output, args.threads, args.partitions,
                        args.binary_output, args.batch_rows)
    except (OSError, ValueError) as e:  # the driver's own checks
        sys.exit(f"spark_scoring: {e}")
    except Exception as e:  # a task's, inside Spark's report
        line = _task_error(e)
        if line is None:
            raise
        sys.exit(f"spark_scoring: {line}")
    finally:
        spark.stop()


if __name__ == "__main__":
    main()
