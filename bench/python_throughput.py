#!/usr/bin/env python3
"""Sequences per second of recur's Python package on one model, per thread count.

    .venv-test/bin/python bench/python_throughput.py MODEL [--rows 20000] [--threads 1 2]

Random float32 inputs of the model's input shape (open time axes take --steps); the best of
--repeat runs of one predict() over all rows. docs/SCALING.md quotes it.
"""
import argparse
import time

import numpy as np

import recur


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--rows", type=int, default=20000)
    ap.add_argument("--steps", type=int, default=50, help="for an open time axis")
    ap.add_argument("--threads", type=int, nargs="+", default=[1])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--keras", type=int, metavar="BATCH", default=0,
                    help="also time Keras' own predict(batch_size=BATCH) on the same rows")
    args = ap.parse_args()
    m = recur.load_model(args.model)
    rng = np.random.default_rng(0)
    xs = []
    for spec in m.inputs:
        shape = [args.rows] + [args.steps if d is None else d for d in spec.shape[1:]]
        xs.append(rng.standard_normal(shape).astype(np.float32))
    for th in args.threads:
        best = min(_timed(m, xs, th) for _ in range(args.repeat))
        print(f"{args.model}: {args.rows} rows, threads={th}: {best:.3f} s, {args.rows / best:,.0f} sequences/s")
    if args.keras:
        import os

        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        import keras

        km = keras.models.load_model(args.model, compile=False)
        x = xs if len(xs) > 1 else xs[0]
        km.predict(x[: args.keras] if len(xs) == 1 else [a[: args.keras] for a in xs], verbose=0)  # trace once
        best = float("inf")
        for _ in range(args.repeat):
            start = time.perf_counter()
            km.predict(x, batch_size=args.keras, verbose=0)
            best = min(best, time.perf_counter() - start)
        print(f"{args.model}: {args.rows} rows, Keras {keras.__version__} predict(batch_size={args.keras}): "
              f"{best:.3f} s, {args.rows / best:,.0f} sequences/s")


def _timed(m, xs, threads):
    start = time.perf_counter()
    m.predict(xs, threads=threads)
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
