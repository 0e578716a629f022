#!/usr/bin/env python3
"""Batch scoring of real models (`make bench-models`): sequences/s of recur (CLI `recur bench`)
at 1 and 2 threads against Keras 3 on TensorFlow (both cores, `predict(batch_size=1024)`) on the
same rows, and batch-1 latency p50 of each; one markdown table.

    .venv-keras/bin/python bench/models_throughput.py [--rows 20000] [--recur build/recur]
        [--corpus ../shared/models/real] [--rounds 3] [--markdown build/bench/models.md]

Rows: each case's own inputs (x0.npy, ...; examples/demo/input.npy) tiled to --rows, so index
inputs stay valid. Throughput: the best of --rounds one-call runs over all rows, recur 1T,
recur 2T and Keras interleaved within each round (recur: `recur bench --input ... --iterations 1
--warmup 1`, one process per run, load and one untimed call excluded, so that neither engine pays
first-touch page faults of its activations; Keras: one warm model in this process). Batch-1
latency: p50 over ~--latency-time seconds of single-row calls (recur 1 thread; Keras
`predict_on_batch`, both cores). Each row carries the 1-minute load average while it ran.
A legacy .h5 file that Keras 3 refuses (13_charlm-bilstm64: Keras 2's `time_major`) runs on
tf_keras (Keras 2.21, same TensorFlow), named in its row.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

import numpy as np

MODELS = ["examples/demo", "{corpus}/11_ann-lstm_model", "{corpus}/10_ann-gru_model",
          "{corpus}/19_server-bilstm", "{corpus}/13_charlm-bilstm64"]


def case_files(d):
    """(model path, [input .npy paths]) of a corpus case or examples/demo."""
    if os.path.exists(os.path.join(d, "case.json")):
        c = json.load(open(os.path.join(d, "case.json")))
        return os.path.join(d, c["model"]), [os.path.join(d, f) for f in c["inputs"]]
    return os.path.join(d, "model.keras"), [os.path.join(d, "input.npy")]


def tiled(x, rows):
    reps = -(-rows // x.shape[0])
    return np.concatenate([x] * reps)[:rows].astype(x.dtype)


def recur_bench(recur, model, files, threads, extra):
    cmd = [recur, "bench", model, "--threads", str(threads), *extra]
    for f in files:
        cmd += ["--input", f]
    r = subprocess.run(cmd, capture_output=True, text=True)
    m = re.search(r"latency ms: p50 ([\d.]+) .* min ([\d.]+)", r.stdout)
    if r.returncode != 0 or not m:
        raise RuntimeError((r.stderr or r.stdout).strip().splitlines()[-1:])
    return float(m.group(1)) / 1e3, float(m.group(2)) / 1e3


def keras_latency(km, x1, seconds):
    for _ in range(3):
        km.predict_on_batch(x1)
    lat, end = [], time.perf_counter() + seconds
    while time.perf_counter() < end or len(lat) < 5:
        t0 = time.perf_counter()
        km.predict_on_batch(x1)
        lat.append(time.perf_counter() - t0)
    return float(np.median(lat))


def load_keras(keras, model):
    """Keras 3's model, else Keras 2's (tf_keras: legacy .h5 files Keras 3 refuses), or None."""
    if keras is None:
        return None
    try:
        km = keras.saving.load_model(model, compile=False)
        km.keras_name = f"Keras {keras.__version__}"
        return km
    except Exception as ex:  # noqa: BLE001
        why = ex
    try:
        import tf_keras
        km = tf_keras.models.load_model(model, compile=False)
        km._name = re.sub(r"[^A-Za-z0-9_.]", "_", km.name)  # TF refuses '>' in op names
        km.keras_name = f"tf_keras {tf_keras.__version__}"
        print(f"  Keras 3 refuses {model} ({why}); tf_keras loads it", flush=True)
        return km
    except Exception as ex:  # noqa: BLE001
        print(f"  Keras on {model}: failed ({why}; tf_keras: {ex}); Keras columns empty",
              flush=True)
    return None


def one_model(d, a, tmp, keras):
    model, inputs = case_files(d)
    xs = [np.load(f) for f in inputs]
    big = [tiled(x, a.rows) for x in xs]
    one = [x[:1] for x in xs]
    big_f, one_f = [], []
    for i, (b, o) in enumerate(zip(big, one)):
        big_f.append(os.path.join(tmp, f"rows{i}.npy"))
        one_f.append(os.path.join(tmp, f"one{i}.npy"))
        np.save(big_f[-1], b)
        np.save(one_f[-1], o)
    res = {"model": os.path.relpath(model), "rows": a.rows, "load": []}
    km, kx = load_keras(keras, model), (big if len(big) > 1 else big[0])
    if km is not None:
        res["keras"] = km.keras_name
        try:
            km.predict(kx, batch_size=a.batch, verbose=0)  # traces the full and the last batch
        except Exception as ex:  # noqa: BLE001
            print(f"  {km.keras_name} on {model}: predict failed ({ex}); Keras columns empty",
                  flush=True)
            km = None
    best = {}
    for _ in range(a.rounds):
        for th in a.threads:
            try:
                t = recur_bench(a.recur, model, big_f, th, ["--iterations", "1", "--warmup", "1"])
                best[f"recur{th}"] = min(best.get(f"recur{th}", 1e30), t[1])
            except Exception as ex:  # noqa: BLE001
                print(f"  recur {th}T on {model}: failed ({ex})", flush=True)
        if km is not None:
            t0 = time.perf_counter()
            km.predict(kx, batch_size=a.batch, verbose=0)
            best["keras"] = min(best.get("keras", 1e30), time.perf_counter() - t0)
        res["load"].append(os.getloadavg()[0])
    for k, v in best.items():
        res[k + "_seq_s"] = a.rows / v
    try:
        res["recur_p50"] = recur_bench(a.recur, model, one_f, 1,
                                       ["--time", str(a.latency_time)])[0]
    except Exception as ex:  # noqa: BLE001
        print(f"  recur batch-1 on {model}: failed ({ex})", flush=True)
    if km is not None:
        res["keras_p50"] = keras_latency(km, one if len(one) > 1 else one[0], a.latency_time)
    res["load"].append(os.getloadavg()[0])
    return res


def table(results, a, kver):
    def seq(r, k):
        return f"{r[k]:,.0f}" if k in r else "–"

    def ms(r, k):
        if k not in r:
            return "–"
        return f"{r[k] * 1e6:.1f} µs" if r[k] < 1e-3 else f"{r[k] * 1e3:.2f} ms"
    th = a.threads
    out = [f"Batch scoring, {a.rows} rows per model (each case's inputs tiled): sequences/s "
           f"(best of {a.rounds}); batch-1 latency p50. Keras {kver} on TensorFlow, both cores, "
           f"predict(batch_size={a.batch}) / predict_on_batch.", "",
           "| model | " + " | ".join(f"recur {t}T seq/s" for t in th) +
           " | Keras-TF seq/s | recur " + f"{th[-1]}T / Keras" +
           " | recur batch-1 p50 (1T) | Keras-TF batch-1 p50 | load |",
           "|" + "---|" * (len(th) + 6)]
    for r in results:
        ratio = (f"{r[f'recur{th[-1]}_seq_s'] / r['keras_seq_s']:.2f}×"
                 if f"recur{th[-1]}_seq_s" in r and "keras_seq_s" in r else "–")
        name = r["model"] + (f" ({r['keras']})" if r.get("keras", "Keras 3").startswith("tf_")
                             else "")
        out.append(f"| {name} | " + " | ".join(seq(r, f"recur{t}_seq_s") for t in th) +
                   f" | {seq(r, 'keras_seq_s')} | {ratio} | {ms(r, 'recur_p50')} | "
                   f"{ms(r, 'keras_p50')} | {min(r['load']):.1f}–{max(r['load']):.1f} |")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("models", nargs="*", help="case folders (default: the five of issue 10)")
    ap.add_argument("--corpus", default="../shared/models/real")
    ap.add_argument("--recur", default="build/recur")
    ap.add_argument("--rows", type=int, default=20000)
    ap.add_argument("--batch", type=int, default=1024, help="Keras predict batch_size")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--latency-time", type=float, default=1.0)
    ap.add_argument("--markdown")
    a = ap.parse_args()
    if not os.path.exists(a.recur):
        sys.exit(f"models_throughput.py: no recur CLI at {a.recur} (make build)")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
    try:
        import keras
        kver = keras.__version__
    except Exception as ex:  # noqa: BLE001
        print(f"models_throughput.py: Keras unavailable ({ex}); recur columns only",
              file=sys.stderr)
        keras, kver = None, "(unavailable)"
    results = []
    for d in a.models or [m.format(corpus=a.corpus) for m in MODELS]:
        if not os.path.isdir(d):
            print(f"  {d}: missing; skipped", flush=True)
            continue
        with tempfile.TemporaryDirectory() as tmp:
            results.append(one_model(d, a, tmp, keras))
        print(f"  {json.dumps(results[-1])}", flush=True)
    text = table(results, a, kver)
    print(text)
    if a.markdown:
        open(a.markdown, "w").write(text + "\n")


if __name__ == "__main__":
    main()
