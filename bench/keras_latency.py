#!/usr/bin/env python3
"""Keras' own latency on a model and input, for comparing with `recur bench MODEL --input X`.

    TF_NUM_INTRAOP_THREADS=N TF_NUM_INTEROP_THREADS=N .venv/bin/python bench/keras_latency.py MODEL X.npy [--time 4]

Loads MODEL with Keras (any backend, KERAS_BACKEND), 3 warm-up calls, then predict_on_batch(X)
for --time seconds; prints p50 and min per call.
"""
import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import numpy as np  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("input")
    ap.add_argument("--time", type=float, default=4.0)
    args = ap.parse_args()
    import keras

    m = keras.saving.load_model(args.model, compile=False)
    x = np.load(args.input)
    for _ in range(3):
        m.predict_on_batch(x)
    ts = []
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < args.time:
        a = time.perf_counter()
        m.predict_on_batch(x)
        ts.append(time.perf_counter() - a)
    ts = np.array(ts) * 1e3
    print(f"keras {keras.backend.backend()} {args.model}: p50 {np.median(ts):.1f} ms, "
          f"min {ts.min():.1f} ms, {len(ts)} calls")


if __name__ == "__main__":
    main()
