"""Python peers for recur-bench: OpenVINO, ONNX Runtime, PyTorch.

Reads the cases recur-bench exported (weights already converted by recur::layout, inputs and
recur's outputs), checks each peer's outputs against recur's (max |Δ| goes into its rows), times it the way recur-bench
does (warm-up, 5 interleaved rounds of budget/5 each, median and range per call; per step for
streaming) and writes JSON rows. Each engine's fixed per-call overhead through its Python API
is measured on a trivial model and reported separately (engine "<name>:overhead").
"""
import argparse
import json
import os
import sys
import time

import numpy as np

REPS = 5


def load(d, name):
    return np.load(os.path.join(d, name)).astype(np.float32)


# ---------------------------------------------------------------- ONNX models (ORT and OpenVINO)
def onnx_model(meta, d, T):
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    cell, B, I, H = meta["cell"], meta["B"], meta["I"], meta["H"]
    stream = meta["stream"]
    B = 1 if stream else B
    op = {"lstm": "LSTM", "simple_rnn": "RNN"}.get(cell, "GRU")
    W, R, Bb = load(d, "onnx_W.npy"), load(d, "onnx_R.npy"), load(d, "onnx_B.npy")
    inits = [numpy_helper.from_array(W, "W"), numpy_helper.from_array(R, "R"),
             numpy_helper.from_array(Bb, "B")]
    # Keras (B, T, I) -> ONNX (T, B, I); outputs back to (B, T, H).
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [B, T, I])]
    nodes = [helper.make_node("Transpose", ["x"], ["xt"], perm=[1, 0, 2])]
    rnn_in = ["xt", "W", "R", "B", "", "h0"]
    outs = ["Y", "Yh"]
    inputs.append(helper.make_tensor_value_info("h0", TensorProto.FLOAT, [1, B, H]))
    if op == "LSTM":
        rnn_in.append("c0")
        inputs.append(helper.make_tensor_value_info("c0", TensorProto.FLOAT, [1, B, H]))
        outs.append("Yc")
    attrs = {"hidden_size": H}
    if op == "GRU":
        attrs["linear_before_reset"] = 1 if cell == "gru" else 0
    nodes.append(helper.make_node(op, rnn_in, outs, **attrs))
    nodes.append(helper.make_node("Squeeze", ["Y", "ax1"], ["Ys"]))
    nodes.append(helper.make_node("Transpose", ["Ys"], ["y"], perm=[1, 0, 2]))
    inits.append(numpy_helper.from_array(np.array([1], dtype=np.int64), "ax1"))
    outputs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, [B, T, H]),
               helper.make_tensor_value_info("Yh", TensorProto.FLOAT, [1, B, H])]
    if op == "LSTM":
        outputs.append(helper.make_tensor_value_info("Yc", TensorProto.FLOAT, [1, B, H]))
    g = helper.make_graph(nodes, "rnn", inputs, outputs, inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 14)])
    m.ir_version = 8
    return m.SerializeToString()


def tiny_onnx():
    from onnx import TensorProto, helper
    g = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "id",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 14)])
    m.ir_version = 8
    return m.SerializeToString()


class Engine:
    """run(x, states) -> (y, states); states: list of (1, B, H) arrays."""

    def __init__(self, meta, d, threads):
        self.meta = meta
        B = 1 if meta["stream"] else meta["B"]
        self.zero = [np.zeros((1, B, meta["H"]), np.float32)
                     for _ in range(2 if meta["cell"] == "lstm" else 1)]

    def outputs(self, x, steps):
        if not self.meta["stream"]:
            return self.run(x, self.zero)[0]
        st, ys = self.zero, []
        for t in range(steps):
            y, st = self.run(x[:, t:t + 1, :], st)
            ys.append(y)
        return np.concatenate(ys, axis=1)


class Ort(Engine):
    name = "onnxruntime"

    def __init__(self, meta, d, threads, model=None):
        super().__init__(meta, d, threads)
        import onnxruntime as ort
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        T = 1 if meta["stream"] else meta["T"]
        self.s = ort.InferenceSession(model or onnx_model(meta, d, T), so,
                                      providers=["CPUExecutionProvider"])
        self.lstm = meta["cell"] == "lstm"

    def run(self, x, st):
        feed = {"x": x, "h0": st[0]}
        if self.lstm:
            feed["c0"] = st[1]
        r = self.s.run(None, feed)
        return r[0], r[1:]


class OpenVino(Engine):
    name = "openvino"

    def __init__(self, meta, d, threads, model=None):
        super().__init__(meta, d, threads)
        import openvino as ov
        core = ov.Core()
        T = 1 if meta["stream"] else meta["T"]
        m = core.read_model(model or onnx_model(meta, d, T), b"") if False else \
            core.read_model(_write_tmp(model or onnx_model(meta, d, T)))
        cfg = {"INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY",
               "INFERENCE_PRECISION_HINT": "f32"}
        self.c = core.compile_model(m, "CPU", cfg)
        self.req = self.c.create_infer_request()
        self.lstm = meta["cell"] == "lstm"

    def run(self, x, st):
        feed = {"x": x, "h0": st[0]}
        if self.lstm:
            feed["c0"] = st[1]
        r = self.req.infer(feed)
        vals = list(r.values())
        return vals[0], [np.array(v) for v in vals[1:]]


def _write_tmp(blob):
    import tempfile
    f = tempfile.NamedTemporaryFile(suffix=".onnx", delete=False)
    f.write(blob)
    f.close()
    return f.name


class Torch(Engine):
    name = "torch"

    def __init__(self, meta, d, threads):
        super().__init__(meta, d, threads)
        import torch
        torch.set_num_threads(threads)
        self.torch = torch
        I, H, cell = meta["I"], meta["H"], meta["cell"]
        cls = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "simple_rnn": torch.nn.RNN}[cell]
        self.m = cls(I, H, batch_first=True)
        with torch.no_grad():
            self.m.weight_ih_l0.copy_(torch.from_numpy(load(d, "torch_weight_ih.npy")))
            self.m.weight_hh_l0.copy_(torch.from_numpy(load(d, "torch_weight_hh.npy")))
            self.m.bias_ih_l0.copy_(torch.from_numpy(load(d, "torch_bias_ih.npy")))
            self.m.bias_hh_l0.copy_(torch.from_numpy(load(d, "torch_bias_hh.npy")))
        self.m.eval()
        self.lstm = cell == "lstm"
        self.zero = [torch.from_numpy(z) for z in self.zero]

    def run(self, x, st):
        with self.torch.inference_mode():
            xt = x if isinstance(x, self.torch.Tensor) else self.torch.from_numpy(x)
            y, s = self.m(xt, tuple(st) if self.lstm else st[0])
        return y, list(s) if self.lstm else [s]

    def outputs(self, x, steps):
        y = super().outputs(self.torch.from_numpy(x), steps)
        return y.numpy() if hasattr(y, "numpy") else y


def timed(engines, calls, budget):
    """engines: names; calls: zero-arg callables. Returns {name: (median, lo, hi)} per call."""
    iters = []
    for f in calls:
        f()
        n = 1
        while True:
            t0 = time.perf_counter()
            for _ in range(n):
                f()
            dt = time.perf_counter() - t0
            if dt > 0.01:
                iters.append(max(1, int(n * (budget / REPS) / dt)))
                break
            n *= 4
    ts = [[] for _ in calls]
    for _ in range(REPS):
        for i, f in enumerate(calls):
            t0 = time.perf_counter()
            for _ in range(iters[i]):
                f()
            ts[i].append((time.perf_counter() - t0) / iters[i])
    out = {}
    for name, t in zip(engines, ts):
        t.sort()
        out[name] = (t[REPS // 2], t[0], t[-1])
    return out


def make_call(e, x, meta):
    if not meta["stream"]:
        xx = e.torch.from_numpy(x) if isinstance(e, Torch) else x
        return lambda: e.run(xx, e.zero)
    steps = x.shape[1]
    xs = [x[:, t:t + 1, :].copy() for t in range(steps)]
    if isinstance(e, Torch):
        xs = [e.torch.from_numpy(v) for v in xs]
    state = {"st": e.zero, "t": 0}

    def step():
        _, state["st"] = e.run(xs[state["t"]], state["st"])
        state["t"] = (state["t"] + 1) % steps
    return step


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("--json", required=True)
    ap.add_argument("--peers", default="openvino,onnxruntime,torch")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--budget", type=float, default=0.25)
    a = ap.parse_args()
    peers = [p for p in a.peers.split(",") if p]
    classes = []
    for name, cls, mod in (("openvino", OpenVino, "openvino"), ("onnxruntime", Ort, "onnxruntime"),
                           ("torch", Torch, "torch")):
        if name not in peers:
            continue
        try:
            __import__(mod)
            classes.append(cls)
        except Exception as ex:  # noqa: BLE001
            print(f"peers.py: {name} unavailable ({ex}); skipped", file=sys.stderr)
    rows = []
    threads = [int(t) for t in a.threads.split(",")]
    # Fixed per-call overhead of each Python API: a trivial model / op.
    for th in threads:
        for cls in classes:
            if cls is Torch:
                import torch
                torch.set_num_threads(th)
                t1 = torch.zeros(1, 1)
                lin = torch.nn.Identity()

                def f():
                    with torch.inference_mode():
                        lin(t1)
            elif cls is Ort:
                import onnxruntime as ort
                so = ort.SessionOptions()
                so.intra_op_num_threads = th
                s = ort.InferenceSession(tiny_onnx(), so, providers=["CPUExecutionProvider"])
                z = np.zeros((1, 1), np.float32)

                def f(s=s, z=z):
                    s.run(None, {"x": z})
            else:
                import openvino as ov
                core = ov.Core()
                c = core.compile_model(core.read_model(_write_tmp(tiny_onnx())), "CPU",
                                       {"INFERENCE_NUM_THREADS": th})
                req = c.create_infer_request()
                z = np.zeros((1, 1), np.float32)

                def f(req=req, z=z):
                    req.infer({0: z})
            t = timed([cls.name], [f], a.budget / 2)[cls.name]
            rows.append({"engine": cls.name + ":overhead", "cell": "-", "shape": "-",
                         "threads": th, "seconds": t[0], "seconds_min": t[1], "seconds_max": t[2],
                         "gflops": 0})
            print(f"  {cls.name:12s} per-call overhead {th}T: {t[0] * 1e6:8.2f} us", flush=True)
    for case in sorted(os.listdir(a.data)):
        d = os.path.join(a.data, case)
        meta = json.load(open(os.path.join(d, "meta.json")))
        x = load(d, "x.npy")
        y = load(d, "y.npy")
        steps = meta["check_steps"]
        flops = 2.0 * meta["G"] * meta["H"] * (meta["I"] + meta["H"])
        if not meta["stream"]:
            flops *= meta["B"] * meta["T"]
        for th in threads:
            names, calls, max_abs = [], [], {}
            for cls in classes:
                if cls is Torch and not meta["torch"]:
                    continue
                try:
                    e = cls(meta, d, th)
                    got = np.asarray(e.outputs(x, steps), np.float32)
                    err = np.max(np.abs(got - y) / (1e-2 + np.abs(y)))
                    if not np.isfinite(err) or err > 1e-3:
                        print(f"  {cls.name} {case}: outputs differ from recur (max rel {err:.3g}),"
                              " not timed", flush=True)
                        continue
                except Exception as ex:  # noqa: BLE001
                    print(f"  {cls.name} {case}: failed ({ex}); skipped", flush=True)
                    continue
                names.append(cls.name)
                calls.append(make_call(e, x, meta))
                max_abs[cls.name] = float(np.max(np.abs(got.astype(np.float64) - y)))
            if not calls:
                continue
            res = timed(names, calls, a.budget)
            for n in names:
                med, lo, hi = res[n]
                rows.append({"engine": n, "cell": meta["cell"], "shape": meta["shape"],
                             "threads": th, "seconds": med, "seconds_min": lo, "seconds_max": hi,
                             "gflops": flops / med / 1e9, "max_abs": max_abs[n],
                             "load1": os.getloadavg()[0]})
                print(f"  {n:12s} {meta['cell']:17s} {meta['shape']:4s} {th}T {med * 1e6:10.3f} us"
                      f"  [{lo * 1e6:.3f} .. {hi * 1e6:.3f}]  {flops / med / 1e9:7.2f} GFLOP/s",
                      flush=True)
    with open(a.json, "w") as f:
        json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
