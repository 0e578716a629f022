#!/usr/bin/env python3
"""Write tests/fixtures/models/<case>/: small model files saved by real Keras, plus Keras' outputs.

Every case folder has the same layout as the shared conformance corpus (models/real/): the model
file (`model.keras` or `model.h5`), `case.json`, inputs `x*.npy` and the outputs `y*.npy` that
Keras itself computed with `model(x, training=False)`, so one test runner handles both corpora.

Three families, each model built from small asymmetric random weights (set explicitly after
building: uniform(-0.5, 0.5); BatchNormalization moving_variance uniform(0.5, 1.5)):
  k3-<name>     Keras 3 (keras 3.15.1), saved as .keras (zip)
  k3-<name>-h5  the same Keras 3 model saved as legacy .h5 (`model.save("model.h5")`)
  k2-<name>     Keras 2 (tf_keras 2.21.0), saved as legacy .h5
Keras 2 and Keras 3 cannot share a Python process: without --part the script re-invokes itself
once per family (`--part k3`, then `--part k2` with TF_USE_LEGACY_KERAS=1), then writes the
folder's README.md. Every written file is loaded back by the Keras that wrote it and must
reproduce the stored outputs; otherwise the generator stops.

Run from the repository root (see tools/README.md):
    /work/venv/bin/python tools/make_model_fixtures.py
Deterministic: each case seeds keras.utils.set_random_seed and its own numpy RNG with the
CRC-32 of its name, and the session is cleared before each case (stable auto layer names).
`.keras` zips are normalised after saving (member timestamps 1980-01-01, metadata.json
`date_saved` fixed, `shared_object_id` renumbered) so a rerun gives byte-identical files.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "tests" / "fixtures" / "models"
FIXED_DATE_SAVED = "2026-01-01@00:00:00"
TOL = {"atol": 1e-05, "rtol": 1e-05}
GENERATOR = "tools/make_model_fixtures.py"

# Set by init_framework(): the Keras module (keras 3 or tf_keras), its layers, and 2 or 3.
K = None
L = None
KV = None


def init_framework(part):
    global K, L, KV
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ["CUDA_VISIBLE_DEVICES"] = ""  # CPU only: the generic RNN loop, never cuDNN
    if part == "k2":
        os.environ["TF_USE_LEGACY_KERAS"] = "1"
        import tf_keras as keras_mod
        KV = 2
    else:
        os.environ.setdefault("KERAS_BACKEND", "tensorflow")
        import keras as keras_mod
        KV = 3
    import warnings
    warnings.filterwarnings("ignore")
    import logging
    logging.getLogger("absl").setLevel(logging.ERROR)
    import tensorflow as tf
    tf.get_logger().setLevel("ERROR")
    K = keras_mod
    L = keras_mod.layers


import numpy as np  # noqa: E402


# ---------------------------------------------------------------------------------------------
# Inputs

def uni(rng, *shape):
    return rng.uniform(-1.0, 1.0, shape).astype(np.float32)


def valid_right(T, lengths):
    """Right padding: sample b keeps its first lengths[b] steps."""
    return np.array([[t < n for t in range(T)] for n in lengths], dtype=bool)


def valid_left(T, lengths):
    """Left padding: sample b keeps its last lengths[b] steps."""
    return np.array([[t >= T - n for t in range(T)] for n in lengths], dtype=bool)


def masked_seq(rng, valid, F):
    """float32 (B, T, F) with every feature of an invalid step exactly 0.0 (the mask value)."""
    B, T = valid.shape
    x = uni(rng, B, T, F)
    x[~valid] = 0.0
    return x


def token_ids(rng, valid, vocab):
    """int32 (B, T) indices in [1, vocab) where valid, 0 (the padding index) elsewhere."""
    ids = rng.integers(1, vocab, valid.shape)
    return np.where(valid, ids, 0).astype(np.int32)


def flat(outputs):
    out = []
    if isinstance(outputs, (list, tuple)):
        for o in outputs:
            out.extend(flat(o))
    else:
        out.append(outputs)
    return out


# ---------------------------------------------------------------------------------------------
# Cases: each builder returns (model, calls, extra_note); calls is a list of input lists, one
# per successive call (more than one only for stateful cases).

def b_mlp_dense(rng):
    m = K.Sequential([
        K.Input(shape=(7,)),
        L.Dense(12, activation="relu"),
        L.Dropout(0.3),
        L.Dense(8, activation="tanh", use_bias=False),
        L.ActivityRegularization(l1=0.01, l2=0.01),
        L.Dense(4, activation="softmax"),
    ])
    return m, [[uni(rng, 3, 7)]]


def b_activation_layers(rng):
    inp = K.Input(shape=(5, 6))
    h = L.Dense(8)(inp)
    if KV == 3:
        leaky = L.LeakyReLU(negative_slope=0.2)(h)
    else:
        leaky = L.LeakyReLU(alpha=0.2)(h)
    outs = [
        leaky,
        L.ReLU()(h),
        L.ReLU(max_value=0.6, negative_slope=0.1, threshold=0.15)(h),
        L.ELU(alpha=0.7)(h),
        L.Softmax()(h),
        L.Softmax(axis=1)(h),
    ]
    return K.Model(inp, outs), [[uni(rng, 2, 5, 6) * 2.0]]


ACTIVATION_NAMES = ["linear", "relu", "sigmoid", "hard_sigmoid", "tanh", "softplus", "softsign",
                    "selu", "elu", "exponential", "swish", "gelu", "softmax", "relu6"]


def b_activation_functions(rng):
    inp = K.Input(shape=(6,))
    h = L.Dense(7)(inp)
    outs = [L.Activation(a)(h) for a in ACTIVATION_NAMES]
    return (K.Model(inp, outs), [[uni(rng, 3, 6) * 3.0]],
            "outputs in order: " + ", ".join(ACTIVATION_NAMES))


def b_reshape_ops(rng):
    inp = K.Input(shape=(4, 6))
    x = L.Permute((2, 1))(inp)            # (6, 4)
    x = L.Reshape((3, 8))(x)
    x = L.Dense(5)(x)                      # (3, 5)
    x = L.Flatten()(x)                     # (15,)
    x = L.Dense(6, activation="tanh")(x)
    x = L.RepeatVector(3)(x)               # (3, 6)
    x = L.Reshape((-1, 2))(x)              # (9, 2)
    x = L.Permute((2, 1))(x)               # (2, 9)
    return K.Model(inp, x), [[uni(rng, 2, 4, 6)]]


def b_merge_ops(rng):
    a = K.Input(shape=(6,))
    b = K.Input(shape=(6,))
    c = K.Input(shape=(6,))
    s1 = K.Input(shape=(4, 5))
    s2 = K.Input(shape=(3, 5))
    outs = [
        L.Concatenate()([a, b, c]),
        L.Add()([a, b, c]),
        L.Subtract()([a, b]),
        L.Multiply()([a, b, c]),
        L.Average()([a, b, c]),
        L.Maximum()([a, b, c]),
        L.Minimum()([a, b]),
        L.Dot(axes=1)([a, b]),
        L.Dot(axes=1, normalize=True)([a, c]),
        L.Dot(axes=(2, 2))([s1, s2]),      # (4, 3)
        L.Dot(axes=(1, 1))([s1, s1]),      # (5, 5)
        L.Concatenate(axis=1)([s1, s2]),   # (7, 5)
    ]
    xs = [uni(rng, 3, 6), uni(rng, 3, 6), uni(rng, 3, 6), uni(rng, 3, 4, 5), uni(rng, 3, 3, 5)]
    return K.Model([a, b, c, s1, s2], outs), [xs]


def b_norm(rng):
    m = K.Sequential([
        K.Input(shape=(5, 6)),
        L.Dense(8),
        L.BatchNormalization(),
        L.LayerNormalization(),
        L.Dense(6),
        L.BatchNormalization(center=False, scale=False, epsilon=0.01),
        L.LayerNormalization(center=False, epsilon=1e-3),
        L.Flatten(),
        L.BatchNormalization(momentum=0.9, epsilon=1e-4),
        L.Dense(3),
    ])
    return m, [[uni(rng, 3, 5, 6)]]


def b_conv1d_padding(rng):
    inp = K.Input(shape=(12, 3))
    outs = [
        L.Conv1D(4, 3, padding="valid")(inp),
        L.Conv1D(4, 4, padding="same", strides=2)(inp),
        L.Conv1D(4, 3, padding="causal", dilation_rate=2)(inp),
        L.Conv1D(4, 3, padding="same", dilation_rate=3, activation="relu")(inp),
        L.Conv1D(2, 1, use_bias=False)(inp),
        L.Conv1D(3, 5, padding="valid", strides=3, activation="tanh")(inp),
    ]
    return K.Model(inp, outs), [[uni(rng, 2, 12, 3)]]


def b_conv1d_pooling(rng):
    inp = K.Input(shape=(12, 3))
    x = L.Conv1D(6, 3, activation="relu")(inp)                    # 10
    x = L.MaxPooling1D(2)(x)                                      # 5
    x = L.Conv1D(6, 2, padding="same")(x)                         # 5
    y = L.AveragePooling1D(3, strides=2, padding="same")(x)       # 3 (edges average fewer)
    z = L.MaxPooling1D(2, strides=1, padding="same")(x)           # 5
    w = L.AveragePooling1D(2)(x)                                  # 2
    feats = L.Concatenate()([L.GlobalAveragePooling1D()(y), L.GlobalMaxPooling1D()(z),
                             L.GlobalMaxPooling1D()(w)])
    out = L.Dense(3)(feats)
    return K.Model(inp, [out, y, z]), [[uni(rng, 3, 12, 3)]]


def b_crop_pad_upsample(rng):
    m = K.Sequential([
        K.Input(shape=(8, 3)),
        L.Cropping1D((1, 2)),       # 5
        L.ZeroPadding1D((2, 1)),    # 8
        L.UpSampling1D(2),          # 16
        L.Conv1D(2, 3),             # 14
        L.Cropping1D(1),            # 12
        L.ZeroPadding1D(1),         # 14
    ])
    return m, [[uni(rng, 2, 8, 3)]]


def b_inert_noise(rng):
    inp = K.Input(shape=(8,), dtype="int32")
    x = L.Embedding(12, 6)(inp)     # mask_zero=False: index 0 is an ordinary row
    x = L.SpatialDropout1D(0.3)(x)
    x = L.GaussianNoise(0.5)(x)
    x = L.GaussianDropout(0.3)(x)
    x = L.AlphaDropout(0.2)(x)
    x = L.LSTM(8)(x)
    x = L.Dropout(0.5)(x)
    x = L.ActivityRegularization(l2=0.1)(x)
    out = L.Dense(2)(x)
    ids = rng.integers(0, 12, (3, 8)).astype(np.int32)
    ids[0, :3] = 0
    return K.Model(inp, out), [[ids]], "index 0 present in the inputs but not masked"


def b_embedding_flatten(rng):
    m = K.Sequential([
        K.Input(shape=(5,), dtype="int32"),
        L.Embedding(10, 4),
        L.Flatten(),
        L.Dense(3, activation="sigmoid"),
    ])
    ids = rng.integers(0, 10, (3, 5)).astype(np.int32)
    return m, [[ids]]


def b_lstm_td(rng):
    m = K.Sequential([
        K.Input(shape=(6, 4)),
        L.LSTM(8, return_sequences=True),
        L.TimeDistributed(L.Dense(3)),
    ])
    return m, [[uni(rng, 2, 6, 4)]]


def b_timedistributed_rnn(rng):
    # Hierarchical: each x[b, n] is a sequence of its own (words of a sentence, frames of a
    # clip), then an RNN over n.
    inp = K.Input(shape=(3, 5, 4))
    per = L.TimeDistributed(L.LSTM(6))(inp)
    seqs = L.TimeDistributed(L.Bidirectional(L.GRU(3, return_sequences=True,
                                                   go_backwards=False)))(inp)
    out = L.GRU(4)(per)
    return K.Model(inp, [out, seqs]), [[uni(rng, 2, 3, 5, 4)]], (
        "TimeDistributed(LSTM) and TimeDistributed(Bidirectional(GRU, return_sequences)) on "
        "(batch, 3, 5, 4), then a GRU over the 3 outer steps")


def b_normalization_rescaling(rng):
    # A forecaster's preprocessing kept in the model: adapted Normalization on the features,
    # Rescaling, one per (step, feature) on the LSTM's output, and a given-mean inverse on the
    # target. randomize_weights sets the adapted means and variances.
    inp = K.Input(shape=(6, 3))
    norm = L.Normalization(axis=-1)
    norm.adapt(uni(rng, 20, 6, 3))
    x = L.Rescaling(0.5, offset=0.1)(norm(inp))
    x = L.LSTM(5, return_sequences=True)(x)
    per_step = L.Normalization(axis=(1, 2))
    per_step.adapt(uni(rng, 20, 6, 5))
    x = L.Dense(2)(L.Flatten()(per_step(x)))
    out = L.Normalization(mean=[1.0, -2.0], variance=[4.0, 0.25], invert=True)(x)
    everything = L.Normalization(axis=None, mean=0.3, variance=2.0)(inp)
    return K.Model(inp, [out, everything]), [[uni(rng, 2, 6, 3)]], (
        "Normalization adapted on the last axis and on (1, 2), given mean/variance (list, "
        "invert; scalar, axis None), Rescaling")


def b_keras_ops(rng):
    # Keras ops written between layers of a functional model: attention pooling with
    # ops.softmax/ops.sum, the last step h[:, -1], slices with steps and None, mean/max pooling,
    # arithmetic with constants, matmul/transpose, reshape, where/clip/stack, and token ids
    # sliced (ids[:, 1:]) before an Embedding. The ops drop the Masking mask.
    O = K.ops
    inp = K.Input(shape=(5, 3))
    ids = K.Input(shape=(6,), dtype="int32")
    h = L.LSTM(6, return_sequences=True)(L.Masking()(inp))
    w = O.softmax(L.Dense(1)(h), axis=1)
    attn = O.sum(w * h, axis=1)
    last = L.Dense(2)(h[:, -1])
    pooled = O.concatenate([O.mean(h, axis=1), O.max(h, axis=1, keepdims=False)], axis=-1)
    gru = L.GRU(3)(O.tanh(h * 0.5 + 1.0) - O.exp(h) / 3.0)
    sliced = h[:, ::-1, :3] + h[..., None, 0] - h[:, 1:4:2].shape[1] * h[:, -4, None, 3:]
    sim = O.matmul(h, O.transpose(h, (0, 2, 1)))
    flat = O.reshape(O.where(h > 0, h, 0.1 * h), (-1, 30))
    stacked = O.squeeze(O.stack([O.clip(h, -0.2, 0.3), O.abs(h) ** 2], axis=2)[:, :, 1:], 2)
    emb = L.LSTM(4)(L.Embedding(50, 3)(ids[:, 1:]))
    x = [uni(rng, 2, 5, 3), rng.integers(0, 50, (2, 6)).astype(np.int32)]
    x[0][1, 3:] = 0.0
    return K.Model([inp, ids], [attn, last, pooled, gru, sliced, sim, flat, stacked, emb]), [x], (
        "Keras ops between layers (softmax/sum attention pooling, h[:, -1], mean/max, slices, "
        "arithmetic, matmul/transpose, reshape, where/clip/stack/squeeze, ids[:, 1:] into an "
        "Embedding), masked rows")


def b_simplernn_backwards(rng):
    m = K.Sequential([
        K.Input(shape=(7, 3)),
        L.SimpleRNN(6, activation="relu", go_backwards=True, return_sequences=True),
        L.SimpleRNN(5, go_backwards=True),
        L.Dense(2),
    ])
    return m, [[uni(rng, 2, 7, 3)]]


def b_lstm_return_state(rng):
    inp = K.Input(shape=(6, 4))
    seq, h, c = L.LSTM(7, return_sequences=True, return_state=True)(inp)
    o2, h2, c2 = L.LSTM(5, go_backwards=True, return_state=True)(inp)
    return K.Model(inp, [seq, h, c, o2, h2, c2]), [[uni(rng, 3, 6, 4)]]


def b_lstm_masking_left_pad(rng):
    valid = valid_left(8, [8, 5, 2])
    m = K.Sequential([
        K.Input(shape=(8, 3)),
        L.Masking(mask_value=0.0),
        L.LSTM(8),
        L.Dense(3),
    ])
    return m, [[masked_seq(rng, valid, 3)]], "left padding, lengths 8/5/2"


def b_lstm_masking_holes(rng):
    valid = np.array([[1, 1, 0, 1, 0, 0, 1, 1, 1, 0],
                      [0, 1, 1, 1, 1, 0, 0, 1, 0, 0],
                      [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]], dtype=bool)
    m = K.Sequential([
        K.Input(shape=(10, 4)),
        L.Masking(mask_value=0.0),
        L.LSTM(6, return_sequences=True),
        L.TimeDistributed(L.Dense(2)),
    ])
    return (m, [[masked_seq(rng, valid, 4)]],
            "masked steps in the middle and at both ends; masked steps repeat the previous "
            "output (zeros before the first valid step)")


def b_gru_reset_after(rng):
    m = K.Sequential([
        K.Input(shape=(7, 4)),
        L.GRU(6, reset_after=True, go_backwards=True, return_sequences=True),
        L.GRU(5, reset_after=True),
        L.Dense(2),
    ])
    return m, [[uni(rng, 2, 7, 4)]]


def b_gru_reset_before(rng):
    inp = K.Input(shape=(7, 4))
    out, h = L.GRU(6, reset_after=False, return_state=True)(inp)
    seq = L.GRU(4, reset_after=False, return_sequences=True, go_backwards=True)(inp)
    return K.Model(inp, [out, h, seq]), [[uni(rng, 3, 7, 4)]]


def b_gru_embedding_mask(rng):
    valid = np.array([[1, 1, 1, 1, 1, 1, 0, 0, 0],
                      [1, 1, 0, 1, 1, 0, 1, 0, 0],
                      [1, 1, 1, 1, 1, 1, 1, 1, 1]], dtype=bool)
    m = K.Sequential([
        K.Input(shape=(9,), dtype="int32"),
        L.Embedding(20, 5, mask_zero=True),
        L.GRU(6, return_sequences=True),
        L.GRU(4),
        L.Dense(2),
    ])
    return m, [[token_ids(rng, valid, 20)]], "index 0 = padding: right padding and holes"


def b_simplernn_masked_stack(rng):
    valid = valid_left(8, [8, 4, 6])
    valid[2, 4] = False  # a hole too
    m = K.Sequential([
        K.Input(shape=(8,), dtype="int32"),
        L.Embedding(15, 4, mask_zero=True),
        L.SimpleRNN(6, return_sequences=True),
        L.SimpleRNN(5, return_sequences=True, go_backwards=True),
        L.SimpleRNN(3),
    ])
    return (m, [[token_ids(rng, valid, 15)]],
            "Embedding mask_zero=True, left padding and a hole; the mask flows through two "
            "return_sequences RNNs")


def b_stacked_cells(rng):
    inp = K.Input(shape=(6, 3))
    cells = L.StackedRNNCells([L.SimpleRNNCell(5), L.LSTMCell(6), L.GRUCell(4)])
    outs = flat(L.RNN(cells, return_sequences=True, return_state=True)(inp))
    return (K.Model(inp, outs), [[uni(rng, 2, 6, 3)]],
            "RNN(StackedRNNCells([SimpleRNNCell(5), LSTMCell(6), GRUCell(4)])), "
            "return_sequences + return_state; outputs: sequence, SimpleRNN h, LSTM h, LSTM c, "
            "GRU h")


def b_bidir_merge_modes(rng):
    inp = K.Input(shape=(6, 4))
    outs = [
        L.Bidirectional(L.LSTM(5, return_sequences=True), merge_mode="concat")(inp),
        L.Bidirectional(L.GRU(4), merge_mode="sum")(inp),
        L.Bidirectional(L.SimpleRNN(3, return_sequences=True), merge_mode="mul")(inp),
        L.Bidirectional(L.LSTM(4), merge_mode="ave")(inp),
    ]
    outs += flat(L.Bidirectional(L.GRU(3, return_sequences=True), merge_mode=None)(inp))
    return (K.Model(inp, outs), [[uni(rng, 2, 6, 4)]],
            "merge modes concat, sum, mul, ave, None (last two outputs: forward, backward)")


def b_bidir_return_state(rng):
    inp = K.Input(shape=(6, 4))
    a = L.Bidirectional(L.LSTM(5, return_sequences=True, return_state=True))(inp)
    b = L.Bidirectional(L.GRU(4, return_state=True), merge_mode="sum")(inp)
    return (K.Model(inp, flat(a) + flat(b)), [[uni(rng, 3, 6, 4)]],
            "outputs: LSTM concat sequence, h_fwd, c_fwd, h_bwd, c_bwd; GRU sum output, "
            "h_fwd, h_bwd")


def b_bidir_masked_gap(rng):
    valid = valid_left(7, [7, 4, 5])
    valid[2, 3] = False
    m = K.Sequential([
        K.Input(shape=(7, 3)),
        L.Masking(),
        L.Bidirectional(L.GRU(5, return_sequences=True)),
        L.GlobalAveragePooling1D(),
        L.Dense(2),
    ])
    return (m, [[masked_seq(rng, valid, 3)]],
            "Masking -> Bidirectional(GRU, return_sequences) -> GlobalAveragePooling1D "
            "averages valid steps only")


def b_pooling_masked(rng):
    valid = valid_right(6, [6, 3, 4])
    valid[2, 1] = False
    inp = K.Input(shape=(6,), dtype="int32")
    e = L.Embedding(10, 4, mask_zero=True)(inp)
    d = L.Dense(5)(e)
    outs = [L.GlobalAveragePooling1D()(e), L.GlobalMaxPooling1D()(e),
            L.GlobalAveragePooling1D()(d)]
    note = ("GlobalAveragePooling1D uses the Embedding mask (also after a Dense, which passes "
            "the mask on); GlobalMaxPooling1D ")
    note += "ignores the mask (it does not support masking)"
    return K.Model(inp, outs), [[token_ids(rng, valid, 10)]], note


def b_stateful_lstm(rng):
    inp = K.Input(batch_shape=(2, 5, 3))
    x = L.LSTM(6, stateful=True)(inp)
    out = L.Dense(2)(x)
    calls = [[uni(rng, 2, 5, 3)], [uni(rng, 2, 5, 3)]]
    return K.Model(inp, out), calls, "Input batch_shape (2, 5, 3)"


def b_multi_io_shared(rng):
    sa = K.Input(shape=(6, 4), name="seq_a")
    sb = K.Input(shape=(6, 4), name="seq_b")
    st = K.Input(shape=(3,), name="static")
    shared = L.LSTM(5, name="shared_lstm")
    ha, hb = shared(sa), shared(sb)
    s = L.Dense(4, activation="relu")(st)
    z = L.Concatenate()([ha, hb, s])
    out_cls = L.Dense(3, activation="softmax", name="cls")(z)
    out_reg = L.Dense(1, name="reg")(L.Subtract()([ha, hb]))
    xs = [uni(rng, 2, 6, 4), uni(rng, 2, 6, 4), uni(rng, 2, 3)]
    return (K.Model([sa, sb, st], [out_cls, out_reg]), [xs],
            "one LSTM layer called on two inputs (shared weights); 3 inputs, 2 outputs")


def b_nested_sequential(rng):
    inner = K.Sequential([
        K.Input(shape=(6, 4)),
        L.Dense(5, activation="relu"),
        L.LSTM(4),
    ], name="encoder")
    a = K.Input(shape=(6, 4))
    b = K.Input(shape=(6, 4))
    ea, eb = inner(a), inner(b)
    out = L.Dense(2)(L.Concatenate()([ea, eb]))
    return (K.Model([a, b], [out, ea]), [[uni(rng, 2, 6, 4), uni(rng, 2, 6, 4)]],
            "a Sequential model inside a Functional model, called on two inputs")


def b_encoder_decoder(rng):
    valid = valid_left(7, [7, 4, 6])
    enc_in = K.Input(shape=(7, 4), name="encoder_in")
    dec_in = K.Input(shape=(5, 3), name="decoder_in")
    x = L.Masking()(enc_in)
    _, h, c = L.LSTM(6, return_state=True, name="encoder_lstm")(x)
    y = L.LSTM(6, return_sequences=True, name="decoder_lstm")(dec_in, initial_state=[h, c])
    out = L.TimeDistributed(L.Dense(4, activation="softmax"))(y)
    xs = [masked_seq(rng, valid, 4), uni(rng, 3, 5, 3)]
    return (K.Model([enc_in, dec_in], out), [xs],
            "decoder LSTM with initial_state=[h, c] from the masked (left-padded) encoder")


def b_concat_masks(rng):
    va = valid_right(6, [6, 3, 2])
    vb = valid_left(6, [4, 6, 1])
    a = K.Input(shape=(6,), dtype="int32")
    b = K.Input(shape=(6,), dtype="int32")
    ea = L.Embedding(10, 3, mask_zero=True)(a)
    eb = L.Embedding(10, 3, mask_zero=True)(b)
    o1 = L.LSTM(5)(L.Concatenate()([ea, eb]))
    o2 = L.GRU(4, return_sequences=True)(L.Add()([ea, eb]))
    if KV == 3:
        note = ("Keras 3 combines the two Embedding masks with OR (Concatenate: any over the "
                "concatenated masks; Add: logical_or)")
    else:
        note = ("Keras 2 combines the two Embedding masks with AND (Concatenate: all over the "
                "concatenated masks; Add: all); sample 2 has no step valid in both inputs, so "
                "it is fully masked and its outputs are zeros")
    return K.Model([a, b], [o1, o2]), [[token_ids(rng, va, 10), token_ids(rng, vb, 10)]], note


def b_mask_propagation(rng):
    valid = valid_left(7, [7, 3, 5])
    valid[2, 4] = False
    inp = K.Input(shape=(7, 3))
    m = L.Masking()(inp)
    a = L.Dense(5, activation="tanh")(m)
    a = L.LayerNormalization()(a)
    a = L.BatchNormalization()(a)
    o1 = L.LSTM(4)(a)
    c = L.Conv1D(4, 3, padding="same")(m)
    o2 = L.LSTM(4)(c)
    return (K.Model(inp, [o1, o2]), [[masked_seq(rng, valid, 3)]],
            "Masking -> Dense/LayerNormalization/BatchNormalization keep the mask for the first "
            "LSTM; Conv1D does not support masking and Keras "
            + ("3 drops the mask (with a warning)" if KV == 3 else "2 drops it silently")
            + ", so the second LSTM sees every step")


def b_lstm_hard_sigmoid(rng):
    m = K.Sequential([
        K.Input(shape=(6, 4)),
        L.LSTM(6, recurrent_activation="hard_sigmoid", return_sequences=True),
        L.LSTM(5, activation="relu", recurrent_activation="hard_sigmoid", use_bias=False),
        L.Dense(2),
    ])
    note = ("hard_sigmoid recurrent activation; Keras 3 formula relu6(x + 3) / 6"
            if KV == 3 else
            "hard_sigmoid recurrent activation; Keras 2 formula clip(0.2 * x + 0.5, 0, 1)")
    return m, [[uni(rng, 2, 6, 4) * 3.0]], note


def b_autoencoder(rng):
    m = K.Sequential([
        K.Input(shape=(6, 3)),
        L.LSTM(6),
        L.RepeatVector(6),
        L.LSTM(5, return_sequences=True),
        L.TimeDistributed(L.Dense(3)),
    ])
    return m, [[uni(rng, 2, 6, 3)]]


# Streaming (Model::stream, recur run --chunk): per-step layers and causal Conv1D stream
# exactly; an encoder whose final states start the decoder is refused.

def b_stream_causal_conv_gru(rng):
    m = K.Sequential([
        K.Input(shape=(11, 3)),
        L.Conv1D(5, 2, padding="causal", activation="relu"),
        L.Conv1D(6, 3, padding="causal", dilation_rate=2),
        L.GRU(4, return_sequences=True),
        L.Dense(2),
    ])
    return m, [[uni(rng, 2, 11, 3)]]


def b_stream_lstm_layernorm(rng):
    m = K.Sequential([
        K.Input(shape=(10, 4)),
        L.LSTM(6, return_sequences=True),
        L.LayerNormalization(),
        L.Dense(3, activation="tanh"),
    ])
    return m, [[uni(rng, 2, 10, 4)]]


def b_group_unit_norm(rng):
    # GroupNormalization (groups over the channels, and over the time axis with axis=1) and
    # UnitNormalization (last axis, and (1, 2)) after an LSTM. Keras 3: a masked input, whose
    # mask both pass on to the GRU; tf.keras 2 broadcasts the mask into GroupNormalization's
    # statistics, so its file is unmasked.
    inp = K.Input(shape=(6, 8))
    x = L.Masking()(inp) if hasattr(K, "ops") else inp
    h = L.LSTM(8, return_sequences=True)(x)
    g = L.GroupNormalization(groups=4)(h)
    g2 = L.GroupNormalization(groups=2, axis=1, center=False, epsilon=1e-5)(L.Dense(4)(h))
    u = L.UnitNormalization()(h)
    u2 = L.UnitNormalization(axis=[1, 2])(h)
    out = L.GRU(3)(L.Add()([g, u]))
    xs = uni(rng, 2, 6, 8)
    xs[1, 4:] = 0.0
    return K.Model(inp, [out, g, g2, u2]), [[xs]], (
        "GroupNormalization (groups=4; groups=2 on axis 1, center off) and UnitNormalization "
        "(last axis; (1, 2)) after an LSTM, then a GRU")


def b_category_layers(rng):
    # Discretization, CategoryEncoding and IntegerLookup ahead of Embeddings and RNNs. The
    # vocabulary is in the config (an adapted one is in the .keras assets: adapted-lookup).
    # Keras 3 only keeps integer results exact for the Embeddings; ids with the mask token 0
    # padded at the end reach a masked Embedding through the lookup.
    x1 = K.Input(shape=(7,))
    x2 = K.Input(shape=(7, 1))
    ids = K.Input(shape=(7,), dtype="int64")
    cats = K.Input(shape=(4,), dtype="int64")
    cat1 = K.Input(shape=(1,), dtype="int64")
    b1 = L.Discretization(bin_boundaries=[-1.0, -0.25, 0.0, 0.5, 0.75])(x1)
    e1 = L.Embedding(6, 3)(b1)
    oh = L.Discretization(bin_boundaries=[-0.5, 0.5], output_mode="one_hot")(x2)
    lk = L.IntegerLookup(vocabulary=[5, 17, 3, 99, 1000003], mask_token=0, num_oov_indices=2)(ids)
    e2 = L.Embedding(8, 4, mask_zero=True)(lk)
    seq = L.GRU(5)(L.Concatenate()([e1, oh, e2]))
    cnt = L.CategoryEncoding(num_tokens=6, output_mode="count")(cats)
    mh = L.IntegerLookup(vocabulary=[2, 4, 6], output_mode="multi_hot", mask_token=0)(cats)
    oh1 = L.CategoryEncoding(num_tokens=5, output_mode="one_hot")(cat1)
    dense = L.Dense(3)(L.Concatenate()([cnt, mh, oh1, seq]))
    inv = L.IntegerLookup(vocabulary=[10, 20, 30], invert=True, mask_token=7)(cats)
    oh_ids = L.IntegerLookup(vocabulary=[5, 17, 3, 42, -7], output_mode="one_hot", num_oov_indices=0,
                             mask_token=0)(ids[:, :3])
    xs1 = uni(rng, 3, 7) * 1.5
    xs1[0, :5] = [-1.0, -0.25, 0.0, 0.5, 0.75]  # on the boundaries
    xs2 = uni(rng, 3, 7, 1)
    idv = np.array([[5, 17, 3, 99, 1000003, 0, 0], [3, 42, -7, 5, 0, 0, 0],
                    [17, 5, 3, 8, 1000003, 99, 0]], dtype=np.int64)
    cv = np.array([[0, 5, 5, 2], [7, 1, 9, 0], [3, 3, 3, 4]], dtype=np.int64)
    c1 = np.array([[4], [-1], [6]], dtype=np.int64)
    return K.Model([x1, x2, ids, cats, cat1], [dense, b1, lk, inv, oh_ids, mh]), [
        [xs1, xs2, idv, cv, c1]], (
        "Discretization (int into an Embedding; one_hot), IntegerLookup (mask token, 2 OOV "
        "indices into a masked Embedding; multi_hot; invert; one_hot), CategoryEncoding (count "
        "with categories past the depth; one_hot with -1 and 6) into a GRU and a Dense")


def b_argmax(rng):
    # ops.argmax / argmin after an LSTM: over the features, over time with keepdims, over
    # everything; ties and -0/+0 in a second branch; token ids' argmax (integers).
    O = K.ops
    inp = K.Input(shape=(6, 3))
    ids = K.Input(shape=(5,), dtype="int64")
    h = L.LSTM(4, return_sequences=True)(inp)
    r = O.floor(h * 2.0) * 0.0  # -0 where h < 0, +0 elsewhere: ties and signed zeros
    outs = [O.argmax(h, axis=-1), O.argmin(h, axis=1, keepdims=True), O.argmax(h),
            O.argmax(r, axis=-1), O.argmin(inp, axis=-1), O.argmax(ids, axis=1)]
    xs = uni(rng, 2, 6, 3)
    xs[0, 0] = [0.0, -0.0, 0.0]
    xs[0, 1] = [np.nan, 1.0, 2.0]
    xs[1, 2] = [5.0, 5.0, -1.0]
    return K.Model([inp, ids], outs), [[xs, np.array([[3, 9, 9, 1, 0], [-4, -9, 70000001, 2,
                                                                       70000001]])]], (
        "ops.argmax/argmin over the features, over time (keepdims), over everything, with "
        "-0/+0 ties, NaN and equal values; argmax of int64 ids")


def b_repeat_tile_ops(rng):
    # ops.repeat / tile / cumsum / round between RNNs: a context vector repeated over time
    # (the seq2seq pattern), per-step repeats, features tiled, running sums over time, rounding
    # (half to even, and with decimals).
    O = K.ops
    inp = K.Input(shape=(5, 3))
    h = L.LSTM(4, return_sequences=True)(inp)
    ctx = O.repeat(O.expand_dims(h[:, -1], 1), 5, axis=1)
    steps = O.repeat(h, [1, 2, 0, 1, 3], axis=1)
    y = L.GRU(3)(O.concatenate([ctx, O.tile(h, [1, 1, 2]), O.cumsum(h, axis=1)], axis=-1))
    r = O.round(h * 4.0) + O.round(h, 2) + O.round(O.repeat(h, 2, axis=2)[..., :4] * 2.5)
    ids = K.Input(shape=(6,), dtype="int64")
    csi = O.cumsum(ids, axis=1)  # integers sum as integers (past float32's 2^24)
    csa = O.cumsum(O.argmax(h, axis=-1), axis=1)
    xs = uni(rng, 2, 5, 3)
    idv = np.array([[2**24, 1, 1, -3, 7, 0], [5, 2**30, -(2**30), 1, 1, 1]], dtype=np.int64)
    return K.Model([inp, ids], [y, steps, r, O.tile(h[:, 0], [3]), csi, csa]), [[xs, idv]], (
        "ops.repeat (a final output over time; per-step counts; features), tile, cumsum over "
        "time (of floats, of int64 ids, of argmax indices) and round (decimals 0 and 2) around "
        "an LSTM and a GRU")


def b_gather_ops(rng):
    # ops.take (constant indices: a list, nested lists, one int, a constant tensor, negative
    # ones), ops.take_along_axis (argmax's indices; token ids picking steps) and ops.one_hot
    # (ids into an LSTM; out-of-range ids; classes before the time axis) between RNNs.
    O = K.ops
    inp = K.Input(shape=(5, 3))
    ids = K.Input(shape=(6,), dtype="int64")
    h = L.LSTM(4, return_sequences=True)(inp)
    t1 = O.take(h, [0, 2, 2, -1], axis=1)
    t2 = O.take(h, [[3, 0], [1, 1]], axis=2)
    t3 = O.take(h, 1, axis=-1)
    t4 = O.take(h, O.convert_to_tensor([1, 0]), axis=2)
    y = L.GRU(3)(O.concatenate([t1, t1 * 2.0], axis=-1))
    ta = O.take_along_axis(h, O.argmax(h, axis=-1, keepdims=True), axis=-1)
    steps = O.take_along_axis(h[:, :, 0], ids, axis=1)
    oh = O.one_hot(ids, 7)
    z = L.LSTM(2)(oh)
    oh2 = O.one_hot(ids, 4, axis=1)
    idv = np.array([[0, 1, 4, -1, 3, 2], [4, 4, 0, -5, 1, 1]], dtype=np.int64)
    return K.Model([inp, ids], [y, t2, t3, t4, ta, steps, z, oh2]), [[uni(rng, 2, 5, 3), idv]], (
        "ops.take (a list, nested lists, one int, a constant tensor, negative indices), "
        "take_along_axis (argmax indices; ids picking steps) and one_hot (into an LSTM, "
        "out-of-range ids, axis=1) around an LSTM and a GRU")


def b_norm_ops(rng):
    # ops.norm (ord None, 1, inf, -inf, 0, 3; Frobenius over two axes; keepdims) and
    # ops.normalize (order 2 and 1) between RNNs; a zero step meets normalize's epsilon.
    O = K.ops
    inp = K.Input(shape=(5, 3))
    h = L.LSTM(4, return_sequences=True)(inp)
    n = [O.norm(h, axis=-1), O.norm(h, ord=1, axis=2, keepdims=True),
         O.norm(h, ord=float("inf"), axis=-1), O.norm(h, ord=float("-inf"), axis=1),
         O.norm(h, ord=0, axis=-1), O.norm(h, ord=3, axis=-1), O.norm(h, axis=(1, 2))]
    y = L.GRU(3)(O.normalize(h, axis=-1) + O.normalize(inp, axis=-1, order=1)[..., :1])
    xs = uni(rng, 2, 5, 3)
    xs[1, 2] = 0.0
    return K.Model(inp, [y] + n + [O.normalize(inp, axis=-1)]), [[xs]], (
        "ops.norm (ord None, 1, inf, -inf, 0, 3, Frobenius, keepdims) and ops.normalize "
        "(order 2 and 1, a zero step) around an LSTM and a GRU")


def b_einsum_ops(rng):
    # EinsumDense in its GEMM forms (abc,cd->abd; abc,cde->abde; ...b,bc->...c) and loop forms
    # (a transposed kernel; the time axis moved behind a new one, its bias along axis 1), and
    # ops.einsum / ops.cumprod between RNNs; integer ids through cumprod stay exact.
    O = K.ops
    inp = K.Input(shape=(5, 3))
    ids = K.Input(shape=(4,), dtype="int64")
    h = L.LSTM(4, return_sequences=True)(inp)
    d1 = L.EinsumDense("abc,cd->abd", output_shape=(5, 6), bias_axes="d",
                       activation="tanh")(h)
    d2 = L.EinsumDense("abc,cde->abde", output_shape=(None, 2, 3), bias_axes="de")(h)
    d3 = L.EinsumDense("...b,bc->...c", output_shape=5, bias_axes="c")(h)
    d4 = L.EinsumDense("abc,dc->abd", output_shape=(None, 3), bias_axes="d")(h)
    d5 = L.EinsumDense("abc,cde->adbe", output_shape=(2, None, 3), bias_axes="d")(h)
    d6 = L.EinsumDense("ab,bc->ac", output_shape=3)(inp[:, 0])
    y = L.GRU(3)(O.concatenate([d1, O.einsum("btc,bsc->bts", d1, d1)], axis=-1))
    outs = [y, d2, d3, d4, d5, d6,
            O.einsum("btc,btd->bcd", h, inp),
            O.einsum("btc,btc->bt", h, h),
            O.einsum("...c,...c->...", h, d3[..., :4]),
            O.einsum("bij->bji", h),
            O.cumprod(h * 0.5 + 1.0, axis=1),
            O.cumprod(ids, axis=1)]
    return K.Model([inp, ids], outs), [
        [uni(rng, 2, 5, 3), np.array([[3, -1, 4, 2], [2, 6, 5, 3]], dtype=np.int64)]], (
        "EinsumDense (GEMM forms abc,cd->abd with tanh, abc,cde->abde, ...b,bc->...c, ab,bc->ac; "
        "loop forms abc,dc->abd and abc,cde->adbe with bias on axis 1), ops.einsum (batched "
        "product, sum over time, per-step dot, ellipsis, transpose) and ops.cumprod of floats "
        "and int64 ids, around an LSTM and a GRU")


def b_rms_norm(rng):
    # RMSNormalization over features, over (time, features) with epsilon 1e-3, and over time
    # where Keras multiplies its (T,) scale into the last axis (T == features), around RNNs.
    inp = K.Input(shape=(5, 3))
    h = L.LSTM(5, return_sequences=True)(inp)
    a = L.RMSNormalization()(h)
    b = L.RMSNormalization(axis=[1, 2], epsilon=1e-3)(h)
    c = L.RMSNormalization(axis=1)(h)
    return K.Model(inp, [L.GRU(3)(a + b + c), a, b, c]), [[uni(rng, 2, 5, 3)]], (
        "RMSNormalization (features; time and features with epsilon 1e-3; time, its scale on the "
        "last axis) around an LSTM and a GRU")


def b_augment(rng):
    # Random image augmentations (the identity at inference) ahead of Conv2D -> LSTM. (Keras
    # 3.15 cannot save them to .h5, nor reload its RandomShear or build Equalization in a graph.)
    img = K.Input(shape=(8, 8, 3))
    z = img
    for layer in [L.RandomFlip(), L.RandomRotation(0.2), L.RandomZoom(0.1),
                  L.RandomTranslation(0.1, 0.1), L.RandomContrast(0.3), L.RandomBrightness(0.2),
                  L.RandomCrop(8, 8), L.RandomGrayscale(0.5), L.RandomHue(0.2, value_range=(0, 1)),
                  L.RandomSaturation(0.3, value_range=(0, 1)), L.RandomErasing(value_range=(0, 1)),
                  L.MixUp(), L.CutMix(), L.RandAugment(value_range=(0, 1))]:
        z = layer(z)
    z = L.Reshape((6, 24))(L.Conv2D(4, 3)(z))
    return K.Model(img, L.LSTM(3)(z)), [[rng.uniform(0, 1, (2, 8, 8, 3)).astype("float32")]], (
        "14 random image augmentations (identities at inference) ahead of Conv2D -> LSTM")


def b_adaptive_pool(rng):
    # Adaptive poolings: 1D after a Conv1D (8 steps into 4, 3 and 11 windows: sizes 2, 3 or 4,
    # and repeats), 2D channels_last and channels_first, 3D; an LSTM reads the pooled steps.
    seq, img, vol = K.Input(shape=(10, 3)), K.Input(shape=(7, 9, 2)), K.Input(shape=(5, 6, 7, 2))
    c = L.Conv1D(4, 3)(seq)
    outs = [L.LSTM(3)(L.AdaptiveAveragePooling1D(4)(c)), L.AdaptiveMaxPooling1D(3)(c),
            L.AdaptiveAveragePooling1D(11)(c), L.AdaptiveMaxPooling2D((3, 4))(img),
            L.AdaptiveAveragePooling2D(5)(img),
            L.AdaptiveAveragePooling2D((2, 3), data_format="channels_first")(img),
            L.AdaptiveAveragePooling3D((2, 3, 4))(vol), L.AdaptiveMaxPooling3D(2)(vol)]
    return K.Model([seq, img, vol], outs), [
        [uni(rng, 2, 10, 3), uni(rng, 2, 7, 9, 2), uni(rng, 2, 5, 6, 7, 2)]], (
        "AdaptiveAverage/MaxPooling1D after a Conv1D (into 4, 3 and 11 windows) -> LSTM, 2D "
        "(channels_last and channels_first) and 3D")


def b_math_ops(rng):
    # Element-wise math (trigonometry, erf, log2/log10/exp2, trunc, reciprocal, rsqrt, floor
    # division and modulo of both signs, arctan2, hypot, isnan/isinf/isfinite, nan_to_num of
    # log's NaNs) and the reductions prod, var, std, logsumexp, around an LSTM and a GRU.
    O = K.ops
    inp = K.Input(shape=(5, 3))
    h = L.LSTM(4, return_sequences=True)(inp)
    t = O.tanh(h) * 0.9
    u = [O.sin(h * 3.0), O.cos(h * 3.0), O.tan(t), O.arcsin(t), O.arccos(t), O.arctan(h * 4.0),
         O.sinh(h), O.cosh(h), O.arcsinh(h * 5.0), O.arccosh(1.0 + h * h), O.arctanh(t),
         O.erf(h * 2.0), O.log2(O.abs(h) + 0.1), O.log10(O.abs(h) + 0.1), O.exp2(h),
         O.trunc(h * 7.0), O.reciprocal(h + 2.0), O.rsqrt(O.abs(h) + 0.5),
         O.floor_divide(h * 7.0, 0.6), O.mod(h * 7.0, -0.6), O.mod(h * 7.0, 0.6),
         O.arctan2(h, h * 0.5 - 0.1), O.hypot(h, h * 0.5 - 0.1),
         O.isnan(O.log(h)) * 1.0, O.isinf(O.log(O.abs(h) * 0.0)) * 1.0,
         O.isfinite(O.log(h)) * 1.0, O.nan_to_num(O.log(h), nan=-7.0)]
    y = L.GRU(3)(O.concatenate([O.sin(h), O.erf(h), O.mod(h, 0.3)], axis=-1))
    r = [O.prod(h + 1.0, axis=-1), O.var(h, axis=1), O.std(h, axis=-1, keepdims=True),
         O.logsumexp(h, axis=-1), O.logsumexp(h * 30.0, axis=1)]
    # Reversed time into a GRU, and shape moves that keep the batch axis first.
    r += [L.GRU(2, return_sequences=True)(O.flip(h, axis=1)), O.flip(h, axis=[1, 2]),
          O.roll(h, 2, axis=1), O.roll(h, [1, -3], axis=[1, 2]), O.swapaxes(h, 1, 2),
          O.moveaxis(O.reshape(h, (-1, 5, 2, 2)), [1, 2], [3, 1])]
    return K.Model(inp, [y] + u + r), [[uni(rng, 2, 5, 3)]], (
        "element-wise math ops (trigonometry, erf, log2/log10/exp2, trunc, reciprocal, rsqrt, "
        "floor_divide, mod of both signs, arctan2, hypot, isnan/isinf/isfinite, nan_to_num) and "
        "prod/var/std/logsumexp, flip, roll, swapaxes and moveaxis around an LSTM and GRUs")


def b_nn_ops(rng):
    # keras.ops activations with parameters (celu, shrinks, squareplus, threshold, glu,
    # sparsemax, ...), numpy functions (cbrt, erfc, sinc at 0, deg2rad, signbit, logaddexp,
    # divide_no_nan by 0, fmod), amax/amin/ptp/count_nonzero/moments, sort/argsort/top_k with
    # ties, pad (constant with a value, reflect, symmetric) and diff, of floats and of int64 ids.
    O = K.ops
    inp = K.Input(shape=(5, 3))
    ids = K.Input(shape=(6,), dtype="int64")
    h = L.LSTM(4, return_sequences=True)(inp)
    q = O.round(h * 3.0)  # ties and exact zeros
    u = [O.celu(h * 3.0, alpha=0.7), O.hard_shrink(h, 0.3), O.soft_shrink(h, 0.2),
         O.squareplus(h, 3.0), O.threshold(h, 0.1, -2.0), O.sparse_plus(h * 2.0),
         O.sparse_sigmoid(h * 2.0), O.tanh_shrink(h * 2.0), O.hard_tanh(h * 2.0),
         O.glu(h, axis=-1), O.sparsemax(h * 3.0, axis=-1), O.sparsemax(h * 3.0, axis=1),
         O.cbrt(h), O.erfc(h), O.sinc(q * 0.5), O.deg2rad(h * 90.0), O.rad2deg(h),
         O.signbit(q - 0.5) * 1.0, O.logaddexp(h, h * 2.0 - 0.3), O.divide_no_nan(h, q),
         O.fmod(h * 5.0, -0.7), O.fmod(h * 5.0, 0.7), O.stop_gradient(h), O.copy(h)]
    y = L.GRU(3)(O.concatenate([O.celu(h), O.glu(O.concatenate([h, h * 2.0], axis=-1))],
                               axis=-1))
    mean, var = O.moments(h, axes=[1])
    m2, v2 = O.moments(h, axes=[1, 2], keepdims=True)
    vals, pos = O.top_k(q, 2)
    r = [O.amax(h, axis=1), O.amin(h, axis=-1, keepdims=True), O.ptp(h, axis=1),
         O.count_nonzero(q, axis=1), mean, var, m2, v2,
         O.sort(q, axis=-1), O.argsort(q, axis=-1), O.sort(h, axis=1), O.argsort(q, axis=1),
         vals, pos, O.pad(h, [[0, 0], [2, 0], [0, 0]]),
         O.pad(h, [[0, 0], [1, 2], [0, 1]], constant_values=-1.5),
         O.pad(h, [[0, 0], [2, 1], [3, 0]], mode="reflect"),
         O.pad(h, [[0, 0], [0, 0], [2, 4]], mode="symmetric"),
         O.diff(h, axis=1), O.diff(h, n=2, axis=-1),
         L.GRU(2)(O.pad(h, [[0, 0], [3, 0], [0, 0]])), L.GRU(2)(O.diff(h, axis=1))]
    u0, _, _, u3 = O.unstack(h, axis=2)
    r += [O.tril(h), O.tril(h, k=-1), O.triu(h, k=1), O.logical_xor(q, h > 0) * 1.0, u0, u3,
          L.GRU(2)(O.triu(h, k=-2))]
    r += [O.sort(ids, axis=-1), O.argsort(ids, axis=-1), O.top_k(ids, 3)[0],
          O.pad(ids, [[0, 0], [2, 1]], constant_values=7), O.diff(ids), O.count_nonzero(ids, 1)]
    return K.Model([inp, ids], [y] + u + r), [
        [uni(rng, 2, 5, 3), np.array([[3, 1, 4, 1, 5, 9], [2, 6, 5, 3, 5, 0]], dtype=np.int64)]], (
        "keras.ops activations with parameters (celu, hard/soft shrink, squareplus, threshold, "
        "glu, sparsemax, ...), cbrt/erfc/sinc/deg2rad/signbit/logaddexp/divide_no_nan/fmod, "
        "amax/amin/ptp/count_nonzero/moments, sort/argsort/top_k with ties, pad (constant, "
        "reflect, symmetric) and diff, of floats and int64 ids, around an LSTM and GRUs")


def b_spectral_norm(rng):
    # SpectralNormalization around Dense, Conv1D and Embedding-free layers, trained one step so
    # the stored kernel is the normalized one and vector_u is not its initial value; a masked
    # sequence through it: the mask stops there (the next LSTM runs every step).
    inp = K.Input(shape=(6, 3))
    m = L.Masking(0.0)(inp)
    h = L.LSTM(4, return_sequences=True)(m)
    d = L.SpectralNormalization(L.Dense(5, activation="tanh"))(h)
    c = L.SpectralNormalization(L.Conv1D(3, 2, padding="causal"), power_iterations=2)(d)
    y = L.LSTM(3)(d)
    z = L.SpectralNormalization(L.Dense(2))(y)
    model = K.Model(inp, [y, z, c])
    model.compile("sgd", "mse")
    x = uni(rng, 4, 6, 3)
    x[1, 4:] = 0.0
    model.fit(x, [uni(rng, 4, 3), uni(rng, 4, 2), uni(rng, 4, 6, 3)], epochs=1, verbose=0)
    return model, [[x]], (
        "SpectralNormalization of Dense, Conv1D (power_iterations 2) and a head, trained one "
        "step; a masked sequence whose mask stops at the wrapper")


def b_resizing(rng):
    # Resizing (bilinear, nearest, bicubic; crop_to_aspect_ratio both ways; channels_first)
    # and CenterCrop on images, and a sequence of images resized per step into a ConvLSTM2D.
    img = K.Input(shape=(8, 10, 2))
    seq = K.Input(shape=(3, 7, 9, 2))
    outs = [L.Resizing(5, 7)(img), L.Resizing(12, 9, interpolation="nearest")(img),
            L.Resizing(6, 6, interpolation="bicubic", crop_to_aspect_ratio=True)(img),
            L.Resizing(4, 9, interpolation="nearest", crop_to_aspect_ratio=True)(img),
            L.Resizing(3, 5, data_format="channels_first")(img), L.CenterCrop(5, 6)(img),
            L.CenterCrop(8, 3)(img)]
    h = L.TimeDistributed(L.Resizing(5, 5))(seq)
    outs.append(L.ConvLSTM2D(2, 3)(h))
    return K.Model([img, seq], outs), [[uni(rng, 2, 8, 10, 2), uni(rng, 2, 3, 7, 9, 2)]], (
        "Resizing (bilinear, nearest, bicubic, crop_to_aspect_ratio, channels_first) and "
        "CenterCrop of images; a sequence of images resized per step into a ConvLSTM2D")


def b2_resizing(rng):
    img = K.Input(shape=(8, 10, 2))
    outs = [L.Resizing(5, 7)(img), L.Resizing(12, 9, interpolation="nearest")(img),
            L.Resizing(6, 6, interpolation="bicubic", crop_to_aspect_ratio=True)(img),
            L.CenterCrop(5, 6)(img)]
    return K.Model(img, outs), [[uni(rng, 2, 8, 10, 2)]]


def b_pipeline(rng):
    # keras.layers.Pipeline of preprocessing layers (an adapted Normalization, Rescaling,
    # GaussianNoise) before an LSTM; one ending in Masking before a GRU, whose mask reaches the
    # GRU; an image Pipeline of augmentations (identities at inference) and Resizing.
    inp = K.Input(shape=(6, 3))
    seq = K.Input(shape=(6, 3))
    img = K.Input(shape=(8, 8, 2))
    p = L.Pipeline([L.Rescaling(2.0, offset=0.5), L.GaussianNoise(0.1), L.Dropout(0.5)])
    masked = L.Pipeline([L.Rescaling(0.5), L.Masking(0.0)])
    aug = L.Pipeline([L.RandomFlip(), L.RandomRotation(0.2), L.Resizing(4, 4)])
    s_in = uni(rng, 2, 6, 3)
    s_in[1, 3:] = 0.0
    outs = [L.LSTM(3)(p(inp)), L.GRU(2, return_sequences=True)(masked(seq)), aug(img)]
    return K.Model([inp, seq, img], outs), [[uni(rng, 2, 6, 3), s_in, uni(rng, 2, 8, 8, 2)]], (
        "Pipelines of preprocessing layers before an LSTM (adapted Normalization, Rescaling, "
        "GaussianNoise), one ending in Masking before a GRU, and one of image augmentations "
        "and Resizing")


def b_split_ops(rng):
    # ops.split between RNNs: a GLU-style gate (two equal halves of the features), pieces at
    # indices (one of them empty), and token ids split along time (integers).
    O = K.ops
    inp = K.Input(shape=(5, 3))
    ids = K.Input(shape=(6,), dtype="int64")
    h = L.LSTM(6, return_sequences=True)(inp)
    a, b = O.split(h, 2, axis=-1)
    y = L.GRU(3)(a * O.sigmoid(b))
    p, q, r = O.split(h, [2, 2], axis=2)
    t0, t1 = O.split(ids, [4], axis=1)
    return K.Model([inp, ids], [y, p, q, r, t1, O.split(h, 5, axis=1)[3]]), [
        [uni(rng, 2, 5, 3), np.array([[3, 1, 4, 1, 5, 9], [2, 6, 5, 3, 5, 8]], dtype=np.int64)]], (
        "ops.split into equal halves (a gate before a GRU), at indices [2, 2] (an empty piece), "
        "along time, and of int64 ids")


def b2_repeat_tile_ops(rng):
    import tensorflow as tf
    inp = K.Input(shape=(5, 3))
    h = L.LSTM(4, return_sequences=True)(inp)
    ctx = tf.repeat(tf.expand_dims(h[:, -1], 1), 5, axis=1)
    y = L.GRU(3)(tf.concat([ctx, tf.tile(h, [1, 1, 2]), tf.math.cumsum(h, axis=1)], axis=-1))
    return K.Model(inp, [y, tf.math.round(h * 4.0)]), [[uni(rng, 2, 5, 3)]]


def b2_argmax(rng):
    # tf.argmax / tf.math.argmin (TFOpLambda) after an LSTM.
    import tensorflow as tf
    inp = K.Input(shape=(6, 3))
    h = L.LSTM(4, return_sequences=True)(inp)
    outs = [tf.argmax(h, axis=-1), tf.math.argmin(h, 1, output_type=tf.int32), tf.argmax(h)]
    xs = uni(rng, 2, 6, 3)
    return K.Model(inp, outs), [[xs]]


def b_hashing(rng):
    # Hashing (FarmHash, SipHash with a salt, a mask bucket) of float and int64 inputs into
    # Embeddings and RNNs, counts and one_hot; IntegerLookup's farmhash OOV buckets.
    x = K.Input(shape=(6,))
    ids = K.Input(shape=(5,), dtype="int64")
    cats = K.Input(shape=(4,), dtype="int64")
    cat1 = K.Input(shape=(1,), dtype="int64")
    hx = L.Hashing(num_bins=11)(x)
    hm = L.Hashing(num_bins=9, mask_value=-1)(x)  # the mask is compared before the cast
    hi = L.Hashing(num_bins=50, salt=[7, 2**40 + 3], mask_value=0)(ids)
    seq1 = L.GRU(4)(L.Concatenate()([L.Embedding(11, 3)(hx), L.Embedding(9, 2)(hm)]))
    seq2 = L.LSTM(3)(L.Embedding(50, 4, mask_zero=True)(hi))
    cnt = L.Hashing(num_bins=6, output_mode="count")(cats)
    oh = L.Hashing(num_bins=5, salt=123, output_mode="one_hot")(cat1)
    lk = L.IntegerLookup(vocabulary=[5, 17, 3], num_oov_indices=7, oov_method="farmhash")(ids)
    lks = L.IntegerLookup(vocabulary=[5, 17, 3], num_oov_indices=4, oov_method="farmhash",
                          salt=[1, -2], mask_token=0)(ids)
    ca, cb = K.Input(shape=(1,), dtype="int64"), K.Input(shape=(1,), dtype="int64")
    cross = L.HashedCrossing(num_bins=13)([ca, cb])
    cross3 = L.HashedCrossing(num_bins=4, output_mode="one_hot")([cb, cat1])
    ec = L.Flatten()(L.Embedding(13, 2)(cross))
    dense = L.Dense(3)(L.Concatenate()([seq1, seq2, cnt, oh, ec, cross3]))
    xs = uni(rng, 3, 6) * 40.0
    xs[0, :6] = [-1.0, -1.7, -0.0, 2.9, 1e6, -123456.5]
    idv = np.array([[5, 17, 3, 0, 0], [2**62 + 5, -(2**63), 99, 3, 0],
                    [123456789, -1, 1, 17, 8]], dtype=np.int64)
    cv = np.array([[0, 5, 5, 2], [7, -1, 9, 0], [3, 3, 3, 2**40]], dtype=np.int64)
    c1 = np.array([[4], [-1], [6]], dtype=np.int64)
    cav = np.array([[3], [-(2**63)], [2**40]], dtype=np.int64)
    cbv = np.array([[7], [0], [-1]], dtype=np.int64)
    return K.Model([x, ids, cats, cat1, ca, cb], [dense, hx, hm, hi, lk, lks, cnt, oh, cross]), [
        [xs, idv, cv, c1, cav, cbv]], (
        "Hashing of float inputs (cast toward zero; a mask_value compared before the cast) and "
        "int64 ids (SipHash salt, mask bucket into a masked Embedding), count and one_hot; "
        "IntegerLookup with farmhash OOV buckets (with and without a salt); HashedCrossing of 2 "
        "int64 features (into an Embedding; one_hot)")


def b_adapted_lookup(rng):
    # Adapted layers: IntegerLookup's vocabulary goes to the .keras assets, Discretization's
    # boundaries to its config.
    ids = K.Input(shape=(6,), dtype="int64")
    x = K.Input(shape=(6,))
    lk = L.IntegerLookup(num_oov_indices=1)
    lk.adapt(np.array([[4, 4, 4, 9, 9, 12, 30, 30, 30, 30, 7]], dtype=np.int64))
    d = L.Discretization(num_bins=4, epsilon=0.01)
    d.adapt(uni(rng, 50, 6))
    h = L.Concatenate()([L.Embedding(6, 3)(lk(ids)), L.Embedding(4, 2)(d(x))])
    out = L.LSTM(4)(h)
    idv = np.array([[4, 9, 12, 30, 7, 5], [30, 30, 1, 4, 9, 12]], dtype=np.int64)
    return K.Model([ids, x], [out, lk(ids)]), [[idv, uni(rng, 2, 6)]], (
        "adapted IntegerLookup (vocabulary in the archive's assets) and Discretization "
        "(num_bins=4) into Embeddings and an LSTM")


def b2_category_layers(rng):
    # tf.keras 2: Discretization with given boundaries, CategoryEncoding (multi_hot, one_hot
    # of a (batch, 1) input); every category in range (tf.keras asserts it).
    x = K.Input(shape=(7,))
    cats = K.Input(shape=(4,), dtype="int64")
    cat1 = K.Input(shape=(1,), dtype="int64")
    b = L.Discretization(bin_boundaries=[-0.5, 0.0, 0.5])(x)
    h = L.LSTM(4)(L.Embedding(4, 3)(b))
    mh = L.CategoryEncoding(num_tokens=6, output_mode="multi_hot")(cats)
    cnt = L.Discretization(bin_boundaries=[-0.5, 0.0, 0.5], output_mode="count")(x)
    oh = L.CategoryEncoding(num_tokens=5, output_mode="one_hot")(cat1)
    out = L.Dense(2)(L.Concatenate()([h, mh, oh, cnt]))
    xs = uni(rng, 3, 7)
    xs[0, :3] = [-0.5, 0.0, 0.5]
    return K.Model([x, cats, cat1], [out, b]), [[xs, np.array([[0, 5, 5, 2], [1, 1, 3, 4],
                                                               [0, 0, 0, 0]], dtype=np.int64),
                                                 np.array([[4], [0], [2]], dtype=np.int64)]]


def b2_hashing(rng):
    # tf.keras 2 Hashing of int64 inputs (floats fail there): FarmHash, a salt and a mask.
    ids = K.Input(shape=(5,), dtype="int64")
    h1 = L.Hashing(num_bins=9)(ids)
    h2 = L.Hashing(num_bins=20, salt=5, mask_value=0)(ids)
    seq = L.LSTM(4)(L.Concatenate()([L.Embedding(9, 3)(h1), L.Embedding(20, 2)(h2)]))
    idv = np.array([[5, 17, 3, 0, 0], [2**62 + 5, -(2**63), 99, 3, 0]], dtype=np.int64)
    return K.Model(ids, [seq, h1, h2]), [[idv]]


def b2_hashed_crossing(rng):
    # tf.keras 2 HashedCrossing of two and of three int64 features (Keras 3 takes two only).
    ca, cb = K.Input(shape=(1,), dtype="int64"), K.Input(shape=(1,), dtype="int64")
    cross = L.HashedCrossing(num_bins=7)([ca, cb])
    cross3 = L.HashedCrossing(num_bins=5, output_mode="one_hot")([ca, cb, ca])
    out = L.Dense(2)(L.Concatenate()([L.Flatten()(L.Embedding(7, 2)(cross)), cross3]))
    return K.Model([ca, cb], [out, cross, cross3]), [
        [np.array([[3], [2**40]], np.int64), np.array([[-7], [0]], np.int64)]]


def b2_gather_ops(rng):
    # tf.gather (constant indices along time and features), tf.one_hot (ids into an LSTM;
    # on/off values and axis=1) and tf.split (sections; sizes with one inferred).
    import tensorflow as tf
    ids = K.Input(shape=(6,), dtype="int64")
    inp = K.Input(shape=(5, 3))
    h = L.LSTM(4, return_sequences=True)(inp)
    g1 = tf.gather(h, [4, 0, 0], axis=1)
    g2 = tf.gather(h, [[2, 1]], axis=-1)
    z = L.LSTM(2)(tf.one_hot(ids, 5))
    oh = tf.one_hot(ids, 3, on_value=2.0, off_value=-1.0, axis=1)
    a, b = tf.split(h, 2, axis=-1)  # a GLU-style gate; pieces of given sizes (one inferred)
    p, q, r = tf.split(h, [1, -1, 2], axis=1)
    idv = np.array([[0, 1, 4, -1, 3, 2], [4, 4, 0, 5, 1, 1]], dtype=np.int64)
    return K.Model([ids, inp], [L.GRU(2)(g1), g2, z, oh, L.GRU(2)(a * tf.sigmoid(b)), p, q, r]), [
        [idv, uni(rng, 2, 5, 3)]]


def b2_norm_ops(rng):
    # tf.norm / tf.linalg.norm and tf.math.l2_normalize / tf.nn.l2_normalize between RNNs.
    import tensorflow as tf
    inp = K.Input(shape=(5, 3))
    h = L.LSTM(4, return_sequences=True)(inp)
    y = L.GRU(2)(tf.math.l2_normalize(h, axis=-1))
    outs = [y, tf.norm(h, axis=-1), tf.linalg.norm(h, ord=1, axis=2, keepdims=True),
            tf.norm(h, axis=[1, 2]), tf.nn.l2_normalize(inp, axis=2, epsilon=1e-3)]
    xs = uni(rng, 2, 5, 3)
    xs[1, 2] = 0.0
    return K.Model(inp, outs), [[xs]]


def b2_einsum_dense(rng):
    # tf.keras 2 EinsumDense (GEMM and loop forms; its bias added with plain broadcasting) and
    # tf.math.cumprod between RNNs.
    import tensorflow as tf
    inp = K.Input(shape=(5, 3))
    h = L.LSTM(4, return_sequences=True)(inp)
    d1 = L.EinsumDense("abc,cd->abd", output_shape=(None, 6), bias_axes="d",
                       activation="relu")(h)
    d2 = L.EinsumDense("...b,bc->...c", output_shape=6, bias_axes="c")(h)
    d3 = L.EinsumDense("abc,cde->adbe", output_shape=(2, None, 3), bias_axes="de")(h)
    y = L.GRU(3, return_sequences=True)(d1 + tf.math.cumprod(d2 * 0.5 + 1.0, axis=1))
    return K.Model(inp, [y, d3]), [[uni(rng, 2, 5, 3)]]


def b_stream_einsum_dense(rng):
    # EinsumDense in per-step forms between RNNs: a stream takes them step by step.
    inp = K.Input(shape=(12, 3))
    h = L.LSTM(4, return_sequences=True)(inp)
    a = L.EinsumDense("...b,bc->...c", output_shape=6, bias_axes="c", activation="relu")(h)
    b = L.EinsumDense("abc,cde->abde", output_shape=(None, 2, 5), bias_axes="de")(a)
    c = L.EinsumDense("abcd,cde->abe", output_shape=(None, 4), bias_axes="e")(b)
    return K.Model(inp, L.GRU(3, return_sequences=True)(c)), [[uni(rng, 2, 12, 3)]]


def b2_augment(rng):
    # tf.keras 2 random image augmentations (identities at inference, RandomCrop to the input's
    # own size) ahead of Conv2D -> LSTM.
    img = K.Input(shape=(8, 8, 3))
    z = img
    for layer in [L.RandomFlip(), L.RandomRotation(0.2), L.RandomZoom(0.1),
                  L.RandomTranslation(0.1, 0.1), L.RandomContrast(0.3), L.RandomBrightness(0.2),
                  L.RandomCrop(8, 8)]:
        z = layer(z)
    z = L.Reshape((6, 24))(L.Conv2D(4, 3)(z))
    return K.Model(img, L.LSTM(3)(z)), [[rng.uniform(0, 1, (2, 8, 8, 3)).astype("float32")]]


def b2_math_ops(rng):
    # tf.keras 2: tf.math trigonometry, erf, reciprocal, rsqrt, floordiv/floormod, atan2,
    # is_nan, and reduce_prod/variance/std/logsumexp between RNNs.
    import tensorflow as tf
    m = tf.math
    inp = K.Input(shape=(5, 3))
    h = L.LSTM(4, return_sequences=True)(inp)
    t = m.tanh(h) * 0.9
    outs = [m.sin(h), m.cos(h), m.atan(h), m.asin(t), m.erf(h), m.reciprocal(h + 2.0),
            m.rsqrt(m.abs(h) + 0.5), m.floordiv(h * 7.0, 0.6), m.floormod(h * 7.0, -0.6),
            m.atan2(h, h * 0.5 - 0.1), tf.cast(m.is_nan(m.log(h)), "float32"),
            m.reduce_prod(h + 1.0, axis=-1), m.reduce_variance(h, axis=1),
            m.reduce_std(h, axis=-1), m.reduce_logsumexp(h, axis=-1),
            tf.reverse(h, axis=[1]), tf.roll(h, shift=[1, 2], axis=[1, 2])]
    y = L.GRU(3)(m.sin(h) + m.erf(h))
    return K.Model(inp, [y] + outs), [[uni(rng, 2, 5, 3)]]


def b2_nn_ops(rng):
    # tf.keras 2: tf.sort/argsort (both directions, ties), tf.math.top_k, tf.pad (constant
    # with a value, REFLECT, SYMMETRIC), tf.nn.moments, divide_no_nan and erfc between RNNs.
    import tensorflow as tf
    m = tf.math
    inp = K.Input(shape=(5, 3))
    h = L.LSTM(4, return_sequences=True)(inp)
    q = m.round(h * 3.0)
    vals, pos = m.top_k(q, k=2)
    mean, var = tf.nn.moments(h, axes=[1])
    outs = [tf.sort(h, axis=1), tf.sort(q, direction="DESCENDING"), tf.argsort(q),
            tf.argsort(q, axis=1, direction="DESCENDING"), vals, pos, m.top_k(h).values,
            tf.pad(h, [[0, 0], [2, 0], [0, 1]], constant_values=0.5),
            tf.pad(h, [[0, 0], [1, 2], [0, 0]], mode="REFLECT"),
            tf.pad(h, [[0, 0], [0, 0], [3, 1]], mode="SYMMETRIC"), mean, var,
            m.divide_no_nan(h, q), m.erfc(h)]
    y = L.GRU(3)(tf.pad(h, [[0, 0], [2, 0], [0, 0]]))
    return K.Model(inp, [y] + outs), [[uni(rng, 2, 5, 3)]]


def b_stream_keras_ops(rng):
    # Ops that act on each step alone (features only) between two RNNs: a stream takes them.
    O = K.ops
    inp = K.Input(shape=(10, 4))
    h = L.LSTM(6, return_sequences=True)(inp)
    a = O.tanh(h * 0.5 + 1.0) - O.mean(h, axis=-1, keepdims=True)
    b = O.softmax(h[..., 1:5], axis=-1) * O.max(h, axis=2)[:, :, None]
    c = O.where(h[:, :, :4] > 0, b, O.sum(O.stack([h[..., 0], h[..., 5]], axis=-1), axis=-1)[..., None])
    y = L.GRU(3, return_sequences=True)(O.concatenate([a, c], axis=-1))
    return K.Model(inp, [y, O.sum(c, axis=-1)]), [[uni(rng, 2, 10, 4)]]


def b_stream_conv1x1_lstm(rng):
    m = K.Sequential([
        K.Input(shape=(10, 4)),
        L.Conv1D(5, 1, activation="relu"),
        L.LSTM(4, return_sequences=True),
    ])
    return m, [[uni(rng, 2, 10, 4)]]


def b_stream_batchnorm_lstm(rng):
    inp = K.Input(shape=(10, 4))
    x = L.BatchNormalization()(inp)
    seq, h, _ = L.LSTM(5, return_sequences=True, return_state=True)(x)
    out = L.Dense(2)(h)
    return K.Model(inp, [seq, out]), [[uni(rng, 2, 10, 4)]]


def b_stream_encoder_decoder(rng):
    enc_in = K.Input(shape=(9, 4), name="encoder_in")
    dec_in = K.Input(shape=(9, 3), name="decoder_in")
    _, h, c = L.LSTM(6, return_state=True, name="encoder_lstm")(enc_in)
    y = L.LSTM(6, return_sequences=True, name="decoder_lstm")(dec_in, initial_state=[h, c])
    out = L.Dense(4, name="decoder_dense")(y)
    return K.Model([enc_in, dec_in], out), [[uni(rng, 2, 9, 4), uni(rng, 2, 9, 3)]]


# Keras-2-only builders (tf_keras) ------------------------------------------------------------

def b2_lstm_hard_sigmoid(rng):
    # input_shape on the first layer: the Keras 2 idiom (batch_input_shape in the config).
    m = K.Sequential([
        L.LSTM(8, recurrent_activation="hard_sigmoid", input_shape=(6, 4)),
        L.Dense(3),
    ])
    return (m, [[uni(rng, 2, 6, 4) * 3.0]],
            "hard_sigmoid recurrent activation, Keras 2 formula clip(0.2 * x + 0.5, 0, 1); "
            "input_shape given on the first layer (batch_input_shape in the config)")


def b2_tf_ops(rng):
    # tf.keras 2 records the TensorFlow functions called between layers as TFOpLambda and
    # SlicingOpLambda layers: the same patterns as k3-keras-ops, written with tf.* calls.
    import tensorflow as tf
    inp = K.Input(shape=(5, 3))
    ids = K.Input(shape=(6,), dtype="int32")
    h = L.LSTM(6, return_sequences=True)(L.Masking()(inp))
    w = tf.nn.softmax(L.Dense(1)(h), axis=1)
    attn = tf.reduce_sum(w * h, axis=1)
    last = L.Dense(2)(h[:, -1])
    pooled = tf.concat([tf.reduce_mean(h, 1), tf.reduce_max(h, axis=1)], axis=-1)
    gru = L.GRU(3)(tf.math.tanh(h * 0.5 + 1.0) - tf.exp(h) / 3.0)
    sliced = h[:, ::-1, :3] + h[..., tf.newaxis, 0] - 2.0 * h[:, -4, tf.newaxis, 3:]
    sim = tf.matmul(h, h, transpose_b=True)
    flat = tf.reshape(tf.where(h > 0, h, 0.1 * h), [-1, 30])
    stacked = tf.squeeze(tf.stack([tf.clip_by_value(h, -0.2, 0.3), tf.abs(h) ** 2], axis=2)[:, :, 1:], [2])
    emb = L.LSTM(4)(L.Embedding(50, 3)(ids[:, 1:]))
    x = [uni(rng, 2, 5, 3), rng.integers(0, 50, (2, 6)).astype(np.int32)]
    x[0][1, 3:] = 0.0
    return K.Model([inp, ids], [attn, last, pooled, gru, sliced, sim, flat, stacked, emb]), [x], (
        "TensorFlow functions between layers (tf.nn.softmax/tf.reduce_sum attention pooling, "
        "h[:, -1], reduce_mean/max, slices, arithmetic, matmul(transpose_b), reshape, "
        "where/clip_by_value/stack/squeeze, ids[:, 1:] into an Embedding), masked rows")


def b2_gru_reset_before(rng):
    m = K.Sequential([
        L.GRU(6, reset_after=False, recurrent_activation="hard_sigmoid",
              return_sequences=True, input_shape=(7, 4)),
        L.GRU(4, reset_after=False, recurrent_activation="hard_sigmoid"),
        L.Dense(2),
    ])
    return (m, [[uni(rng, 2, 7, 4) * 2.0]],
            "GRU reset_after=False (Keras 2's old default, one bias row) with hard_sigmoid")


def b2_stateful_gru(rng):
    m = K.Sequential([
        L.GRU(5, reset_after=False, stateful=True, return_sequences=True,
              batch_input_shape=(2, 4, 3)),
        L.TimeDistributed(L.Dense(2)),
    ])
    calls = [[uni(rng, 2, 4, 3)], [uni(rng, 2, 4, 3)]]
    return m, calls, "batch_input_shape (2, 4, 3) on the GRU"


def b2_masking_bidir(rng):
    valid = valid_left(7, [7, 4, 5])
    valid[2, 3] = False
    m = K.Sequential([
        L.Masking(mask_value=0.0, input_shape=(7, 3)),
        L.Bidirectional(L.LSTM(5, recurrent_activation="hard_sigmoid")),
        L.Dense(2),
    ])
    return (m, [[masked_seq(rng, valid, 3)]],
            "Masking -> Bidirectional(LSTM, hard_sigmoid), left padding and a hole")


def b_initial_state_mask(rng):
    valid = valid_right(6, [6, 3, 4])
    valid[2, 1] = False
    x_in = K.Input(shape=(6, 3), name="x")
    h_in, c_in = K.Input(shape=(5,), name="h"), K.Input(shape=(5,), name="c")
    g_in = [K.Input(shape=(4,), name="g_fwd"), K.Input(shape=(4,), name="g_bwd")]
    x = L.Masking()(x_in)
    seq = L.LSTM(5, return_sequences=True)(x, initial_state=[h_in, c_in])
    pooled = L.GlobalAveragePooling1D()(seq)
    bi = L.Bidirectional(L.GRU(4, return_sequences=True))(x, initial_state=g_in)
    xs = [masked_seq(rng, valid, 3), uni(rng, 3, 5), uni(rng, 3, 5), uni(rng, 3, 4),
          uni(rng, 3, 4)]
    return (K.Model([x_in, h_in, c_in] + g_in, [seq, pooled, bi]), [xs],
            "Masking -> LSTM and Bidirectional(GRU) given initial_state; outputs [LSTM sequence, "
            "its masked GlobalAveragePooling1D, Bidirectional sequence]")


def b_initial_state_explicit_mask(rng):
    valid = valid_right(6, [6, 3, 4])
    valid[2, 1] = False
    x_in, h_in = K.Input(shape=(6, 3), name="x"), K.Input(shape=(5,), name="h")
    mask = K.ops.any(K.ops.not_equal(x_in, 0.0), axis=-1)
    y = L.GRU(5, return_sequences=True)(x_in, mask=mask, initial_state=[h_in])
    return (K.Model([x_in, h_in], y), [[masked_seq(rng, valid, 3), uni(rng, 3, 5)]],
            "GRU given initial_state and an explicit mask= (Keras 3 uses it)")


def b_unrolled_backwards_mask(rng):
    valid = valid_right(6, [6, 3, 4])
    valid[2, 1] = False
    inp = K.Input(shape=(6, 3))
    x = L.Masking()(inp)
    a = L.Bidirectional(L.LSTM(4, unroll=True, return_sequences=True))(x)
    b = L.Bidirectional(L.GRU(3, unroll=True, return_sequences=True), merge_mode="sum")(x)
    c = L.Bidirectional(L.SimpleRNN(3, unroll=True, return_sequences=True), merge_mode="ave")(x)
    d = L.RNN(L.LSTMCell(3), unroll=True, go_backwards=True, zero_output_for_mask=True,
              return_sequences=True)(x)
    return (K.Model(inp, [a, b, c, d]), [[masked_seq(rng, valid, 3)]],
            "Masking -> unrolled Bidirectional LSTM/GRU/SimpleRNN and an unrolled go_backwards "
            "RNN with zero_output_for_mask: TensorFlow's unrolled loop zeroes the outputs with "
            "the mask in time order")


# ---------------------------------------------------------------------------------------------
# Case table

class Case:
    def __init__(self, name, builder, note, formats, expect="match", keras_cannot_load_h5=False):
        self.name, self.builder, self.note = name, builder, note
        self.formats, self.expect = formats, expect
        self.keras_cannot_load_h5 = keras_cannot_load_h5


# Keras 3 Functional models record a mask that reaches a layer with a `mask` call argument as
# explicit graph nodes: the mask computation becomes keras.src.ops layers (NotEqual, Any,
# ExpandDims, LogicalOr, ...) and the consuming node gets kwargs {"mask": <tensor>}.
KERAS_OPS_NOTE = ("the config holds the mask computation as keras.src.ops nodes (NotEqual, Any, "
                  "...) whose output is passed as the consumers' mask kwarg")
H5_OPS_NOTE = ("the config holds the mask computation as keras.src.ops nodes (NotEqual, Any, "
               "...); Keras 3.15.1 itself cannot load this .h5 (ValueError: Unknown layer: "
               "'NotEqual'); the file was checked by comparing its model_config with the .keras "
               "sibling's config and loading its weights into that model")


BOTH = ("keras", "h5")

K3_CASES = [
    Case("mlp-dense", b_mlp_dense, "Sequential Dense stack (use_bias=False, relu/tanh/softmax) "
         "with inert Dropout and ActivityRegularization", BOTH),
    Case("activation-layers", b_activation_layers, "LeakyReLU, ReLU (plain and max_value/"
         "negative_slope/threshold), ELU, Softmax (last axis and axis=1) layers", BOTH),
    Case("activation-functions", b_activation_functions, "Activation layer with every common "
         "activation name", BOTH),
    Case("reshape-ops", b_reshape_ops, "Permute, Reshape (incl. -1), Flatten, RepeatVector, "
         "Dense on a 3D input", BOTH),
    Case("merge-ops", b_merge_ops, "Concatenate, Add, Subtract, Multiply, Average, Maximum, "
         "Minimum, Dot (axes=1, normalize=True, axes=(2,2), axes=(1,1)); 5 inputs, 12 outputs",
         BOTH),
    Case("group-unit-norm", b_group_unit_norm, "GroupNormalization and UnitNormalization",
         BOTH, keras_cannot_load_h5=True),
    Case("keras-ops", b_keras_ops, "Keras ops recorded as graph nodes between layers", BOTH,
         keras_cannot_load_h5=True),
    Case("category-layers", b_category_layers, "Discretization, CategoryEncoding and "
         "IntegerLookup", BOTH, keras_cannot_load_h5=True),
    Case("hashing", b_hashing, "Hashing, HashedCrossing and IntegerLookup farmhash OOV buckets",
         BOTH,
         keras_cannot_load_h5=True),
    Case("adapted-lookup", b_adapted_lookup, "adapted IntegerLookup and Discretization",
         ("keras",)),
    Case("argmax", b_argmax, "Keras ops argmax and argmin", BOTH, keras_cannot_load_h5=True),
    Case("repeat-tile-ops", b_repeat_tile_ops, "Keras ops repeat, tile, cumsum and round",
         BOTH, keras_cannot_load_h5=True),
    Case("gather-ops", b_gather_ops, "Keras ops take, take_along_axis and one_hot", BOTH,
         keras_cannot_load_h5=True),
    Case("norm-ops", b_norm_ops, "Keras ops norm and normalize", BOTH, keras_cannot_load_h5=True),
    Case("split-ops", b_split_ops, "Keras ops split", BOTH, keras_cannot_load_h5=True),
    Case("math-ops", b_math_ops, "Keras math ops and reductions", BOTH,
         keras_cannot_load_h5=True),
    Case("nn-ops", b_nn_ops, "Keras activation ops, sort/top_k, pad, diff, moments", BOTH,
         keras_cannot_load_h5=True),
    Case("adaptive-pool", b_adaptive_pool, "adaptive poolings 1D/2D/3D", BOTH),
    Case("rms-norm", b_rms_norm, "RMSNormalization", BOTH, keras_cannot_load_h5=True),
    Case("spectral-norm", b_spectral_norm, "SpectralNormalization", BOTH,
         keras_cannot_load_h5=True),
    Case("resizing", b_resizing, "Resizing and CenterCrop", BOTH),
    Case("pipeline", b_pipeline, "Pipeline of preprocessing layers", BOTH),
    Case("augment", b_augment, "random image augmentations", ("keras",)),
    Case("einsum-ops", b_einsum_ops, "EinsumDense, ops.einsum and ops.cumprod", BOTH,
         keras_cannot_load_h5=True),
    Case("batchnorm-layernorm", b_norm, "BatchNormalization (default, center/scale off, on a "
         "flattened input) and LayerNormalization (default, center off) with non-trivial "
         "moving statistics", BOTH),
    Case("conv1d-padding", b_conv1d_padding, "Conv1D padding valid/same/causal, strides 2 and 3, "
         "dilation 2 and 3, even kernel with same padding, 1x1 without bias", BOTH),
    Case("conv1d-pooling", b_conv1d_pooling, "Conv1D, MaxPooling1D, AveragePooling1D (valid and "
         "same padding, strides), GlobalAveragePooling1D/GlobalMaxPooling1D without masks",
         BOTH),
    Case("crop-pad-upsample", b_crop_pad_upsample, "Cropping1D, ZeroPadding1D (symmetric and "
         "asymmetric), UpSampling1D, Conv1D", BOTH),
    Case("inert-noise-lstm", b_inert_noise, "Embedding (mask_zero=False) -> SpatialDropout1D, "
         "GaussianNoise, GaussianDropout, AlphaDropout, Dropout, ActivityRegularization (all "
         "inert at inference) around an LSTM", BOTH),
    Case("embedding-flatten", b_embedding_flatten, "Embedding (mask_zero=False) -> Flatten -> "
         "Dense", BOTH),
    Case("lstm-timedistributed", b_lstm_td, "LSTM return_sequences -> TimeDistributed(Dense)",
         BOTH),
    Case("timedistributed-rnn", b_timedistributed_rnn, "TimeDistributed around LSTM and "
         "Bidirectional(GRU): one sequence per outer step", BOTH),
    Case("normalization-rescaling", b_normalization_rescaling, "Normalization (adapted, given, "
         "invert) and Rescaling around an LSTM (Keras 3.15.1 cannot load its own .h5 of "
         "Normalization(axis=(1, 2)): weight shape mismatch)", ("keras",)),
    Case("simplernn-backwards", b_simplernn_backwards, "SimpleRNN relu, go_backwards with and "
         "without return_sequences (the sequence stays in processing order)", BOTH),
    Case("lstm-return-state", b_lstm_return_state, "LSTM return_sequences + return_state, and "
         "go_backwards + return_state; outputs [seq, h, c, out, h, c]", BOTH),
    Case("lstm-masking-left-pad", b_lstm_masking_left_pad, "Masking -> LSTM with left-padded "
         "sequences", BOTH),
    Case("lstm-masking-holes", b_lstm_masking_holes, "Masking -> LSTM return_sequences -> "
         "TimeDistributed(Dense), masks with holes", BOTH),
    Case("gru-reset-after", b_gru_reset_after, "GRU reset_after=True (Keras 3 default, two bias "
         "rows), go_backwards + return_sequences, stacked", BOTH),
    Case("gru-reset-before", b_gru_reset_before, "GRU reset_after=False with return_state, and "
         "go_backwards + return_sequences", BOTH),
    Case("gru-embedding-mask", b_gru_embedding_mask, "Embedding mask_zero=True -> stacked GRU",
         BOTH),
    Case("simplernn-masked-stack", b_simplernn_masked_stack, "Embedding mask_zero=True -> "
         "stacked SimpleRNN (one go_backwards)", BOTH),
    Case("stacked-cells", b_stacked_cells, "RNN with StackedRNNCells of SimpleRNN/LSTM/GRU "
         "cells", BOTH),
    Case("bidir-merge-modes", b_bidir_merge_modes, "Bidirectional LSTM/GRU/SimpleRNN with every "
         "merge mode", BOTH),
    Case("bidir-return-state", b_bidir_return_state, "Bidirectional with return_state (LSTM and "
         "GRU)", BOTH),
    Case("bidir-masked-gap", b_bidir_masked_gap, "Masking -> Bidirectional(GRU) -> masked "
         "GlobalAveragePooling1D", BOTH),
    Case("pooling-masked", b_pooling_masked, "GlobalAveragePooling1D/GlobalMaxPooling1D after "
         "a masking Embedding", BOTH,
         keras_cannot_load_h5=True),
    Case("stateful-lstm", b_stateful_lstm, "stateful LSTM (fixed batch size), two successive "
         "calls", BOTH),
    Case("multi-io-shared", b_multi_io_shared, "Functional, 3 named inputs, 2 outputs, a shared "
         "LSTM layer", BOTH),
    Case("nested-sequential", b_nested_sequential, "Sequential nested in a Functional model, "
         "shared", BOTH),
    Case("encoder-decoder", b_encoder_decoder, "seq2seq: decoder LSTM initial_state from the "
         "encoder's states", BOTH,
         keras_cannot_load_h5=True),
    Case("concat-masks", b_concat_masks, "two masked Embeddings merged by Concatenate and Add "
         "before an LSTM/GRU", BOTH,
         keras_cannot_load_h5=True),
    Case("mask-propagation", b_mask_propagation, "which layers pass a Masking mask on", BOTH,
         keras_cannot_load_h5=True),
    Case("lstm-hard-sigmoid", b_lstm_hard_sigmoid, "LSTM recurrent_activation=hard_sigmoid, "
         "relu activation, use_bias=False", BOTH),
    Case("lstm-autoencoder", b_autoencoder, "LSTM -> RepeatVector -> LSTM -> "
         "TimeDistributed(Dense)", BOTH),
    Case("stream-causal-conv-gru", b_stream_causal_conv_gru, "causal Conv1D (kernel 2) -> "
         "causal Conv1D (kernel 3, dilation 2) -> GRU -> Dense: streams with a step buffer",
         ("keras",)),
    Case("stream-lstm-layernorm", b_stream_lstm_layernorm, "LSTM -> LayerNormalization -> "
         "Dense: streams", ("keras",)),
    Case("stream-einsum-dense", b_stream_einsum_dense, "LSTM -> EinsumDense (...b,bc->...c; "
         "abc,cde->abde; abcd,cde->abe, contracting two axes) -> GRU: each per step, so a "
         "stream runs them", BOTH),
    Case("stream-keras-ops", b_stream_keras_ops, "LSTM -> Keras ops on the feature axis only "
         "(arithmetic, mean/max/sum over features, softmax(axis=-1), h[..., 1:5], where, stack) "
         "-> GRU: streams", ("keras",)),
    Case("stream-conv1x1-lstm", b_stream_conv1x1_lstm, "Conv1D kernel 1 -> LSTM: streams",
         ("keras",)),
    Case("stream-batchnorm-lstm", b_stream_batchnorm_lstm, "BatchNormalization -> LSTM "
         "(sequence and state h -> Dense as outputs): streams", ("keras",)),
    Case("initial-state-mask", b_initial_state_mask, "an RNN given initial_state runs "
         "without its input's mask in Keras 3 (Layer.__call__ fills mask only for one tensor "
         "argument); the mask still reaches the pooling", BOTH, keras_cannot_load_h5=True),
    Case("initial-state-explicit-mask", b_initial_state_explicit_mask, "GRU(x, mask=..., "
         "initial_state=...): an explicit mask is used", ("keras",)),
    Case("unrolled-backwards-mask", b_unrolled_backwards_mask, "unroll=True with a mask and "
         "zero_output_for_mask (Bidirectional forces it): zeroes at the mirrored steps of the "
         "backward direction, as TensorFlow's unrolled loop does", BOTH,
         keras_cannot_load_h5=True),
    Case("stream-encoder-decoder", b_stream_encoder_decoder, "encoder LSTM return_state -> "
         "decoder LSTM initial_state, both 9 steps: a stream must refuse it", ("keras",)),
]

K2_CASES = [
    Case("group-unit-norm", b_group_unit_norm, "Keras 2 GroupNormalization and "
         "UnitNormalization", ("h5",)),
    Case("tf-ops", b2_tf_ops, "Keras 2 TFOpLambda and SlicingOpLambda layers", ("h5",)),
    Case("category-layers", b2_category_layers, "Keras 2 Discretization and CategoryEncoding",
         ("h5",)),
    Case("hashing", b2_hashing, "Keras 2 Hashing", ("h5",)),
    Case("hashed-crossing", b2_hashed_crossing, "Keras 2 HashedCrossing", ("h5",)),
    Case("norm-ops", b2_norm_ops, "Keras 2 tf.norm and tf.math.l2_normalize", ("h5",)),
    Case("math-ops", b2_math_ops, "Keras 2 tf.math functions and reductions", ("h5",)),
    Case("nn-ops", b2_nn_ops, "Keras 2 tf.sort/argsort/top_k, tf.pad, tf.nn.moments", ("h5",)),
    Case("resizing", b2_resizing, "tf.keras 2 Resizing and CenterCrop", ("h5",)),
    Case("augment", b2_augment, "Keras 2 random image augmentations", ("h5",)),
    Case("einsum-dense", b2_einsum_dense, "Keras 2 EinsumDense and tf.math.cumprod", ("h5",)),
    Case("gather-ops", b2_gather_ops, "Keras 2 tf.gather, tf.one_hot and tf.split", ("h5",)),
    Case("argmax", b2_argmax, "Keras 2 tf.argmax and tf.math.argmin", ("h5",)),
    Case("repeat-tile-ops", b2_repeat_tile_ops, "Keras 2 tf.repeat, tf.tile, tf.math.cumsum "
         "and tf.math.round", ("h5",)),
    Case("lstm-hard-sigmoid", b2_lstm_hard_sigmoid, "Keras 2 Sequential LSTM with hard_sigmoid",
         ("h5",)),
    Case("gru-reset-before", b2_gru_reset_before, "Keras 2 GRU reset_after=False, hard_sigmoid",
         ("h5",)),
    Case("gru-reset-after", b_gru_reset_after, "Keras 2 GRU reset_after=True (tf.keras 2 "
         "default), go_backwards", ("h5",)),
    Case("simplernn-backwards", b_simplernn_backwards, "Keras 2 SimpleRNN go_backwards",
         ("h5",)),
    Case("gru-embedding-mask", b_gru_embedding_mask, "Keras 2 Embedding mask_zero=True -> GRU",
         ("h5",)),
    Case("lstm-masking-holes", b_lstm_masking_holes, "Keras 2 Masking -> LSTM with holes",
         ("h5",)),
    Case("masking-bidir-lstm", b2_masking_bidir, "Keras 2 Masking -> Bidirectional(LSTM)",
         ("h5",)),
    Case("bidir-merge-modes", b_bidir_merge_modes, "Keras 2 Bidirectional merge modes",
         ("h5",)),
    Case("bidir-return-state", b_bidir_return_state, "Keras 2 Bidirectional return_state",
         ("h5",)),
    Case("stacked-cells", b_stacked_cells, "Keras 2 RNN(StackedRNNCells)", ("h5",)),
    Case("stateful-gru", b2_stateful_gru, "Keras 2 stateful GRU, two successive calls",
         ("h5",)),
    Case("encoder-decoder", b_encoder_decoder, "Keras 2 seq2seq with initial_state", ("h5",)),
    Case("multi-io-shared", b_multi_io_shared, "Keras 2 Functional, 3 inputs, 2 outputs, shared "
         "LSTM", ("h5",)),
    Case("nested-sequential", b_nested_sequential, "Keras 2 Sequential nested in a Functional "
         "model", ("h5",)),
    Case("timedistributed-rnn", b_timedistributed_rnn, "Keras 2 TimeDistributed around LSTM "
         "and Bidirectional(GRU)", ("h5",)),
    Case("normalization-rescaling", b_normalization_rescaling, "Keras 2 Normalization and "
         "Rescaling around an LSTM", ("h5",)),
    Case("concat-masks", b_concat_masks, "Keras 2 mask merging by Concatenate and Add",
         ("h5",)),
    Case("mask-propagation", b_mask_propagation, "Keras 2: which layers pass a Masking mask "
         "on", ("h5",)),
    Case("pooling-masked", b_pooling_masked, "Keras 2 global pooling after a masking "
         "Embedding", ("h5",)),
    Case("merge-ops", b_merge_ops, "Keras 2 merge layers and Dot", ("h5",)),
    Case("activation-layers", b_activation_layers, "Keras 2 LeakyReLU(alpha), ReLU, ELU, "
         "Softmax layers", ("h5",)),
    Case("activation-functions", b_activation_functions, "Keras 2 Activation layer, every "
         "common activation name", ("h5",)),
    Case("batchnorm-layernorm", b_norm, "Keras 2 BatchNormalization and LayerNormalization",
         ("h5",)),
    Case("conv1d-pooling", b_conv1d_pooling, "Keras 2 Conv1D and pooling", ("h5",)),
    Case("conv1d-padding", b_conv1d_padding, "Keras 2 Conv1D paddings, strides, dilation",
         ("h5",)),
    Case("inert-noise-lstm", b_inert_noise, "Keras 2 inert noise/dropout layers", ("h5",)),
    Case("reshape-ops", b_reshape_ops, "Keras 2 Permute/Reshape/Flatten/RepeatVector",
         ("h5",)),
    Case("initial-state-mask", b_initial_state_mask, "Keras 2 applies the Masking mask to an "
         "RNN given initial_state", ("h5",)),
    Case("unrolled-backwards-mask", b_unrolled_backwards_mask, "Keras 2 unrolled Bidirectional "
         "and go_backwards RNN with masks: the same mirrored zeroes", ("h5",)),
]


# ---------------------------------------------------------------------------------------------
# Saving, describing, verifying

def seed_of(name):
    return zlib.crc32(name.encode()) & 0x7FFFFFFF


def randomize_weights(model, rng):
    for v in model.weights:
        name = v.path if KV == 3 else v.name
        shape = tuple(v.shape)
        if "int" in str(v.dtype):  # Normalization's sample count: not used at inference
            continue
        if "variance" in name.split("/")[-1]:  # BatchNormalization's, Normalization's
            val = rng.uniform(0.5, 1.5, shape)
        else:
            val = rng.uniform(-0.5, 0.5, shape)
        v.assign(val.astype(np.float32))
    for layer in model.layers:  # Normalization keeps a copy of its state, refreshed here
        if hasattr(layer, "finalize_state") and getattr(layer, "built", False):
            layer.finalize_state()


def reset_rnn_states(model):
    for layer in model.layers:
        if hasattr(layer, "layers"):       # nested model
            reset_rnn_states(layer)
        if getattr(layer, "stateful", False):
            layer.reset_states()


def run_calls(model, calls):
    results = []
    for xs in calls:
        out = model(xs if len(xs) > 1 else xs[0], training=False)
        results.append([np.asarray(o.numpy() if hasattr(o, "numpy") else o, dtype=np.float32)
                        for o in flat(out)])
    return results


def renumber_shared_object_ids(data):
    """Keras 3 writes `"shared_object_id": id(obj)` (a Python address, different on every run)
    wherever one object (e.g. the DTypePolicy) is shared by several layers; only equality
    matters to the loader, so number them 1, 2, ... in order of first appearance."""
    ids = {}

    def sub(m):
        ids.setdefault(m.group(1), len(ids) + 1)
        return f'"shared_object_id": {ids[m.group(1)]}'.encode()

    return re.sub(rb'"shared_object_id": (\d+)', sub, data)


def normalize_keras_zip(path):
    """Fixed member timestamps and date_saved, so that reruns are byte-identical."""
    with zipfile.ZipFile(path) as zin:
        members = [(i, zin.read(i.filename)) for i in zin.infolist()]
    tmp = path.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w") as zout:
        for info, data in members:
            if info.filename == "metadata.json":
                meta = json.loads(data)
                meta["date_saved"] = FIXED_DATE_SAVED
                data = json.dumps(meta).encode()
            elif info.filename == "config.json":
                data = renumber_shared_object_ids(data)
            zi = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            zi.compress_type = info.compress_type
            zi.external_attr = info.external_attr
            zi.create_system = info.create_system
            zout.writestr(zi, data)
    tmp.replace(path)


def read_model_config(path):
    path = Path(path)
    if path.suffix == ".keras":
        with zipfile.ZipFile(path) as z:
            cfg = json.loads(z.read("config.json"))
            meta = json.loads(z.read("metadata.json"))
        return cfg, meta.get("keras_version", "")
    import h5py
    with h5py.File(path, "r") as f:
        cfg = f.attrs["model_config"]
        ver = f.attrs.get("keras_version", "")
    if isinstance(cfg, bytes):
        cfg = cfg.decode()
    if isinstance(ver, bytes):
        ver = ver.decode()
    return json.loads(cfg), str(ver)


def layer_label(lc):
    cn = lc["class_name"]
    c = lc.get("config", {})
    if cn in ("Bidirectional", "TimeDistributed"):
        return f"{cn}({layer_label(c['layer'])})"
    if cn == "RNN":
        return f"RNN({layer_label(c['cell'])})"
    if cn == "StackedRNNCells":
        return "StackedRNNCells(" + ", ".join(layer_label(x) for x in c["cells"]) + ")"
    if cn in ("Sequential", "Functional", "Model"):
        return cn + "(" + ", ".join(layer_label(x) for x in c["layers"]) + ")"
    return cn


def describe(path):
    cfg, ver = read_model_config(path)
    layers = [layer_label(lc) for lc in cfg["config"]["layers"]]
    return cfg["class_name"], layers, ver


def load_model(path, custom=None):
    if KV == 3:
        return K.models.load_model(str(path), compile=False, safe_mode=False,
                                   custom_objects=custom)
    return K.models.load_model(str(path), compile=False, custom_objects=custom)


def check_close(got, exp, what):
    if len(got) != len(exp):
        raise SystemExit(f"{what}: {len(got)} outputs, expected {len(exp)}")
    for i, (g, e) in enumerate(zip(got, exp)):
        if g.shape != e.shape or not np.allclose(g, e, atol=1e-6, rtol=1e-6):
            d = np.max(np.abs(g - e)) if g.shape == e.shape else f"shape {g.shape} vs {e.shape}"
            raise SystemExit(f"{what}: output {i} differs after reload ({d})")


def strip_keys(obj, keys=("module", "registered_name", "build_config", "shared_object_id",
                           "compile_config")):
    """The legacy .h5 model_config is the .keras config without these bookkeeping keys."""
    if isinstance(obj, dict):
        return {k: strip_keys(v, keys) for k, v in obj.items() if k not in keys}
    if isinstance(obj, list):
        return [strip_keys(v, keys) for v in obj]
    return obj


def verify_unloadable_h5(path, folder, out_dir, name):
    """Keras 3 cannot rebuild this .h5's model (mask op nodes in the config, see
    H5_OPS_NOTE; RMSNormalization, whose legacy rebuild passes too many positional arguments):
    check that its model_config equals the .keras sibling's config and that its weights, loaded
    into the model rebuilt from the .keras sibling, give the same outputs."""
    try:
        load_model(path)
    except (ValueError, TypeError) as e:
        if "Unknown layer" not in str(e) and "too many positional arguments" not in str(e):
            raise
    else:
        raise SystemExit(f"{name}: Keras now loads this .h5; drop keras_cannot_load_h5")
    sibling = out_dir / name[: -len("-h5")] / "model.keras"
    cfg_h5, _ = read_model_config(path)
    cfg_zip, _ = read_model_config(sibling)
    if strip_keys(cfg_h5["config"]) != strip_keys(cfg_zip["config"]):
        raise SystemExit(f"{name}: .h5 model_config differs from the .keras config")
    model = load_model(sibling)
    model.load_weights(str(path))
    return model


def write_case_json(folder, data):
    with open(folder / "case.json", "w") as f:
        json.dump(data, f, indent=1)
        f.write("\n")


def save_model(model, folder, fmt):
    fname = "model.keras" if fmt == "keras" else "model.h5"
    path = folder / fname
    model.save(str(path))
    if fmt == "keras":
        normalize_keras_zip(path)
    return path


def emit_case(out_dir, name, case, fmt, model, calls, results, extra_note, log):
    folder = out_dir / name
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    path = save_model(model, folder, fmt)
    model_class, layers, ver = describe(path)

    # Every call's inputs and outputs, numbered on through successive calls.
    call_files = []
    xi = yi = 0
    for xs, ys in zip(calls, results):
        ins, outs = [], []
        for x in xs:
            np.save(folder / f"x{xi}.npy", x)
            ins.append(f"x{xi}.npy")
            xi += 1
        for y in ys:
            np.save(folder / f"y{yi}.npy", y)
            outs.append(f"y{yi}.npy")
            yi += 1
        call_files.append({"inputs": ins, "outputs": outs})

    note = case.note
    if extra_note:
        note += "; " + extra_note
    if getattr(case, "keras_cannot_load_h5", False):
        note += "; " + (H5_OPS_NOTE if fmt == "h5" else KERAS_OPS_NOTE)
    if len(calls) > 1:
        note += (f"; {len(calls)} successive calls on one loaded model (stateful_calls), "
                 "states start at zero and carry over")
    else:
        note += "; stateful layers start from zero state; single call"
    data = {
        "name": name,
        "model": path.name,
        "source": {"generator": GENERATOR, "seed": seed_of(name)},
        "format": "keras_v3_zip" if fmt == "keras" else "legacy_h5",
        "keras_version": ver,
        "model_class": model_class,
        "layers": layers,
        "expect": "match",
        "inputs": call_files[0]["inputs"],
        "outputs": call_files[0]["outputs"],
        "tolerance": dict(TOL),
    }
    if len(calls) > 1:
        data["stateful_calls"] = call_files
    data["note"] = note
    write_case_json(folder, data)

    # The file must reproduce Keras' numbers when Keras loads it back.
    if getattr(case, "keras_cannot_load_h5", False) and fmt == "h5":
        loaded = verify_unloadable_h5(path, folder, out_dir, name)
    else:
        loaded = load_model(path)
    reset_rnn_states(loaded)
    check_close([y for r in run_calls(loaded, calls) for y in r],
                [y for r in results for y in r], name)
    log(f"{name}: {data['format']}, {len(layers)} layers, {len(calls)} call(s), "
        f"{sum(len(r) for r in results)} output array(s)")


def gen_match_cases(out_dir, cases, prefix, only, log):
    for case in cases:
        names = [f"{prefix}-{case.name}" if fmt == "keras" or prefix == "k2"
                 else f"{prefix}-{case.name}-h5" for fmt in case.formats]
        if only and not any(n in only for n in names):
            continue
        seed = seed_of(f"{prefix}-{case.name}")
        K.backend.clear_session()
        K.utils.set_random_seed(seed)
        rng = np.random.default_rng(seed)
        built = case.builder(rng)
        model, calls = built[0], built[1]
        extra = built[2] if len(built) > 2 else ""
        randomize_weights(model, rng)
        reset_rnn_states(model)
        results = run_calls(model, calls)
        for fmt, name in zip(case.formats, names):
            if only and name not in only:
                continue
            reset_rnn_states(model)
            emit_case(out_dir, name, case, fmt, model, calls, results, extra, log)


# Refused models --------------------------------------------------------------------------------

def _refused_case(out_dir, name, fmt, model, expect, note, log, custom=None, mutate=None):
    folder = out_dir / name
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    path = save_model(model, folder, fmt)
    model_class, layers, ver = describe(path)
    if expect == "unsupported":
        load_model(path, custom)  # Keras itself can load it (with the Python code at hand)
    if mutate:
        mutate(path)
    data = {
        "name": name,
        "model": path.name,
        "source": {"generator": GENERATOR, "seed": seed_of(name)},
        "format": "keras_v3_zip" if fmt == "keras" else "legacy_h5",
        "keras_version": ver,
        "model_class": model_class,
        "layers": layers,
        "expect": expect,
        "note": note,
    }
    write_case_json(folder, data)
    if expect == "invalid":
        try:
            load_model(path)
        except Exception as e:  # noqa: BLE001 - Keras must refuse the broken file too
            log(f"{name}: {expect} (Keras: {type(e).__name__}: {str(e)[:90]!r})")
            return
        raise SystemExit(f"{name}: Keras loads the broken file")
    log(f"{name}: {expect}")


def _small_lstm(rng):
    m = K.Sequential([K.Input(shape=(5, 3)), L.LSTM(4), L.Dense(2)])
    randomize_weights(m, rng)
    return m


def truncate_half(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def drop_weights_member(path):
    with zipfile.ZipFile(path) as zin:
        members = [(i, zin.read(i.filename)) for i in zin.infolist()]
    with zipfile.ZipFile(path, "w") as zout:
        for info, data in members:
            if info.filename != "model.weights.h5":
                zout.writestr(info, data)


def gen_refused_k3(out_dir, only, log):
    def want(n):
        return not only or n in only

    def start(name):
        K.backend.clear_session()
        K.utils.set_random_seed(seed_of(name))
        return np.random.default_rng(seed_of(name))

    name = "k3-lambda"
    if want(name):
        rng = start(name)
        m = K.Sequential([K.Input(shape=(5, 3)), L.LSTM(4),
                          L.Lambda(lambda t: t * 2.0 + 1.0), L.Dense(2)])
        randomize_weights(m, rng)
        _refused_case(out_dir, name, "keras", m, "unsupported",
                      "Lambda holds Python code (a marshalled Python lambda in config.json); "
                      "Keras loads it only with safe_mode=False", log)

    name = "k3-custom-layer"
    if want(name):
        rng = start(name)

        @K.saving.register_keras_serializable(package="recur_fixtures")
        class ScaleShift(L.Layer):
            def build(self, input_shape):
                self.scale = self.add_weight(shape=(input_shape[-1],), name="scale")
                self.shift = self.add_weight(shape=(input_shape[-1],), name="shift")

            def call(self, x):
                return x * self.scale + self.shift

        m = K.Sequential([K.Input(shape=(5, 3)), L.GRU(4), ScaleShift(), L.Dense(2)])
        randomize_weights(m, rng)
        _refused_case(out_dir, name, "keras", m, "unsupported",
                      "custom layer class ScaleShift (registered as recur_fixtures>ScaleShift "
                      "with keras.saving.register_keras_serializable)", log,
                      custom={"ScaleShift": ScaleShift})
        if want(name + "-h5"):
            _refused_case(out_dir, name + "-h5", "h5", m, "unsupported",
                          "custom layer class ScaleShift (registered as "
                          "recur_fixtures>ScaleShift), legacy .h5", log,
                          custom={"ScaleShift": ScaleShift})

    name = "k3-invalid-truncated"
    if want(name):
        m = _small_lstm(start(name))
        _refused_case(out_dir, name, "keras", m, "invalid",
                      "a .keras zip cut off at half its size (no central directory)", log,
                      mutate=truncate_half)

    name = "k3-invalid-no-weights"
    if want(name):
        m = _small_lstm(start(name))
        _refused_case(out_dir, name, "keras", m, "invalid",
                      "a .keras zip without its model.weights.h5 member", log,
                      mutate=drop_weights_member)

    name = "k3-invalid-truncated-h5"
    if want(name):
        m = _small_lstm(start(name))
        _refused_case(out_dir, name, "h5", m, "invalid",
                      "a legacy .h5 cut off at half its size", log, mutate=truncate_half)


def gen_refused_k2(out_dir, only, log):
    name = "k2-lambda"
    if only and name not in only:
        return
    K.backend.clear_session()
    K.utils.set_random_seed(seed_of(name))
    rng = np.random.default_rng(seed_of(name))
    m = K.Sequential([L.LSTM(4, input_shape=(5, 3)), L.Lambda(lambda t: t * 2.0 + 1.0),
                      L.Dense(2)])
    randomize_weights(m, rng)
    _refused_case(out_dir, name, "h5", m, "unsupported",
                  "Lambda holds Python code (marshalled bytecode in the Keras 2 .h5 config)", log)


# ---------------------------------------------------------------------------------------------
# README of the fixture folder

def write_readme(out_dir):
    rows = []
    for cj in sorted(out_dir.glob("*/case.json")):
        c = json.loads(cj.read_text())
        layers = ", ".join(c["layers"])
        if len(layers) > 90:
            layers = layers[:87] + "..."
        rows.append(f"| {c['name']} | {c['format']} | {c['keras_version']} | {c['expect']} | "
                    f"{layers} |")
    text = f"""# Model fixtures made by real Keras

Generated by `{GENERATOR}` (see `tools/README.md`); do not edit by hand.
Same layout and `case.json` schema as the shared conformance corpus (`models/real/`), so one
runner handles both. Each folder holds one model file written by Keras itself and:
- `expect: match`: inputs `x*.npy` (float32, int32 for Embedding indices) and the outputs
  `y*.npy` (float32) that Keras computed with `model(x, training=False)` on the CPU, numbered
  in the model's input / output order. Pass iff |got - exp| <= atol + rtol*|exp| everywhere.
  Each written file was loaded back by the Keras that wrote it and reproduced these outputs.
- `stateful_calls` (stateful cases only): a list of successive calls on the same loaded model,
  each `{{"inputs": [...], "outputs": [...]}}`; states start at zero and carry over from one
  call to the next. The top-level `inputs` / `outputs` are those of the first call.
- `expect: unsupported`: recur must refuse (exit code 3) naming the layer or feature in
  `note`; `expect: invalid`: the file is broken (exit code 4). No inputs or outputs.

Families: `k3-*` Keras 3.15.1 `.keras`; `k3-*-h5` the same Keras 3 model saved as legacy
`.h5` (`model.save("model.h5")`); `k2-*` Keras 2 (tf_keras 2.21.0) legacy `.h5`. Weights are
random and asymmetric (uniform ±0.5, BatchNormalization moving_variance in [0.5, 1.5]);
`source.seed` seeds both `keras.utils.set_random_seed` and the case's numpy RNG. The `.keras`
zips are normalised after saving (member timestamps 1980-01-01, `date_saved`
{FIXED_DATE_SAVED}, the Python-address `shared_object_id` values renumbered 1, 2, ...) so that
regenerating gives byte-identical files.

Keras 3 Functional models that carry a mask into a layer with a `mask` call argument store the
mask computation as `keras.src.ops` nodes (`NotEqual`, `Any`, `ExpandDims`, `LogicalOr`, ...,
listed in `layers`) and pass it as the consumer's `mask` kwarg. Keras 3.15.1 cannot load the
legacy `.h5` of such a model (`Unknown layer: 'NotEqual'`); those `-h5` cases say so in `note`
and were checked against their `.keras` twin instead.

| case | format | keras | expect | layers |
|---|---|---|---|---|
""" + "\n".join(rows) + "\n"
    (out_dir / "README.md").write_text(text)


# ---------------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--part", choices=["k3", "k2"], help="internal: one Keras family")
    ap.add_argument("--out", default=str(DEFAULT_OUT), help="output folder")
    ap.add_argument("--only", nargs="*", help="case names to (re)generate")
    args = ap.parse_args()
    out_dir = Path(args.out)
    only = set(args.only or [])

    if args.part is None:
        out_dir.mkdir(parents=True, exist_ok=True)
        if not only:  # full run: remove stale case folders
            for d in out_dir.iterdir():
                if d.is_dir() and (d / "case.json").exists():
                    shutil.rmtree(d)
        for part in ("k3", "k2"):
            env = dict(os.environ)
            env.pop("TF_USE_LEGACY_KERAS", None)
            if part == "k2":
                env["TF_USE_LEGACY_KERAS"] = "1"
            cmd = [sys.executable, str(Path(__file__).resolve()), "--part", part,
                   "--out", str(out_dir)]
            if only:
                cmd += ["--only", *sorted(only)]
            subprocess.run(cmd, env=env, check=True)
        write_readme(out_dir)
        n = len(list(out_dir.glob("*/case.json")))
        size = sum(f.stat().st_size for f in out_dir.rglob("*") if f.is_file())
        print(f"{n} cases in {out_dir} ({size / 1024:.0f} KiB)")
        return

    init_framework(args.part)

    def log(msg):
        print(f"[{args.part}] {msg}", flush=True)

    out_dir.mkdir(parents=True, exist_ok=True)
    if args.part == "k3":
        gen_match_cases(out_dir, K3_CASES, "k3", only, log)
        gen_refused_k3(out_dir, only, log)
    else:
        gen_match_cases(out_dir, K2_CASES, "k2", only, log)
        gen_refused_k2(out_dir, only, log)


if __name__ == "__main__":
    main()
