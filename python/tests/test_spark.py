"""examples/spark_scoring.py on 100 000 short sequences (PySpark local mode) gives exactly what
single-process recur gives (recur's results do not depend on how rows are batched), with the
sequences as array<float> or as binary float32 bytes."""
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

ROWS = int(os.environ.get("RECUR_SPARK_ROWS", 100_000))  # docs/SCALING.md times 1 000 000


@pytest.mark.skipif(shutil.which("java") is None, reason="Spark needs Java (apt-get install default-jre-headless)")
@pytest.mark.parametrize("binary", [False, True], ids=["array", "binary"])
def test_spark_scoring_matches_single_process(tmp_path, binary):
    rows = ROWS if not binary else ROWS // 5 + 7  # the binary run: fewer rows, an odd last batch
    rng = np.random.default_rng(2026)
    phase = rng.uniform(0, 2 * np.pi, rows)[:, None]
    x = (np.sin(phase + 2 * np.pi * np.arange(24)[None, :] / 25) + rng.normal(0, 0.1, (rows, 24))).astype(np.float32)
    ids = np.arange(rows, dtype=np.int64)
    if binary:  # each row: its 24 float32 values' little-endian bytes
        offsets = pa.py_buffer(np.arange(0, rows * 96 + 1, 96, dtype=np.int32))
        seqs = pa.Array.from_buffers(pa.binary(), rows, [None, offsets, pa.py_buffer(x.astype("<f4").tobytes())])
    else:
        seqs = pa.ListArray.from_arrays(pa.array(np.arange(0, rows * 24 + 1, 24, dtype=np.int32)), pa.array(x.ravel()))
    pq.write_table(pa.table({"id": ids, "sequence": seqs}), tmp_path / "in.parquet")

    env = dict(os.environ, PYSPARK_PYTHON=sys.executable, SPARK_LOCAL_IP="127.0.0.1")
    start = time.perf_counter()
    extra = ["--binary-output", "--batch-rows", "3000"] if binary else []
    r = subprocess.run([sys.executable, REPO / "examples" / "spark_scoring.py", DEMO / "model.keras",
                        tmp_path / "in.parquet", tmp_path / "out.parquet", "--master", "local[2]", *extra],
                       capture_output=True, text=True, env=env, timeout=600)
    elapsed = time.perf_counter() - start
    assert r.returncode == 0, r.stderr[-3000:]

    out = pq.read_table(tmp_path / "out.parquet").to_pandas().sort_values("id")
    assert out["id"].to_numpy().tolist() == ids.tolist()
    if binary:
        assert all(len(b) == 4 for b in out["prediction"])
        got = np.frombuffer(b"".join(out["prediction"]), "<f4").reshape(rows, 1)
    else:
        got = np.stack(out["prediction"].to_numpy()).astype(np.float32)
    want = recur.load_model(DEMO / "model.keras").predict(x.reshape(rows, 24, 1))
    np.testing.assert_array_equal(got, want)
    print(f"spark local[2]: {rows} sequences scored in {elapsed:.1f} s (whole job, JVM start included)")
