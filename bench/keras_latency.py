#!/usr/bin/env python3
"""Keras' own latency on a model and input, for comparing with `recur bench MODEL --input X`.

    TF_NUM_INTRAOP_THREADS=N TF_NUM_INTEROP_THREADS=N .venv/bin/python bench/keras_latency.py MODEL X.npy [--time 4]

Loads MODEL with Keras (tf_keras for legacy .h5 files Keras 3 refuses), then times
predict_on_batch(X) as models_throughput.py does (3 warm-up calls, then --time seconds); prints
the p50 per call.
"""
import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from models_throughput import keras_latency, load_keras  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("input")
    ap.add_argument("--time", type=float, default=4.0)
    args = ap.parse_args()
    import keras

    km = load_keras(keras, args.model)
    if km is None:
        sys.exit(f"keras_latency: Keras cannot load {args.model}")
    p50 = keras_latency(km, np.load(args.input), args.time)
    print(f"{km.keras_name} ({keras.backend.backend()}) {args.model}: p50 {p50 * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
