"""Keras peers for `make bench`: Keras 3.15.1 on TensorFlow (keras_tf) and on OpenVINO (keras_ov:
OpenVINO's default inference precision, bf16 on CPUs with AVX512-BF16; keras_ov_f32: f32 forced),
all running one .keras file per case that Keras itself writes from recur-bench's exported weights.

    .venv-keras/bin/python bench/keras_peers.py DATA --json OUT [--threads 1,2] [--budget S]
        [--peers keras_tf,keras_ov,keras_ov_f32] [--recur build/recur]

Keras picks its backend at `import keras` and TensorFlow fixes its thread pools at its first op,
so each backend (and each TF thread count) runs in its own subprocess of this script. Each times
`model.predict_on_batch(x)` warm, with peers.py's method (calibration, 5 rounds of budget/5, the
OpenVINO variants interleaved within a round), and records max |Δ| against recur's fp32 output.
No Keras peer is refused for disagreeing: a row that misses peers.py's agreement bound is timed
and flagged ("agrees": false), so the table can show bf16 error beside the time.
Keras' OpenVINO backend compiles with no config (threads and precision are OpenVINO's defaults);
to set threads (and f32 for keras_ov_f32) a wrapper on openvino.compile_model adds
INFERENCE_NUM_THREADS (and INFERENCE_PRECISION_HINT=f32) to the compile Keras does itself.
recur reads the same .keras files: its CLI output on each must equal the exported reference.
Streaming shapes (S1a/S1b) are skipped: one predict_on_batch per step would time Keras' per-call
overhead, not its recurrent kernels.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peers import load, timed  # noqa: E402

KERAS_PEERS = ("keras_tf", "keras_ov", "keras_ov_f32")


def cases(data):
    """(dir, meta) of every sequence case recur-bench exported."""
    out = []
    for name in sorted(os.listdir(data)):
        d = os.path.join(data, name)
        meta = json.load(open(os.path.join(d, "meta.json")))
        if not meta["stream"]:
            out.append((d, meta))
    return out


def flops(meta):
    return 2.0 * meta["G"] * meta["H"] * (meta["I"] + meta["H"]) * meta["B"] * meta["T"]


def errors(got, y):
    """max |Δ| and whether peers.py's agreement bound (|Δ| <= 1e-3 (0.01 + |y|)) holds."""
    got = np.asarray(got, np.float32)
    if got.shape != y.shape:
        return float("inf"), False
    d = np.abs(got.astype(np.float64) - y)
    rel = np.max(d / (1e-2 + np.abs(y)))
    return float(np.max(d)), bool(np.isfinite(rel) and rel <= 1e-3)


# ------------------------------------------------------------------ workers (one backend each)
def write_models(data):
    """TF backend: one .keras per case, weights set from the exported Keras-layout arrays."""
    import keras
    for d, meta in cases(data):
        T, I, H, cell = meta["T"], meta["I"], meta["H"], meta["cell"]
        layer = {
            "lstm": lambda: keras.layers.LSTM(H, return_sequences=True),
            "gru": lambda: keras.layers.GRU(H, return_sequences=True, reset_after=True),
            "gru_reset_before": lambda: keras.layers.GRU(H, return_sequences=True,
                                                         reset_after=False),
            "simple_rnn": lambda: keras.layers.SimpleRNN(H, return_sequences=True),
        }[cell]()
        inp = keras.Input(shape=(T, I))
        model = keras.Model(inp, layer(inp))
        layer.set_weights([load(d, "kernel.npy"), load(d, "recurrent_kernel.npy"),
                           load(d, "bias.npy")])
        model.save(os.path.join(d, "model.keras"))
    print(f"  wrote {len(cases(data))} .keras files with Keras {keras.__version__}", flush=True)


def row(engine, meta, th, t, err, agrees, precision):
    return {"engine": engine, "cell": meta["cell"], "shape": meta["shape"], "threads": th,
            "seconds": t[0], "seconds_min": t[1], "seconds_max": t[2],
            "gflops": flops(meta) / t[0] / 1e9, "max_abs": err, "agrees": agrees,
            "precision": precision, "load1": os.getloadavg()[0]}


def report(r):
    flag = "" if r["agrees"] else "  (outside the fp32 agreement bound: timed, flagged)"
    print(f"  {r['engine']:12s} {r['cell']:17s} {r['shape']:4s} {r['threads']}T "
          f"{r['seconds'] * 1e6:10.3f} us  [{r['seconds_min'] * 1e6:.3f} .. "
          f"{r['seconds_max'] * 1e6:.3f}]  {r['gflops']:7.2f} GFLOP/s  max|d| {r['max_abs']:.2g} "
          f"{r['precision']}{flag}", flush=True)


def tf_worker(data, th, budget):
    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(th)
    tf.config.threading.set_inter_op_parallelism_threads(th)
    import keras
    rows = []
    for d, meta in cases(data):
        x, y = load(d, "x.npy"), load(d, "y.npy")
        m = keras.saving.load_model(os.path.join(d, "model.keras"), compile=False)
        err, ok = errors(m.predict_on_batch(x), y)
        t = timed(["keras_tf"], [lambda: m.predict_on_batch(x)], budget)["keras_tf"]
        rows.append(row("keras_tf", meta, th, t, err, ok, "f32"))
        report(rows[-1])
    return rows


def ov_worker(data, threads, budget, variants):
    import keras
    import openvino as ov
    compile_model = ov.compile_model
    extra = {}

    def compile_with(model, device_name="AUTO", config=None):
        return compile_model(model, device_name, {**extra, **(config or {})})
    # Keras' trainer looks ov.compile_model up at each compile: the wrapper reaches only it.
    ov.compile_model = compile_with
    rows = []
    for d, meta in cases(data):
        x, y = load(d, "x.npy"), load(d, "y.npy")
        for th in threads:
            names, calls, info = [], [], {}
            for v in variants:
                extra.clear()
                extra["INFERENCE_NUM_THREADS"] = th
                if v == "keras_ov_f32":
                    extra["INFERENCE_PRECISION_HINT"] = "f32"
                try:
                    m = keras.saving.load_model(os.path.join(d, "model.keras"), compile=False)
                    got = m.predict_on_batch(x)  # compiles, with `extra`, once per model
                    prec = m.ov_compiled_model.get_property("INFERENCE_PRECISION_HINT")
                    prec = prec.get_type_name() if hasattr(prec, "get_type_name") else str(prec)
                except Exception as ex:  # noqa: BLE001
                    print(f"  {v} {meta['cell']} {meta['shape']}: failed ({ex}); skipped",
                          flush=True)
                    continue
                info[v] = errors(got, y) + (prec,)
                names.append(v)
                calls.append(lambda m=m: m.predict_on_batch(x))
            if not calls:
                continue
            res = timed(names, calls, budget)
            for n in names:
                rows.append(row(n, meta, th, res[n], *info[n]))
                report(rows[-1])
    return rows


# ------------------------------------------------------------------ driver
def run_worker(args, env, out_json):
    """Runs this script as a worker; returns its rows ([] with a message if it failed)."""
    cmd = [sys.executable, os.path.abspath(__file__), *args, "--json", out_json]
    r = subprocess.run(cmd, env={**os.environ, **env})
    if r.returncode != 0 or not os.path.exists(out_json):
        print(f"keras_peers.py: worker {' '.join(args[2:5])} failed (exit {r.returncode});"
              " its rows are missing", file=sys.stderr)
        return []
    return json.load(open(out_json))


def check_recur(data, recur):
    """recur's CLI on each .keras file vs the exported reference: rows engine 'recur(.keras)'."""
    rows = []
    if not recur or not os.path.exists(recur):
        print(f"keras_peers.py: no recur CLI at {recur}; .keras files not checked", file=sys.stderr)
        return rows
    for d, meta in cases(data):
        out = os.path.join(d, "recur_keras_out.npy")
        r = subprocess.run([recur, "run", os.path.join(d, "model.keras"), "--input",
                            os.path.join(d, "x.npy"), "--output", out], capture_output=True,
                           text=True)
        if r.returncode != 0:
            print(f"  recur on {meta['cell']}_{meta['shape']}/model.keras failed: "
                  f"{r.stderr.strip()}", flush=True)
            continue
        err, ok = errors(np.load(out), load(d, "y.npy"))
        print(f"  recur(.keras) {meta['cell']:17s} {meta['shape']:4s} max|d| vs recur-bench "
              f"{err:.2g}", flush=True)
        rows.append({"engine": "recur(.keras)", "cell": meta["cell"], "shape": meta["shape"],
                     "threads": 0, "max_abs": err, "agrees": ok})
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("--json", required=True)
    ap.add_argument("--peers", default=",".join(KERAS_PEERS))
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--budget", type=float, default=0.25)
    ap.add_argument("--recur", default="build/recur", help="recur CLI, to check the .keras files")
    ap.add_argument("--worker", choices=["write", "tensorflow", "openvino"])
    a = ap.parse_args()
    threads = [int(t) for t in a.threads.split(",") if t]
    peers = [p for p in a.peers.split(",") if p in KERAS_PEERS]
    if a.worker:
        if a.worker == "write":
            write_models(a.data)
            rows = []
        elif a.worker == "tensorflow":
            rows = tf_worker(a.data, threads[0], a.budget)
        else:
            rows = ov_worker(a.data, threads, a.budget, peers)
        json.dump(rows, open(a.json, "w"), indent=1)
        return
    streams = [n for n in sorted(os.listdir(a.data))
               if json.load(open(os.path.join(a.data, n, "meta.json")))["stream"]]
    if streams:
        print(f"  streaming cases skipped (one predict_on_batch per step): {' '.join(streams)}",
              flush=True)
    if not cases(a.data):
        print("keras_peers.py: no sequence case in the data: nothing to do", file=sys.stderr)
        json.dump([], open(a.json, "w"))
        return
    tmp = tempfile.mkdtemp(prefix="keras_peers_")
    quiet = {"TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    tf_env = {"KERAS_BACKEND": "tensorflow", **quiet}
    budget = ["--budget", str(a.budget)]
    print("  Keras writes the .keras files (TensorFlow backend)", flush=True)
    run_worker([a.data, "--worker", "write"], tf_env, os.path.join(tmp, "write.json"))
    rows = check_recur(a.data, a.recur)
    if "keras_tf" in peers:
        for th in threads:
            rows += run_worker([a.data, "--worker", "tensorflow", "--threads", str(th), *budget],
                               tf_env, os.path.join(tmp, f"tf{th}.json"))
    ov_peers = [p for p in peers if p.startswith("keras_ov")]
    if ov_peers:
        rows += run_worker([a.data, "--worker", "openvino", "--threads", a.threads, *budget,
                            "--peers", ",".join(ov_peers)], {"KERAS_BACKEND": "openvino", **quiet},
                           os.path.join(tmp, "ov.json"))
    json.dump(rows, open(a.json, "w"), indent=1)


if __name__ == "__main__":
    main()
