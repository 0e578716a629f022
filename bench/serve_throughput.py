#!/usr/bin/env python3
"""Requests/s and latency of examples/serve_ray.py on a local Ray Serve, over loopback HTTP.

    .venv-serve/bin/python bench/serve_throughput.py MODEL [--replicas 1] [--threads 1]
        [--clients 1 8] [--requests 400]

For each client count: whole-sequence /predict requests (random rows of the model's input
shape), then /stream/step requests (each client its own session, one step per request). Each
client is a thread with its own kept-alive connection, sending its next request when the last
is answered; the clients run on the same machine as the server. Prints requests/s and the
p50/p99 latency, the replica's memory, and recur's own time for one row in this process.
docs/SCALING.md quotes it (make test-serve makes .venv-serve).
"""
import argparse
import os
import socket
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

import recur

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))
import serve_ray  # noqa: E402


def run_clients(url, clients, requests, make_call):
    """Each client sends `requests` requests one after another; returns (requests/s, latencies)."""

    def client(k):
        c = serve_ray.Client(url)
        call = make_call(c, k)
        lat = []
        try:
            for i in range(requests):
                t = time.perf_counter()
                call(i)
                lat.append(time.perf_counter() - t)
        finally:
            c.close()
        return lat

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        lats = [x for part in pool.map(client, range(clients)) for x in part]
    return len(lats) / (time.perf_counter() - start), np.array(lats)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--replicas", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1, help="recur threads per replica")
    ap.add_argument("--clients", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--requests", type=int, default=400, help="per client and kind")
    ap.add_argument("--steps", type=int, default=50, help="for an open time axis")
    args = ap.parse_args()

    m = recur.load_model(args.model)
    shape = [args.steps if d is None else d for d in m.inputs[0].shape[1:]]
    x = np.random.default_rng(0).standard_normal([64, *shape]).astype(np.float32)
    t = time.perf_counter()
    for i in range(200):
        m.predict(x[i % 64:i % 64 + 1], threads=1)
    one_row = (time.perf_counter() - t) / 200

    import ray
    from ray import serve

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ray.init(num_cpus=max(os.cpu_count(), args.replicas * args.threads), include_dashboard=False, log_to_driver=False)
    try:
        serve.start(http_options={"host": "127.0.0.1", "port": port})
        serve.run(serve_ray.app(args.model, replicas=args.replicas, threads=args.threads,
                                max_sessions=max(args.clients) * 2), name="recur", route_prefix="/")
        url = f"http://127.0.0.1:{port}/"
        warm = serve_ray.Client(url)
        for i in range(20):
            warm.predict(x[i])
        print(f"{Path(args.model).parent.name}/{Path(args.model).name} input {shape}; {args.replicas} replica(s) x "
              f"{args.threads} recur thread(s); recur in-process, 1 row, 1 thread: {one_row * 1e3:.2f} ms")
        for clients in args.clients:
            rate, lat = run_clients(url, clients, args.requests, lambda c, k: lambda i: c.predict(x[(k * 7 + i) % 64]))
            print(f"  predict, {clients} client(s): {rate:,.0f} requests/s, p50 {np.percentile(lat, 50) * 1e3:.1f} ms, "
                  f"p99 {np.percentile(lat, 99) * 1e3:.1f} ms")

            def stepper(c, k):
                c.start(f"s{k}")
                return lambda i: c.step(f"s{k}", x[k % 64, i % shape[0]])

            rate, lat = run_clients(url, clients, args.requests, stepper)
            print(f"  stream step, {clients} client(s): {rate:,.0f} requests/s, p50 {np.percentile(lat, 50) * 1e3:.1f} ms, "
                  f"p99 {np.percentile(lat, 99) * 1e3:.1f} ms")
        st = warm.stats()
        print(f"  replica: RSS {st['rss_bytes'] / 2**20:.0f} MiB, of which the model's load {st['model_rss_bytes'] / 2**20:.1f} MiB "
              f"(weights {st['weight_bytes'] / 2**10:.0f} KiB); largest predict batch {st['max_batch']}")
    finally:
        serve.shutdown()
        ray.shutdown()


if __name__ == "__main__":
    main()
