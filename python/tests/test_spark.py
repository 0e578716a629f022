"""examples/spark_scoring.py on 100 000 short sequences (PySpark local mode) gives exactly what
single-process recur gives (recur's results do not depend on how rows are batched), in both
modes (direct: tasks read and write Parquet with pyarrow; arrow: Spark's mapInArrow), with the
sequences as array<float> or as binary float32 bytes. Input errors name the file and row group."""
import importlib.util
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import recur
from conftest import DEMO, REPO

sys.path.insert(0, str(REPO / "examples"))
import spark_scoring  # noqa: E402

ROWS = int(os.environ.get("RECUR_SPARK_ROWS", 100_000))  # docs/SCALING.md times 1 000 000
spark_needs = pytest.mark.skipif(shutil.which("java") is None or importlib.util.find_spec("pyspark") is None,
                                 reason="Spark needs Java (apt-get install default-jre-headless) and pyspark")


def sequences(rows, seed=2026):
    rng = np.random.default_rng(seed)
    phase = rng.uniform(0, 2 * np.pi, rows)[:, None]
    return (np.sin(phase + 2 * np.pi * np.arange(24)[None, :] / 25) + rng.normal(0, 0.1, (rows, 24))).astype(np.float32)


def column(x, kind):
    """x (rows, values) as a sequence column: list<float>, binary or fixed-size binary float32 bytes."""
    rows, per_row = x.shape
    data = pa.py_buffer(np.ascontiguousarray(x, "<f4"))
    if kind == "binary":  # each row: its float32 values' little-endian bytes
        offsets = pa.py_buffer(np.arange(0, rows * per_row * 4 + 1, per_row * 4, dtype=np.int32))
        return pa.Array.from_buffers(pa.binary(), rows, [None, offsets, data])
    if kind == "fixed":
        return pa.FixedSizeBinaryArray.from_buffers(pa.binary(per_row * 4), rows, [None, data])
    return pa.ListArray.from_arrays(pa.array(np.arange(0, rows * per_row + 1, per_row, dtype=np.int32)),
                                    pa.array(x.ravel()))


def write(path, x, kind, first_id=0, **kw):
    ids = np.arange(first_id, first_id + len(x), dtype=np.int64)
    pq.write_table(pa.table({"id": ids, "sequence": column(x, kind)}), path, **kw)


def predictions(table, binary):
    if binary:
        assert all(len(b) == 4 for b in table["prediction"].to_pylist())
        return np.frombuffer(b"".join(table["prediction"].to_pylist()), "<f4").reshape(len(table), 1)
    return np.stack(table["prediction"].to_numpy(zero_copy_only=False)).astype(np.float32)


def run_cli(*args):
    env = dict(os.environ, PYSPARK_PYTHON=sys.executable, SPARK_LOCAL_IP="127.0.0.1")
    return subprocess.run([sys.executable, REPO / "examples" / "spark_scoring.py", DEMO / "model.keras", *map(str, args),
                           "--master", "local[2]"], capture_output=True, text=True, env=env, timeout=600)


@spark_needs
@pytest.mark.parametrize("mode,binary", [("direct", False), ("direct", True), ("arrow", False), ("arrow", True)],
                         ids=["direct-array", "direct-binary", "arrow-array", "arrow-binary"])
def test_spark_scoring_matches_single_process(tmp_path, mode, binary):
    rows = ROWS if not binary else ROWS // 5 + 7  # the binary runs: fewer rows, an odd last batch
    x = sequences(rows)
    kind = "binary" if binary else "array"
    extra = ["--binary-output", "--batch-rows", "3000"] if binary else []
    if mode == "direct":
        # a folder of two files in odd row groups (several tasks; a unit is a file's row groups
        # up to --unit-rows) and a file Spark would skip; the parts keep the input's order
        (tmp_path / "in").mkdir()
        half = rows // 2 + 1
        write(tmp_path / "in" / "a.parquet", x[:half], kind, row_group_size=7_777)
        write(tmp_path / "in" / "b.parquet", x[half:], kind, first_id=half, row_group_size=3_001)
        (tmp_path / "in" / "_SUCCESS").write_bytes(b"")
        extra += ["--unit-rows", str(rows // 6)]
    else:
        write(tmp_path / "in", x, kind)
    start = time.perf_counter()
    r = run_cli(tmp_path / "in", tmp_path / "out", "--mode", mode, *extra)
    elapsed = time.perf_counter() - start
    assert r.returncode == 0, r.stderr[-3000:]

    out = pq.read_table(tmp_path / "out")
    if mode == "direct":
        parts = sorted(p.name for p in (tmp_path / "out").iterdir())
        assert parts[0] == "_SUCCESS" and len(parts) > 4, parts
    else:
        out = out.sort_by("id")
    assert out["id"].to_pylist() == list(range(rows))
    want = recur.load_model(DEMO / "model.keras").predict(x.reshape(rows, 24, 1))
    np.testing.assert_array_equal(predictions(out, binary), want)
    print(f"spark local[2], {mode}: {rows} sequences scored in {elapsed:.1f} s (whole job, JVM start included)")


@spark_needs
def test_spark_direct_wrong_length_names_file_and_row_group(tmp_path):
    write(tmp_path / "in.parquet", sequences(3_000)[:, :23], "array", row_group_size=1_000)
    r = run_cli(tmp_path / "in.parquet", tmp_path / "out", "--unit-rows", "1000")
    assert r.returncode != 0
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("spark_scoring: ValueError: ") and "in.parquet, row group" in last, last
    assert "rows of 23 values; the model takes 24 x 1 = 24 per row" in last, last


def test_direct_missing_column_refused_before_spark_starts(tmp_path):
    pq.write_table(pa.table({"id": np.arange(5), "seq": column(sequences(5), "array")}), tmp_path / "in.parquet")
    start = time.perf_counter()
    r = run_cli(tmp_path / "in.parquet", tmp_path / "out")
    assert r.returncode == 1
    assert r.stderr.strip() == f"spark_scoring: {tmp_path / 'in.parquet'}: no column 'sequence' (columns: id, seq)"
    assert time.perf_counter() - start < 60  # no JVM was started
    with pytest.raises(FileNotFoundError, match="no such file"):
        spark_scoring.plan_units(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no Parquet files"):
        spark_scoring.plan_units(tmp_path / "empty")
    pq.write_table(pa.table({"id": np.arange(3), "sequence": pa.array([[1], [2], [3]], pa.list_(pa.int32()))}),
                   tmp_path / "ints.parquet")
    with pytest.raises(ValueError, match="ints.parquet: column 'sequence' is list<element: int32>; it must be array<float> or binary"):
        spark_scoring.plan_units(tmp_path / "ints.parquet")


@pytest.mark.parametrize("kind", ["array", "binary", "fixed"])
def test_direct_unit_reads_each_form_exactly(tmp_path, kind):
    """A direct-mode task's work without Spark: units of odd row groups, batches of 7, the
    output equal to predict's."""
    rows = 1_000
    x = sequences(rows, seed=7)
    write(tmp_path / "in.parquet", x, kind, row_group_size=33)
    units, id_type = spark_scoring.plan_units(tmp_path / "in.parquet", min_rows=100)
    assert id_type == pa.int64() and [u[3] for u in units] == [33 * 4] * 7 + [1000 - 33 * 28]
    fs, root = spark_scoring.filesystem(tmp_path / "out")
    fs.create_dir(f"{root}/_temporary")
    model = recur.load_model(DEMO / "model.keras")
    for i, unit in enumerate(units):
        part = f"{root}/part-{i:05d}.parquet"
        assert spark_scoring.score_unit(model, fs, unit, part, binary_output=True, batch_rows=7) == unit[3]
    assert not os.listdir(f"{root}/_temporary")
    out = pq.read_table(root)
    assert out["id"].to_pylist() == list(range(rows))
    np.testing.assert_array_equal(predictions(out, True), model.predict(x.reshape(rows, 24, 1)))


def test_direct_unit_errors_name_file_and_row_group(tmp_path):
    model = recur.load_model(DEMO / "model.keras")
    fs, root = spark_scoring.filesystem(tmp_path / "out")
    fs.create_dir(f"{root}/_temporary")
    x = sequences(20)
    cases = {
        "short": (column(x[:, :23], "array"), r"short.parquet, row group 1: rows of 23 values; the model takes 24 x 1"),
        "ragged": (pa.array([list(map(float, r[:24 - (i % 2)])) for i, r in enumerate(x)], pa.list_(pa.float32())),
                   r"ragged.parquet, row group 0: rows of different lengths in one batch \(23..24 values\)"),
        "bytes": (pa.array([r.tobytes()[:-2] for r in x], pa.binary()),
                  r"bytes.parquet, row group 0: binary rows of 94 bytes are not float32 values"),
        "nulls": (pa.array([None] + [list(map(float, r)) for r in x[1:]], pa.list_(pa.float32())),
                  r"nulls.parquet, row group 0: null rows cannot be scored"),
    }
    for name, (seqs, message) in cases.items():
        path = tmp_path / f"{name}.parquet"
        pq.write_table(pa.table({"id": np.arange(20), "sequence": seqs}), path, row_group_size=10)
        units, _ = spark_scoring.plan_units(path, min_rows=1)
        unit = units[-1] if name == "short" else units[0]
        with pytest.raises(ValueError, match=message):
            spark_scoring.score_unit(model, fs, unit, f"{root}/part.parquet", batch_rows=100)
    assert not os.path.exists(f"{root}/part.parquet") and not os.listdir(f"{root}/_temporary")


def test_direct_refuses_output_over_input(tmp_path):
    write(tmp_path / "in.parquet", sequences(10), "array")
    plan = spark_scoring.plan_units(tmp_path)
    with pytest.raises(ValueError, match="holds input files"):
        spark_scoring.score_direct(None, DEMO / "model.keras", tmp_path, tmp_path, units=plan)
    assert (tmp_path / "in.parquet").exists()
