#!/usr/bin/env python3
"""Fixtures for the weights Keras 2's legacy loader converts on load (`preprocess_weights_for_
loading`): tests/fixtures/legacy-weights/<case>/, same case.json schema as tests/fixtures/models.

Each `.h5` is written by tf_keras 2.21.0 itself. Files with CuDNNLSTM / CuDNNGRU layers are built
on the CPU (the layers create their variables without being called on data) and saved; the
expected outputs come from tf_keras loading the same weights into the equivalent LSTM /
GRU(reset_after=True) model, the way users run such files on a CPU: Keras' legacy loader
converts the cuDNN weight layout on load (`_convert_rnn_weights`). The `*-weights` cases are
plain LSTM/GRU layers whose weight datasets hold cuDNN-layout weights (bias 8u / 6u), loaded with
`load_model` itself. Every case also checks that the raw, unconverted weights give other numbers
(the weights are random and asymmetric, so a missing transpose cannot pass).
The `theano-*` cases carry the `backend` attribute 'theano': Keras 2 flipped the convolution
kernels of such files on load and tf.keras 2 / Keras 3 do not, so one with a Conv1D must be
refused; recurrent weights were never converted, so one without convolutions runs as saved.

    .venv/bin/python tools/make_legacy_weight_fixtures.py
"""
import json
import os
import shutil
import sys
import zlib
from pathlib import Path

os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ["CUDA_VISIBLE_DEVICES"] = ""

import h5py  # noqa: E402
import numpy as np  # noqa: E402
import tf_keras as K  # noqa: E402
from tf_keras.src.layers.rnn.cudnn_gru import CuDNNGRU  # noqa: E402
from tf_keras.src.layers.rnn.cudnn_lstm import CuDNNLSTM  # noqa: E402

L = K.layers
OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "legacy-weights"
GENERATOR = "tools/make_legacy_weight_fixtures.py"
TOL = {"atol": 1e-05, "rtol": 1e-05}


def seed_of(name):
    return zlib.crc32(name.encode()) & 0x7FFFFFFF


# Layer factories: cuDNN=True gives the Keras 2 GPU layers, False their CPU equivalents.
def lstm(cudnn, units, **kw):
    return CuDNNLSTM(units, **kw) if cudnn else L.LSTM(units, **kw)


def gru(cudnn, units, **kw):
    return CuDNNGRU(units, **kw) if cudnn else L.GRU(units, reset_after=True, **kw)


# Builders: (cudnn) -> (model, calls); calls are successive input lists (stateful: several).
def b_lstm_stack(c, rng):
    m = K.Sequential([L.InputLayer(input_shape=(7, 5)),
                      lstm(c, 6, return_sequences=True),
                      lstm(c, 4, go_backwards=True), L.Dense(3)])
    return m, [[rng.uniform(-1, 1, (3, 7, 5))]]


def b_gru_stack(c, rng):
    m = K.Sequential([L.InputLayer(input_shape=(9, 4)),
                      gru(c, 7, return_sequences=True),
                      gru(c, 1, return_sequences=True, go_backwards=True), L.Dense(2)])
    return m, [[rng.uniform(-1, 1, (2, 9, 4))]]


def b_bidirectional(c, rng):
    m = K.Sequential([L.InputLayer(input_shape=(6, 3)),
                      L.Bidirectional(lstm(c, 4, return_sequences=True)),
                      L.Bidirectional(gru(c, 3), merge_mode="sum"), L.Dense(2)])
    return m, [[rng.uniform(-1, 1, (3, 6, 3))]]


def b_return_state(c, rng):
    x = L.Input(shape=(8, 3))
    seq, h, cs = lstm(c, 5, return_sequences=True, return_state=True)(x)
    o, hg = gru(c, 5, return_state=True)(seq, initial_state=h)
    m = K.Model(x, [o, hg, cs, L.Dense(2)(seq)])
    return m, [[rng.uniform(-1, 1, (2, 8, 3))]]


def b_nested(c, rng):
    x = L.Input(shape=(5, 4))
    inner = K.Sequential([L.InputLayer(input_shape=(5, 4)),
                          lstm(c, 6, return_sequences=True), L.Dense(3)], name="inner")
    y = gru(c, 2)(inner(x))
    m = K.Model(x, L.Dense(1)(y))
    return m, [[rng.uniform(-1, 1, (2, 5, 4))]]


def b_stateful(c, rng):
    m = K.Sequential([L.InputLayer(batch_input_shape=(2, 4, 3)),
                      gru(c, 5, return_sequences=True, stateful=True),
                      lstm(c, 3, stateful=True), L.Dense(2)])
    return m, [[rng.uniform(-1, 1, (2, 4, 3))], [rng.uniform(-1, 1, (2, 4, 3))]]


CUDNN_CASES = [
    ("cudnn-lstm-stack", b_lstm_stack, "two CuDNNLSTM (return_sequences; go_backwards) -> Dense"),
    ("cudnn-gru-stack", b_gru_stack, "two CuDNNGRU (7 units; 1 unit, go_backwards) -> Dense"),
    ("cudnn-bidirectional", b_bidirectional,
     "Bidirectional(CuDNNLSTM) concat -> Bidirectional(CuDNNGRU) sum -> Dense"),
    ("cudnn-return-state", b_return_state,
     "CuDNNLSTM return_state; its h is the initial_state of a CuDNNGRU with return_state"),
    ("cudnn-nested", b_nested, "CuDNNLSTM inside a nested Sequential, then a CuDNNGRU"),
    ("cudnn-stateful", b_stateful, "stateful CuDNNGRU and CuDNNLSTM, two successive calls"),
]


def randomize(model, rng):
    model.set_weights([rng.uniform(-0.5, 0.5, w.shape).astype(np.float32)
                       for w in model.get_weights()])


def reset_states(model):
    for layer in model.layers:
        if hasattr(layer, "layers"):
            reset_states(layer)
        if getattr(layer, "stateful", False):
            layer.reset_states()


def run_calls(model, calls):
    res = []
    for xs in calls:
        out = model(xs[0] if len(xs) == 1 else xs, training=False)
        out = out if isinstance(out, (list, tuple)) else [out]
        res.append([np.asarray(o, dtype=np.float32) for o in out])
    return res


def layer_labels(path):
    with h5py.File(path, "r") as f:
        cfg = json.loads(f.attrs["model_config"])

    def label(lc):
        cn, c = lc["class_name"], lc.get("config", {})
        if cn == "Bidirectional":
            return f"{cn}({label(c['layer'])})"
        if cn in ("Sequential", "Functional", "Model"):
            return cn + "(" + ", ".join(label(x) for x in c["layers"]) + ")"
        return cn

    return cfg["class_name"], [label(lc) for lc in cfg["config"]["layers"]]


def write_case(name, path, calls, outs, note, expect="match"):
    d = path.parent
    cls, layers = layer_labels(path)
    case = {"name": name, "model": path.name,
            "source": {"generator": GENERATOR, "seed": seed_of(name)},
            "format": "legacy_h5", "keras_version": K.__version__, "model_class": cls,
            "layers": layers, "expect": expect}
    if expect == "match":
        for k, (xs, ys) in enumerate(zip(calls, outs)):
            for i, x in enumerate(xs):
                np.save(d / f"x{k}{'_' + str(i) if len(xs) > 1 else ''}.npy", x)
            for i, y in enumerate(ys):
                np.save(d / f"y{k}_{i}.npy", y)
        files = [([f"x{k}{'_' + str(i) if len(xs) > 1 else ''}.npy" for i in range(len(xs))],
                  [f"y{k}_{i}.npy" for i in range(len(ys))])
                 for k, (xs, ys) in enumerate(zip(calls, outs))]
        case["inputs"], case["outputs"] = files[0]
        case["tolerance"] = TOL
        if len(calls) > 1:
            case["stateful_calls"] = [{"inputs": i, "outputs": o} for i, o in files]
    case["note"] = note
    (d / "case.json").write_text(json.dumps(case, indent=1) + "\n")
    print(f"{name}: {expect}, {len(calls)} call(s)", file=sys.stderr)


def differs(a, b):
    return any(x.shape != y.shape or np.max(np.abs(x - y)) > 1e-2
               for ca, cb in zip(a, b) for x, y in zip(ca, cb))


def start(name):
    """The case's folder, a fresh Keras session and the case's seeded numpy RNG."""
    d = OUT / name
    d.mkdir(parents=True)
    K.backend.clear_session()
    K.utils.set_random_seed(seed_of(name))
    return d, np.random.default_rng(seed_of(name))


def gen_cudnn_case(name, builder, note):
    d, rng = start(name)
    cud, calls = builder(True, rng)
    calls = [[x.astype(np.float32) for x in xs] for xs in calls]
    randomize(cud, rng)
    cud.save(d / "model.h5")
    # Expected: the CPU twin loads the file's weights; Keras converts them on load.
    cpu, _ = builder(False, np.random.default_rng(0))
    cpu.load_weights(d / "model.h5")
    outs = run_calls(cpu, calls)
    # The raw weights in the CPU twin (biases summed/reshaped only) must give other numbers.
    raw = []
    for w, v in zip(cud.get_weights(), cpu.get_weights()):
        raw.append(w.reshape(2, -1).sum(0) if w.ndim == 1 and w.size == 2 * v.size and v.ndim == 1
                   else w.reshape(v.shape))
    cpu.set_weights(raw)
    reset_states(cpu)
    if not differs(run_calls(cpu, calls), outs):
        raise SystemExit(f"{name}: unconverted weights give the same outputs")
    write_case(name, d / "model.h5", calls, outs, note + "; outputs: the tf_keras LSTM/GRU "
               "twin loading this file's weights (Keras converts the cuDNN layout)")


def to_cudnn_layout(kernel, recurrent, bias, gates):
    """Inverse of Keras' conversion: plain LSTM/GRU weights as a cuDNN layer stores them."""
    def blocks(k, f):
        return np.hstack([f(b) for b in np.hsplit(k, gates)])
    k = blocks(kernel, lambda b: b.T.reshape(b.shape, order="C"))
    r = blocks(recurrent, lambda b: b.T)
    b = np.tile(0.5 * bias, 2) if gates == 4 else bias.reshape(-1)
    return k, r, b


def put_cudnn_weights(path, layer_name, gates):
    """Rewrites one layer's datasets in a saved .h5 into the cuDNN layout."""
    with h5py.File(path, "r+") as f:
        g = f["model_weights"][layer_name]
        names = [n.decode() if isinstance(n, bytes) else n for n in g.attrs["weight_names"]]
        k, r, b = (np.array(g[n]) for n in names)
        new = to_cudnn_layout(k, r, b, gates)
        for n, v in zip(names, new):
            del g[n]
            g.create_dataset(n, data=v.astype(np.float32))


def gen_weights_case(name, reset_after, expect, note):
    d, rng = start(name)
    m = K.Sequential([L.InputLayer(input_shape=(6, 4)),
                      L.LSTM(5, return_sequences=True, name="lstm"),
                      L.GRU(3, reset_after=reset_after, name="gru"), L.Dense(2)])
    randomize(m, rng)
    x = rng.uniform(-1, 1, (3, 6, 4)).astype(np.float32)
    plain = run_calls(m, [[x]])
    m.save(d / "model.h5")
    put_cudnn_weights(d / "model.h5", "lstm", 4)
    if reset_after:
        put_cudnn_weights(d / "model.h5", "gru", 3)
    else:  # the bias must say cuDNN: a (6u,) bias in a reset_after=False GRU
        with h5py.File(d / "model.h5", "r+") as f:
            g = f["model_weights"]["gru"]
            n = [s.decode() if isinstance(s, bytes) else s for s in g.attrs["weight_names"]][2]
            b = np.array(g[n])
            del g[n]
            g.create_dataset(n, data=np.concatenate([b, np.zeros_like(b)]))
    try:
        loaded = K.models.load_model(d / "model.h5", compile=False)
    except ValueError as e:
        if expect != "invalid":
            raise
        write_case(name, d / "model.h5", [], [], note + f"; tf_keras refuses it: {e}", "invalid")
        return
    outs = run_calls(loaded, [[x]])
    # The round trip plain -> cuDNN layout -> Keras' loader must give the plain model back.
    if differs(outs, plain) or not np.allclose(outs[0][0], plain[0][0], atol=1e-6):
        raise SystemExit(f"{name}: Keras' loader did not undo the cuDNN layout")
    write_case(name, d / "model.h5", [[x]], outs, note + "; outputs: tf_keras load_model "
               "of this file (its loader converts the cuDNN layout)")


def gen_theano_case(name, with_conv, note):
    d, rng = start(name)
    head = [L.Conv1D(4, 3, padding="causal")] if with_conv else []
    m = K.Sequential([L.InputLayer(input_shape=(6, 3)), *head, L.LSTM(5), L.Dense(2)])
    randomize(m, rng)
    m.save(d / "model.h5")
    with h5py.File(d / "model.h5", "r+") as f:
        for g in (f, f["model_weights"]):
            g.attrs["backend"] = "theano"
    if with_conv:
        write_case(name, d / "model.h5", [], [], note, "unsupported")
        return
    x = rng.uniform(-1, 1, (2, 6, 3)).astype(np.float32)
    outs = run_calls(K.models.load_model(d / "model.h5", compile=False), [[x]])
    write_case(name, d / "model.h5", [[x]], outs, note + "; outputs: tf_keras load_model of "
               "this file")


def main():
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    for name, builder, note in CUDNN_CASES:
        gen_cudnn_case(name, builder, note)
    gen_weights_case("cudnn-weights-in-lstm-gru", True, "match",
                     "LSTM and GRU(reset_after=True) layers whose datasets hold weights saved "
                     "by CuDNNLSTM / CuDNNGRU (bias 8u and 6u)")
    gen_weights_case("cudnn-weights-in-gru-reset-before", False, "invalid",
                     "a GRU(reset_after=False) layer with a cuDNN-length (6u) bias")
    gen_theano_case("theano-conv1d", True, "backend 'theano' with a Conv1D: Keras 2 flipped "
                    "its kernel on load, tf.keras 2 and Keras 3 do not")
    gen_theano_case("theano-lstm", False, "backend 'theano', LSTM and Dense only: no "
                    "conversion in any Keras")


if __name__ == "__main__":
    main()
