#!/usr/bin/env python3
"""Write tests/fixtures/conv-models/<case>/: Conv2D, Conv3D and ConvLSTM1D/2D/3D models saved by
real Keras, with the outputs Keras computed (`model(x, training=False)`).

Same machinery, layout and case.json schema as tools/make_model_fixtures.py (imported from
there): k3-<name> is Keras 3.15.1 saved as .keras, k3-<name>-h5 the same model as legacy .h5,
k2-<name> tf_keras 2.21 as legacy .h5. Sizes are small and odd on purpose.

Run from the repository root:
    /work/main/.venv/bin/python tools/make_conv_fixtures.py
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_model_fixtures as mf  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "fixtures" / "conv-models"
mf.GENERATOR = "tools/make_conv_fixtures.py"
# The convolutions sum in another order than TensorFlow's kernels.
mf.TOL = {"atol": 1e-04, "rtol": 1e-04}
uni = mf.uni


def b_conv2d(rng):
    K, L = mf.K, mf.L
    inp = K.Input(shape=(7, 9, 4))
    outs = [
        L.Conv2D(4, 3)(inp),
        L.Conv2D(5, (2, 3), strides=2, padding="same")(inp),
        L.Conv2D(3, 3, dilation_rate=2, padding="same", activation="relu")(inp),
        L.Conv2D(4, 1, use_bias=False)(inp),
        L.Conv2D(6, 3, groups=2, strides=(1, 3), padding="same", activation="tanh")(inp),
    ]
    return K.Model(inp, outs), [[uni(rng, 2, 7, 9, 4)]]


def b_conv2d_cf(rng):
    K, L = mf.K, mf.L
    inp = K.Input(shape=(3, 7, 5))
    outs = [
        L.Conv2D(4, 3, data_format="channels_first")(inp),
        L.Conv2D(2, (2, 3), strides=2, padding="same", data_format="channels_first")(inp),
    ]
    return K.Model(inp, outs), [[uni(rng, 2, 3, 7, 5)]]


def b_conv3d(rng):
    K, L = mf.K, mf.L
    inp = K.Input(shape=(5, 6, 7, 2))
    outs = [
        L.Conv3D(3, 2)(inp),
        L.Conv3D(4, (3, 1, 2), strides=(2, 1, 2), padding="same")(inp),
        L.Conv3D(2, 3, dilation_rate=(2, 1, 2), padding="same", activation="sigmoid")(inp),
    ]
    return K.Model(inp, outs), [[uni(rng, 2, 5, 6, 7, 2)]]


def b_convlstm2d(rng):
    K, L = mf.K, mf.L
    inp = K.Input(shape=(4, 7, 6, 2))
    a = L.ConvLSTM2D(3, 3, padding="same", return_sequences=True)(inp)
    b, bh, bc = L.ConvLSTM2D(4, (2, 3), strides=2, go_backwards=True, return_state=True)(inp)
    c = L.ConvLSTM2D(2, 3, dilation_rate=2, padding="same", activation="relu",
                     recurrent_activation="hard_sigmoid", use_bias=False,
                     unit_forget_bias=False, dropout=0.3, recurrent_dropout=0.2)(a)
    d = L.ConvLSTM2D(3, (1, 2), go_backwards=True, return_sequences=True)(inp)
    return K.Model(inp, [a, b, bh, bc, c, d]), [[uni(rng, 2, 4, 7, 6, 2)]]


def b_convlstm2d_cf(rng):
    K, L = mf.K, mf.L
    inp = K.Input(shape=(3, 2, 5, 7))
    a = L.ConvLSTM2D(3, 3, padding="same", data_format="channels_first", return_sequences=True)(inp)
    b, bh, bc = L.ConvLSTM2D(2, (2, 3), strides=(1, 2), data_format="channels_first",
                             return_state=True)(a)
    return K.Model(inp, [a, b, bh, bc]), [[uni(rng, 2, 3, 2, 5, 7)]]


def b_convlstm1d(rng):
    K, L = mf.K, mf.L
    inp = K.Input(shape=(5, 9, 3))
    a = L.ConvLSTM1D(4, 3, padding="same", return_sequences=True)(inp)
    b = L.ConvLSTM1D(3, 2, strides=2, go_backwards=True)(inp)
    c = L.ConvLSTM1D(2, 3, dilation_rate=3, padding="same", return_sequences=True,
                     go_backwards=True)(a)
    return K.Model(inp, [a, b, c]), [[uni(rng, 2, 5, 9, 3)]]


def b_convlstm3d(rng):
    K, L = mf.K, mf.L
    inp = K.Input(shape=(3, 4, 5, 3, 2))
    a = L.ConvLSTM3D(2, 2, padding="same", return_sequences=True)(inp)
    b = L.ConvLSTM3D(3, (2, 2, 1), strides=(1, 2, 1))(a)
    return K.Model(inp, [a, b]), [[uni(rng, 2, 3, 4, 5, 3, 2)]]


def b_convlstm_initial_state(rng):
    K, L = mf.K, mf.L
    x = K.Input(shape=(3, 5, 4, 2))
    h0 = K.Input(shape=(5, 4, 3))
    c0 = K.Input(shape=(5, 4, 3))
    y = L.ConvLSTM2D(3, 3, padding="same", return_sequences=True)(x, initial_state=[h0, c0])
    return K.Model([x, h0, c0], y), [[uni(rng, 2, 3, 5, 4, 2), uni(rng, 2, 5, 4, 3), uni(rng, 2, 5, 4, 3)]]


def b_convlstm_mask(rng):
    K, L = mf.K, mf.L
    ops = K.ops
    x = K.Input(shape=(6, 4, 3, 2))
    mask = ops.any(ops.not_equal(L.Reshape((6, 24))(x), 0.0), axis=-1)  # (batch, time)
    a = L.ConvLSTM2D(3, 2, padding="same", return_sequences=True)(x, mask=mask)
    b = L.ConvLSTM2D(2, 3, padding="same", go_backwards=True)(x, mask=mask)
    xv = uni(rng, 3, 6, 4, 3, 2)
    xv[0, 4:] = 0.0  # right padding
    xv[1, :2] = 0.0  # left padding
    xv[2, 3] = 0.0   # a hole
    return K.Model(x, [a, b]), [[xv]], "the (batch, time) mask is passed as the layers' mask argument"


def b_bidirectional_convlstm(rng):
    K, L = mf.K, mf.L
    x = K.Input(shape=(4, 5, 4, 2))
    y = L.Bidirectional(L.ConvLSTM2D(3, 2, padding="same", return_sequences=True))(x)
    z = L.Bidirectional(L.ConvLSTM2D(2, 3, padding="same"), merge_mode="sum")(x)
    return K.Model(x, [y, z]), [[uni(rng, 2, 4, 5, 4, 2)]]


def b_stateful_convlstm(rng):
    K, L = mf.K, mf.L
    inp = K.Input(batch_shape=(2, 3, 5, 5, 2))
    x = L.ConvLSTM2D(3, 3, padding="same", stateful=True)(inp)
    out = L.Dense(2)(L.Flatten()(x))
    calls = [[uni(rng, 2, 3, 5, 5, 2)], [uni(rng, 2, 3, 5, 5, 2)]]
    return K.Model(inp, out), calls, "Input batch_shape (2, 3, 5, 5, 2)"


def b_td_conv2d_lstm(rng):
    K, L = mf.K, mf.L
    m = K.Sequential([
        K.Input(shape=(4, 7, 7, 2)),
        L.TimeDistributed(L.Conv2D(3, 3, activation="relu")),
        L.TimeDistributed(L.Flatten()),
        L.LSTM(5),
        L.Dense(2),
    ])
    return m, [[uni(rng, 2, 4, 7, 7, 2)]]


def b_depthwise_separable(rng):
    K, L = mf.K, mf.L
    img = K.Input(shape=(7, 9, 3))
    seq = K.Input(shape=(11, 4))
    outs = [
        L.DepthwiseConv2D(3)(img),
        L.DepthwiseConv2D((2, 3), strides=2, padding="same", depth_multiplier=2, use_bias=False)(img),
        L.DepthwiseConv2D(3, dilation_rate=2, padding="same", activation="relu")(img),
        L.SeparableConv2D(5, 3, padding="same", depth_multiplier=2, activation="tanh")(img),
        L.SeparableConv2D(4, (3, 2), strides=(2, 1), use_bias=False)(img),
        L.SeparableConv1D(6, 3, padding="same", dilation_rate=2)(seq),
        L.SeparableConv1D(3, 4, strides=2, depth_multiplier=3)(seq),
        L.DepthwiseConv1D(3, depth_multiplier=2)(seq),
    ]
    return K.Model([img, seq], outs), [[uni(rng, 2, 7, 9, 3), uni(rng, 2, 11, 4)]]


BOTH = ("keras", "h5")
Case = mf.Case
K3_CASES = [
    Case("conv2d", b_conv2d, "Conv2D valid/same, strides, dilation, 1x1 without bias, groups=2", BOTH),
    Case("conv2d-channels-first", b_conv2d_cf, "Conv2D data_format=channels_first", ("keras",)),
    Case("conv3d", b_conv3d, "Conv3D valid/same, strides, dilation", BOTH),
    Case("convlstm2d", b_convlstm2d, "ConvLSTM2D same/valid, strides, dilation, go_backwards, "
         "return_state, relu/hard_sigmoid, use_bias=False, inert dropout", BOTH),
    Case("convlstm2d-channels-first", b_convlstm2d_cf, "ConvLSTM2D data_format=channels_first, "
         "return_state", ("keras",)),
    Case("convlstm1d", b_convlstm1d, "ConvLSTM1D same/valid, strides, dilation, go_backwards", BOTH),
    Case("convlstm3d", b_convlstm3d, "ConvLSTM3D same/valid, strides", BOTH),
    Case("convlstm2d-initial-state", b_convlstm_initial_state, "ConvLSTM2D with initial_state "
         "inputs", ("keras",)),
    Case("convlstm2d-stateful", b_stateful_convlstm, "stateful ConvLSTM2D, two successive calls",
         ("keras",)),
    Case("bidirectional-convlstm2d", b_bidirectional_convlstm, "Bidirectional(ConvLSTM2D), concat "
         "and sum merges", BOTH),
    Case("convlstm2d-mask", b_convlstm_mask, "ConvLSTM2D with masks (right and left padding, a "
         "hole), return_sequences and go_backwards", ("keras",)),
    Case("depthwise-separable", b_depthwise_separable, "DepthwiseConv1D/2D and SeparableConv1D/2D: "
         "depth_multiplier, strides, dilation, same/valid, use_bias=False", BOTH),
    Case("td-conv2d-lstm", b_td_conv2d_lstm, "TimeDistributed(Conv2D) -> LSTM", ("keras",)),
]
K2_CASES = [
    Case("conv2d", b_conv2d, "Keras 2 Conv2D options", ("h5",)),
    Case("conv3d", b_conv3d, "Keras 2 Conv3D options", ("h5",)),
    Case("convlstm2d", b_convlstm2d, "Keras 2 ConvLSTM2D options", ("h5",)),
    Case("convlstm1d", b_convlstm1d, "Keras 2 ConvLSTM1D options", ("h5",)),
    Case("convlstm3d", b_convlstm3d, "Keras 2 ConvLSTM3D", ("h5",)),
    Case("convlstm2d-stateful", b_stateful_convlstm, "Keras 2 stateful ConvLSTM2D, two calls", ("h5",)),
    Case("depthwise-separable", b_depthwise_separable, "Keras 2 DepthwiseConv1D/2D, SeparableConv1D/2D",
         ("h5",)),
    Case("bidirectional-convlstm2d", b_bidirectional_convlstm, "Keras 2 Bidirectional(ConvLSTM2D)",
         ("h5",)),
]


def generate(out, k3_cases, k2_cases, script):
    """Runs `script` once per Keras (k3, k2) in a fresh interpreter, then writes the README."""
    part = sys.argv[1] if len(sys.argv) > 1 else None
    only = set(sys.argv[2:])
    if part is None:
        if out.exists():
            shutil.rmtree(out)
        out.mkdir(parents=True)
        for p in ("k3", "k2"):
            env = dict(os.environ)
            env.pop("TF_USE_LEGACY_KERAS", None)
            if p == "k2":
                env["TF_USE_LEGACY_KERAS"] = "1"
            subprocess.run([sys.executable, str(Path(script).resolve()), p], env=env, check=True)
        mf.write_readme(out)
        size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
        print(f"{len(list(out.glob('*/case.json')))} cases in {out} ({size / 1024:.0f} KiB)")
        return
    mf.init_framework(part)

    def log(msg):
        print(f"[{part}] {msg}", flush=True)

    mf.gen_match_cases(out, k3_cases if part == "k3" else k2_cases, part, only, log)


if __name__ == "__main__":
    generate(OUT, K3_CASES, K2_CASES, __file__)
