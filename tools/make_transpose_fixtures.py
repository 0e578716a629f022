#!/usr/bin/env python3
"""Write tests/fixtures/transpose-models/<case>/: Conv1D/2D/3DTranspose and resizing UpSampling2D
models saved by real Keras, with the outputs Keras computed (`model(x, training=False)`).

Same machinery, layout and case.json schema as tools/make_model_fixtures.py (imported from
there, and run by tools/make_conv_fixtures.py's generate()): k3-<name> is Keras 3.15.1 saved as .keras,
k3-<name>-h5 the same model as legacy .h5, k2-<name> tf_keras 2.21 as legacy .h5. Sizes are
small and odd on purpose (1, 7, 33), strides 1 to 3, both paddings, output_padding, dilation.

Run from the repository root:
    /work/main/.venv/bin/python tools/make_transpose_fixtures.py
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_conv_fixtures as mc  # noqa: E402
import make_model_fixtures as mf  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "fixtures" / "transpose-models"
mf.GENERATOR = "tools/make_transpose_fixtures.py"
# The transposed convolutions sum in another order than TensorFlow's kernels.
mf.TOL = {"atol": 1e-04, "rtol": 1e-04}
uni = mf.uni


def b_conv1d_t(rng):
    K, L = mf.K, mf.L
    seq = K.Input(shape=(7, 5))
    one = K.Input(shape=(1, 33))
    outs = [
        L.Conv1DTranspose(3, 3)(seq),
        L.Conv1DTranspose(4, 2, strides=2, padding="same")(seq),
        L.Conv1DTranspose(2, 3, strides=3, output_padding=1)(seq),
        L.Conv1DTranspose(3, 4, strides=2, padding="same", output_padding=1)(seq),
        L.Conv1DTranspose(5, 3, dilation_rate=2, padding="same", activation="relu")(seq),
        L.Conv1DTranspose(1, 1, use_bias=False)(seq),
        L.Conv1DTranspose(2, 5, strides=3, padding="valid", output_padding=2)(seq),
        L.Conv1DTranspose(7, 5, strides=3, padding="same")(one),
        L.Conv1DTranspose(3, 2, dilation_rate=3)(one),
    ]
    return K.Model([seq, one], outs), [[uni(rng, 2, 7, 5), uni(rng, 2, 1, 33)]]


def b_conv1d_t_cf(rng):
    K, L = mf.K, mf.L
    seq = K.Input(shape=(5, 7))
    outs = [
        L.Conv1DTranspose(3, 3, strides=2, padding="same", data_format="channels_first")(seq),
        L.Conv1DTranspose(2, 4, strides=3, output_padding=2, data_format="channels_first")(seq),
    ]
    return K.Model(seq, outs), [[uni(rng, 2, 5, 7)]]


def conv2d_t_layers(L, keras2):
    layers = [
        L.Conv2DTranspose(4, 3),
        L.Conv2DTranspose(3, (2, 3), strides=2, padding="same"),
        L.Conv2DTranspose(2, 3, strides=(3, 2), output_padding=(2, 1)),
        L.Conv2DTranspose(3, (4, 3), strides=(2, 3), padding="same", output_padding=(1, 0)),
        L.Conv2DTranspose(2, 3, dilation_rate=2, padding="same", activation="tanh"),
        L.Conv2DTranspose(3, 2, dilation_rate=2),
        L.Conv2DTranspose(1, 1, use_bias=False),
        L.Conv2DTranspose(2, (4, 4), strides=2, padding="same", activation="softmax"),
    ]
    if not keras2:  # Keras 2 runs only equal dilation rates
        layers.append(L.Conv2DTranspose(2, (3, 2), dilation_rate=(1, 3), padding="same"))
    return layers


def b_conv2d_t(rng):
    K, L = mf.K, mf.L
    inp = K.Input(shape=(7, 5, 3))
    outs = [layer(inp) for layer in conv2d_t_layers(L, mf.KV == 2)]
    return K.Model(inp, outs), [[uni(rng, 2, 7, 5, 3)]]


def b_conv2d_t_cf(rng):
    K, L = mf.K, mf.L
    inp = K.Input(shape=(3, 7, 5))
    cf = {"data_format": "channels_first"}
    outs = [
        L.Conv2DTranspose(4, 3, strides=2, padding="same", **cf)(inp),
        L.Conv2DTranspose(2, (3, 2), strides=(2, 3), output_padding=(1, 2), **cf)(inp),
        L.Conv2DTranspose(3, 3, strides=2, padding="same", activation="softmax", **cf)(inp),
    ]
    outs.append(L.Conv2DTranspose(2, 3, dilation_rate=2, padding="same", **cf)(inp))
    outs.append(L.Conv2DTranspose(3, 2, dilation_rate=3, **cf)(inp))
    return K.Model(inp, outs), [[uni(rng, 2, 3, 7, 5)]]


def b_conv3d_t(rng):
    K, L = mf.K, mf.L
    inp = K.Input(shape=(3, 4, 5, 2))
    outs = [
        L.Conv3DTranspose(3, 2)(inp),
        L.Conv3DTranspose(2, (3, 1, 2), strides=(2, 1, 3), padding="same")(inp),
        L.Conv3DTranspose(2, 3, strides=(1, 2, 2), output_padding=(0, 1, 1), activation="relu")(inp),
        L.Conv3DTranspose(3, 2, strides=2, padding="same", data_format="channels_first")(inp),
    ]
    if mf.KV == 3:
        outs.append(L.Conv3DTranspose(2, 2, dilation_rate=(2, 1, 2), padding="same")(inp))
    return K.Model(inp, outs), [[uni(rng, 2, 3, 4, 5, 2)]]


def b_td_conv2d_t_lstm(rng):
    K, L = mf.K, mf.L
    m = K.Sequential([
        K.Input(shape=(4, 5, 5, 2)),
        L.TimeDistributed(L.Conv2DTranspose(3, 3, strides=2, padding="same", activation="relu")),
        L.TimeDistributed(L.Flatten()),
        L.LSTM(5),
        L.Dense(2),
    ])
    return m, [[uni(rng, 2, 4, 5, 5, 2)]]


def b_lstm_conv1d_t(rng):
    K, L = mf.K, mf.L
    m = K.Sequential([
        K.Input(shape=(9, 3)),
        L.LSTM(6, return_sequences=True),
        L.Conv1DTranspose(4, 3, strides=2, padding="same"),
        L.Conv1DTranspose(2, 2, strides=3, output_padding=1, activation="sigmoid"),
    ])
    return m, [[uni(rng, 2, 9, 3)]]


def b_upsampling_bilinear(rng):
    K, L = mf.K, mf.L
    img = K.Input(shape=(7, 5, 3))
    one = K.Input(shape=(1, 33, 2))
    outs = [
        L.UpSampling2D(2, interpolation="bilinear")(img),
        L.UpSampling2D((3, 1), interpolation="bilinear")(img),
        L.UpSampling2D((1, 3), interpolation="bilinear", data_format="channels_first")(img),
        L.UpSampling2D((3, 2), interpolation="bilinear")(one),
        L.UpSampling2D(2, interpolation="bicubic")(img),
        L.UpSampling2D((3, 1), interpolation="bicubic", data_format="channels_first")(img),
        L.UpSampling2D((1, 3), interpolation="bicubic")(one),
        L.UpSampling2D((3, 2), interpolation="area")(img),
    ]
    return K.Model([img, one], outs), [[uni(rng, 2, 7, 5, 3), uni(rng, 2, 1, 33, 2)]]


BOTH = ("keras", "h5")
Case = mf.Case
K3_CASES = [
    Case("conv1d-transpose", b_conv1d_t, "Conv1DTranspose valid/same, strides 1-3, output_padding, "
         "dilation, use_bias=False, lengths 7 and 1 (33 channels)", BOTH),
    Case("conv1d-transpose-channels-first", b_conv1d_t_cf, "Conv1DTranspose channels_first", ("keras",)),
    Case("conv2d-transpose", b_conv2d_t, "Conv2DTranspose valid/same, strides 1-3, output_padding, "
         "dilation, use_bias=False, softmax", BOTH),
    Case("conv2d-transpose-channels-first", b_conv2d_t_cf, "Conv2DTranspose channels_first", ("keras",)),
    Case("conv3d-transpose", b_conv3d_t, "Conv3DTranspose valid/same, strides, output_padding, "
         "dilation, channels_first", ("keras",)),
    Case("td-conv2d-transpose-lstm", b_td_conv2d_t_lstm, "TimeDistributed(Conv2DTranspose) -> LSTM",
         ("keras",)),
    Case("lstm-conv1d-transpose", b_lstm_conv1d_t, "LSTM(return_sequences) -> Conv1DTranspose x2",
         ("keras",)),
    Case("upsampling2d-bilinear", b_upsampling_bilinear, "UpSampling2D interpolation=bilinear, "
         "bicubic and area, both data formats, a 1 x 33 image", BOTH),
]
K2_CASES = [
    Case("conv1d-transpose", b_conv1d_t, "Keras 2 Conv1DTranspose options", ("h5",)),
    Case("conv2d-transpose", b_conv2d_t, "Keras 2 Conv2DTranspose options (equal dilation rates)", ("h5",)),
    Case("conv2d-transpose-channels-first", b_conv2d_t_cf, "Keras 2 Conv2DTranspose channels_first",
         ("h5",)),
    Case("conv3d-transpose", b_conv3d_t, "Keras 2 Conv3DTranspose (no dilation)", ("h5",)),
    Case("td-conv2d-transpose-lstm", b_td_conv2d_t_lstm, "Keras 2 TimeDistributed(Conv2DTranspose) -> LSTM",
         ("h5",)),
    Case("upsampling2d-bilinear", b_upsampling_bilinear, "Keras 2 UpSampling2D bilinear, bicubic, area", ("h5",)),
]


if __name__ == "__main__":
    mc.generate(OUT, K3_CASES, K2_CASES, __file__)
