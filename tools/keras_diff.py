#!/usr/bin/env python3
"""Differential search: random recurrent Keras models, Keras' outputs vs `recur run`'s.

Each seed builds one small model from a recipe (a random Sequential RNN stack; masks through
Embedding, pooling, attention and merges; return_state into initial_state; Bidirectional with
return_state, initial states or a custom backward layer; stateful layers over two calls;
layer chains around masked sequences; ConvLSTM; RNNs inside wrappers; Keras ops or tf.*
functions between layers (argmax, repeat, tile, cumsum, round, split, take, one_hot and norm among them); category preprocessing ahead of RNNs), gives it random weights, runs Keras on random inputs
(with masked steps), saves it, and runs `recur run` on the file. A difference beyond
2e-4 * (1 + |y|), or a crash, keeps the case folder (model, x*.npy, Keras' y*.npy, recur's
r*.npy) and makes the script exit 1; an unsupported feature (exit 3) is counted, not failed.

Not a test: the expected values are Keras' and the cases are random. A mismatch is a lead. With
unbounded activations (relu, selu, exponential, ...) and long sequences float32 rounding can
grow chaotically; compare both with a float64 computation before calling it a bug. Found with
it (2026-12-04): a Keras 3 RNN given initial_state runs unmasked; TF's unrolled loop zeroes
mirrored steps (tests/fixtures/models/*initial-state-mask*, *unrolled-backwards-mask*).

    .venv/bin/python tools/keras_diff.py --seeds 0:200            # Keras 3, .keras and .h5
    .venv/bin/python tools/keras_diff.py --keras 2 --seeds 0:200  # tf_keras, legacy .h5
    .venv/bin/python tools/keras_diff.py --recipes bidi,state --seeds 0:50 --out /tmp/kd
"""

import argparse
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
K = None  # keras or tf_keras
L = None  # its layers
ACTS = ["tanh", "sigmoid", "hard_sigmoid", "softsign", "linear", "relu", "elu", "swish"]


def init(keras_major):
    global K, L
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ["CUDA_VISIBLE_DEVICES"] = ""  # the generic loop, never cuDNN
    if keras_major == 2:
        os.environ["TF_USE_LEGACY_KERAS"] = "1"
        import tf_keras as k
    else:
        os.environ["KERAS_BACKEND"] = "tensorflow"
        import keras as k
    K, L = k, k.layers


def rnn(rng, units, seq, state=False, backwards=None, **extra):
    kind = rng.choice(["LSTM", "GRU", "SimpleRNN"])
    kw = dict(units=units, return_sequences=seq, return_state=state,
              go_backwards=rng.random() < 0.25 if backwards is None else backwards,
              use_bias=rng.random() < 0.85, unroll=rng.random() < 0.15)
    if rng.random() < 0.3:
        kw["activation"] = rng.choice(ACTS)
    if kind != "SimpleRNN" and rng.random() < 0.3:
        # Gates in [0, 1]: a tanh gate lets 1 - z reach 2, and float32 rounding then grows
        # chaotically (Keras and recur both end far from a float64 run).
        kw["recurrent_activation"] = rng.choice(["sigmoid", "hard_sigmoid"])
    if kind == "GRU":
        kw["reset_after"] = rng.random() < 0.6
    kw.update(extra)
    return getattr(L, kind)(**kw), kind


def cells_rnn(rng, units, seq):
    cells = []
    for _ in range(rng.choice([1, 2, 3])):
        k = rng.choice(["LSTMCell", "GRUCell", "SimpleRNNCell"])
        cells.append(getattr(L, k)(units, **({"reset_after": rng.random() < 0.6}
                                             if k == "GRUCell" else {})))
    return L.RNN(cells if len(cells) > 1 else cells[0], return_sequences=seq,
                 go_backwards=rng.random() < 0.25, unroll=rng.random() < 0.15)


def pad_rows(rng, x):
    """Zero (mask) steps of x (B, T, ...) in place, row by row: right padding or one hole."""
    T = x.shape[1]
    for b in range(x.shape[0]):
        if rng.random() < 0.6:
            x[b, rng.randint(1, T):] = 0
        else:
            x[b, rng.randint(0, T - 1)] = 0
    return x


def masked_floats(rng, rnp, B, T, F):
    return pad_rows(rng, rnp.normal(0, 1, (B, T, F)).astype("float32"))


def masked_tokens(rng, rnp, B, T, vocab):
    return pad_rows(rng, rnp.integers(1, vocab, (B, T)).astype("int32"))


# Recipes: (rng, rnp) -> (model, [inputs], description, calls). calls > 1: a stateful model
# run again on fresh inputs (recur: --next).

def r_stack(rng, rnp):
    T, F, B = rng.choice([1, 3, 8, 13]), rng.choice([1, 3, 7]), rng.choice([1, 2, 5])
    inp = K.Input((T, F))
    masked = rng.random() < 0.4
    x = L.Masking()(inp) if masked else inp
    n = rng.choice([1, 2, 3])
    for i in range(n):
        layer, _ = rnn(rng, rng.choice([1, 3, 8, 17, 33]), i < n - 1 or rng.random() < 0.5)
        if rng.random() < 0.3:
            layer = L.Bidirectional(layer, merge_mode=rng.choice(["concat", "sum", "mul", "ave"]))
        x = layer(x)
    X = masked_floats(rng, rnp, B, T, F) if masked else rnp.normal(0, 1, (B, T, F)).astype("float32")
    return K.Model(inp, x), [X], f"stack of {n}{' masked' if masked else ''}", 1


def r_embed(rng, rnp):
    T, B, V = rng.choice([2, 4, 7, 11]), rng.choice([1, 2, 4]), 12
    inp = K.Input((T,), dtype="int32")
    x = L.Embedding(V, rng.choice([2, 5]), mask_zero=True)(inp)
    head = rng.choice(["rnn", "pool", "attention", "cells"])
    if head == "rnn":
        layer, _ = rnn(rng, 5, rng.random() < 0.5)
        y = L.Bidirectional(layer)(x) if rng.random() < 0.4 else layer(x)
    elif head == "cells":
        y = cells_rnn(rng, 4, rng.random() < 0.5)(x)
    elif head == "pool":
        layer, _ = rnn(rng, 4, True)
        y = rng.choice([L.GlobalAveragePooling1D(), L.GlobalMaxPooling1D()])(layer(x))
    else:
        q, _ = rnn(rng, 4, True)
        v, _ = rnn(rng, 4, True)
        y = rng.choice([L.Attention(), L.AdditiveAttention()])([q(x), v(x)])
    return K.Model(inp, y), [masked_tokens(rng, rnp, B, T, V)], f"embedding -> {head}", 1


def r_state(rng, rnp):
    """return_state of one RNN into another's initial_state, or initial states as inputs."""
    T, F, B, U = rng.choice([1, 3, 6]), 2, rng.choice([1, 3]), rng.choice([1, 4])
    kind = rng.choice(["LSTM", "GRU", "SimpleRNN"])
    enc_in, dec_in = K.Input((T, F)), K.Input((T, F))
    masked = rng.random() < 0.5
    e = L.Masking()(enc_in) if masked else enc_in
    d = L.Masking()(dec_in) if masked and rng.random() < 0.5 else dec_in
    outs = getattr(L, kind)(U, return_state=True, go_backwards=rng.random() < 0.3)(e)
    y = getattr(L, kind)(U, return_sequences=True, return_state=rng.random() < 0.5,
                         go_backwards=rng.random() < 0.2)(d, initial_state=list(outs[1:]))
    y = [outs[0]] + list(y) if isinstance(y, (list, tuple)) else [outs[0], y]
    X = [masked_floats(rng, rnp, B, T, F), masked_floats(rng, rnp, B, T, F)]
    return K.Model([enc_in, dec_in], y), X, f"{kind} states into {kind}", 1


def r_bidi(rng, rnp):
    T, F, B, U = rng.choice([1, 3, 6, 9]), rng.choice([1, 3]), rng.choice([1, 3]), rng.choice([2, 5])
    inp = K.Input((T, F))
    masked = rng.random() < 0.5
    x = L.Masking()(inp) if masked else inp
    X = masked_floats(rng, rnp, B, T, F) if masked else rnp.normal(0, 1, (B, T, F)).astype("float32")
    how = rng.choice(["return_state", "backward_layer", "initial_state", "zero_output"])
    seq = rng.random() < 0.5
    ins, Xs = [inp], [X]
    if how == "return_state":
        layer, _ = rnn(rng, U, seq, state=True, backwards=False)
        y = L.Bidirectional(layer, merge_mode=rng.choice(["concat", "sum", "ave", "mul", None]))(x)
    elif how == "backward_layer":
        fw, _ = rnn(rng, U, seq, backwards=False)
        bw, _ = rnn(rng, U, seq, backwards=True)
        y = L.Bidirectional(fw, backward_layer=bw, merge_mode=rng.choice(["concat", "sum"]))(x)
    elif how == "initial_state":
        layer, kind = rnn(rng, U, seq, backwards=False)
        st = [K.Input((U,)) for _ in range(4 if kind == "LSTM" else 2)]
        ins += st
        Xs += [rnp.normal(0, 1, (B, U)).astype("float32") for _ in st]
        y = L.Bidirectional(layer)(x, initial_state=st)
    else:
        cell = rng.choice([L.LSTMCell, L.GRUCell, L.SimpleRNNCell])(U)
        y = L.RNN(cell, return_sequences=seq, return_state=rng.random() < 0.5,
                  go_backwards=rng.random() < 0.5, unroll=rng.random() < 0.5,
                  zero_output_for_mask=True)(x)
    y = list(y) if isinstance(y, (list, tuple)) else [y]
    return K.Model(ins, y), Xs, f"bidirectional {how}{' masked' if masked else ''}", 1


def r_stateful(rng, rnp):
    T, F, B = rng.choice([1, 3, 6]), 2, rng.choice([1, 3])
    inp = K.Input(batch_shape=(B, T, F))
    layer, kind = rnn(rng, rng.choice([1, 4]), True, stateful=True, backwards=False)
    return K.Model(inp, layer(inp)), [rnp.normal(0, 1, (B, T, F)).astype("float32")], \
        f"stateful {kind}", 2


def r_chain(rng, rnp):
    """Masked sequences through layers that pass, drop or use the mask."""
    T, B = rng.choice([2, 4, 7]), rng.choice([1, 3])
    inp = K.Input((T, 3))
    x = L.Masking()(inp)
    names = []
    for _ in range(rng.choice([1, 2, 3])):
        kinds = ["dense", "td", "ln", "conv", "rnn", "bidi", "add", "concat", "act", "norm",
                 "rescale", "groupnorm", "unitnorm"]
        if hasattr(K, "ops"):  # Keras 3 only
            kinds += ["rmsnorm", "adaptive", "augment"]
        k = rng.choice(kinds)
        names.append(k)
        if k == "dense":
            x = L.Dense(4)(x)
        elif k == "td":
            x = L.TimeDistributed(L.Dense(3))(x)
        elif k == "ln":
            x = L.LayerNormalization()(x)
        elif k == "conv":
            x = L.Conv1D(3, rng.choice([1, 2]), padding=rng.choice(["same", "causal"]))(x)
        elif k == "rnn":
            x = rnn(rng, 3, True)[0](x)
        elif k == "bidi":
            x = L.Bidirectional(rnn(rng, 3, True, backwards=False)[0])(x)
        elif k == "add":
            x = L.Add()([x, L.Dense(x.shape[-1])(x)])
        elif k == "concat":
            x = L.Concatenate()([x, L.Dense(2)(x)])
        elif k == "norm":
            norm = L.Normalization(axis=rng.choice([-1, None]), invert=rng.random() < 0.2)
            norm.adapt(rnp.normal(0.5, 2, (8, T, x.shape[-1])).astype("float32"))
            x = norm(x)
        elif k == "rescale":
            x = L.Rescaling(rng.uniform(-2, 2), offset=rng.uniform(-1, 1))(x)
        elif k == "groupnorm":
            x = L.GroupNormalization(groups=rng.choice([1, x.shape[-1]]),
                                     center=rng.random() < 0.7)(x)
        elif k == "unitnorm":
            x = L.UnitNormalization(axis=rng.choice([-1, [1, 2]]))(x)
        elif k == "rmsnorm":
            x = L.RMSNormalization(axis=rng.choice([-1, [1, 2]]),
                                   epsilon=rng.choice([1e-6, 1e-3]))(x)
        elif k == "adaptive":
            pool = rng.choice([L.AdaptiveAveragePooling1D, L.AdaptiveMaxPooling1D])
            x = pool(rng.choice([1, 2, T, T + 3]))(x)
        elif k == "augment":
            x = L.Reshape((x.shape[1], x.shape[2], 1))(x)
            x = rng.choice([L.RandomFlip(), L.RandomZoom(0.2), L.MixUp(), L.RandomContrast(0.5)])(x)
            x = L.Reshape((x.shape[1], x.shape[2]))(x)
        else:
            x = L.Activation(rng.choice(["tanh", "softmax"]))(x)
    end = rng.choice(["gap", "gmp", "rnn", "none"])
    if end == "gap":
        x = L.GlobalAveragePooling1D()(x)
    elif end == "gmp":
        x = L.GlobalMaxPooling1D()(x)
    elif end == "rnn":
        x = rnn(rng, 3, False)[0](x)
    return K.Model(inp, x), [masked_floats(rng, rnp, B, T, 3)], "masking -> " + " -> ".join(
        names + [end]), 1


def r_conv(rng, rnp):
    """ConvLSTM1D/2D/3D: padding, strides, dilation, states, a head. channels_last only: TF's
    CPU convolution refuses channels_first, so Keras gives no reference for it here."""
    d = rng.choice([1, 1, 2, 2, 3])
    T, B, C = rng.choice([1, 3, 5]), rng.choice([1, 2]), rng.choice([1, 2, 3])
    space = [rng.choice([3, 4, 6]) for _ in range(d)] if d < 3 else [rng.choice([2, 3])] * 3
    shape = (T, *space, C)
    stride = rng.random() < 0.25
    kw = dict(filters=rng.choice([1, 2, 4]), kernel_size=rng.choice([1, 2, 3]),
              padding=rng.choice(["same", "valid"]), return_sequences=rng.random() < 0.5,
              go_backwards=rng.random() < 0.25, use_bias=rng.random() < 0.85,
              strides=2 if stride else 1, dilation_rate=1 if stride or rng.random() < 0.7 else 2,
              return_state=rng.random() < 0.25)
    if kw["padding"] == "valid" and min(space) < (kw["kernel_size"] - 1) * kw["dilation_rate"] + 1:
        kw["padding"] = "same"
    if rng.random() < 0.3:
        kw["activation"] = rng.choice(ACTS)
    if rng.random() < 0.3:
        kw["recurrent_activation"] = rng.choice(["sigmoid", "hard_sigmoid"])
    inp = K.Input(shape)
    y = getattr(L, f"ConvLSTM{d}D")(**kw)(inp)
    y = list(y) if isinstance(y, (list, tuple)) else [y]
    if rng.random() < 0.4:
        y[0] = L.Dense(3)(L.Flatten()(y[0]))
    X = rnp.normal(0, 1, (B, *shape)).astype("float32")
    return K.Model(inp, y), [X], f"ConvLSTM{d}D {kw}", 1


def r_wrap(rng, rnp):
    """RNNs inside other layers: TimeDistributed(RNN), nested models with masks (and an op
    inside), Sequential."""
    how = rng.choice(["td", "td_bidi", "nested", "sequential"])
    B, T, F = rng.choice([1, 3]), rng.choice([2, 5]), rng.choice([1, 3])
    if how in ("td", "td_bidi"):
        inner, _ = rnn(rng, rng.choice([2, 5]), rng.random() < 0.5)
        if how == "td_bidi":
            inner = L.Bidirectional(inner)
        inp = K.Input((rng.choice([1, 4]), T, F))
        y = L.TimeDistributed(inner)(inp)
        if rng.random() < 0.5:
            y = rnn(rng, 3, False)[0](L.TimeDistributed(L.Flatten())(y) if len(y.shape) > 3 else y)
        X = rnp.normal(0, 1, (B, *inp.shape[1:])).astype("float32")
        return K.Model(inp, y), [X], how, 1
    if how == "nested":
        sub_in = K.Input((T, F))
        s = L.Masking()(sub_in) if rng.random() < 0.5 else sub_in
        s = rnn(rng, 4, True)[0](s)
        if rng.random() < 0.4:  # an op inside the nested model (it drops the mask)
            s, k = op_step(rng, s, s)
            how += "+" + k
        sub = K.Model(sub_in, s, name="inner")
        inp = K.Input((T, F))
        x = L.Masking()(inp)
        y = sub(x)
        if len(y.shape) == 3 and None not in y.shape[1:]:
            y = rnn(rng, 3, rng.random() < 0.5)[0](y)
        return K.Model(inp, y), [masked_floats(rng, rnp, B, T, F)], how, 1
    layers = [K.Input((T,), dtype="int32"), L.Embedding(9, 3, mask_zero=rng.random() < 0.7)]
    for i in range(rng.choice([1, 2])):
        layers.append(rnn(rng, rng.choice([2, 7]), True)[0])
        if rng.random() < 0.3:
            layers.append(L.Dropout(0.5))
    layers.append(rnn(rng, 3, rng.random() < 0.3)[0])
    layers.append(L.Dense(2, activation=rng.choice(["softmax", "sigmoid", None])))
    return K.Sequential(layers), [masked_tokens(rng, rnp, B, T, 9)], how, 1

def tf_ops():
    """tf.keras 2 has no keras.ops: the TensorFlow functions users call instead (recorded as
    TFOpLambda / SlicingOpLambda layers), under keras.ops' names."""
    import types
    import tensorflow as tf

    def reduce(f):
        return lambda x, axis=None, keepdims=False: f(x, axis=axis, keepdims=keepdims)
    m = tf.math
    return types.SimpleNamespace(
        tanh=m.tanh, exp=m.exp, sigmoid=m.sigmoid, relu=tf.nn.relu, abs=m.abs, sqrt=m.sqrt,
        log=m.log, square=m.square, softplus=m.softplus, silu=tf.nn.silu, gelu=tf.nn.gelu,
        elu=tf.nn.elu, leaky_relu=tf.nn.leaky_relu, sign=m.sign, floor=m.floor, expm1=m.expm1,
        log1p=m.log1p, clip=tf.clip_by_value, maximum=m.maximum, minimum=m.minimum,
        divide=m.divide, mean=reduce(tf.reduce_mean), sum=reduce(tf.reduce_sum),
        max=reduce(tf.reduce_max), min=reduce(tf.reduce_min),
        softmax=lambda x, axis=-1: tf.nn.softmax(x, axis=axis),
        log_softmax=lambda x, axis=-1: tf.nn.log_softmax(x, axis=axis),
        transpose=tf.transpose, matmul=tf.matmul, where=tf.where, stack=tf.stack,
        concatenate=lambda xs, axis=0: tf.concat(xs, axis), reshape=tf.reshape,
        squeeze=lambda x, axis: tf.squeeze(x, [axis]), expand_dims=tf.expand_dims,
        repeat=lambda x, n, axis: tf.repeat(x, n, axis=axis), tile=tf.tile,
        cumsum=lambda x, axis: m.cumsum(x, axis=axis), round=m.round,
        cumprod=lambda x, axis: m.cumprod(x, axis=axis),
        flip=lambda x, axis: tf.reverse(x, [axis]),
        roll=lambda x, shift, axis: tf.roll(x, shift, axis),
        sin=m.sin, cos=m.cos, arctan=m.atan, erf=m.erf, reciprocal=m.reciprocal,
        mod=m.floormod, floor_divide=m.floordiv, var=reduce(m.reduce_variance),
        std=reduce(m.reduce_std), prod=reduce(m.reduce_prod),
        logsumexp=reduce(m.reduce_logsumexp),
        argmax=lambda x, axis: tf.argmax(x, axis=axis),
        argmin=lambda x, axis: tf.argmin(x, axis=axis),
        take=lambda x, i, axis: tf.gather(x, i, axis=axis),
        one_hot=lambda i, n: tf.one_hot(i, n),
        split=lambda x, n, axis: tf.split(x, n, axis=axis),
        norm=lambda x, axis, keepdims=False, ord=None: tf.norm(
            x, ord=ord or "euclidean", axis=axis, keepdims=keepdims),
        normalize=lambda x, axis, order=2: tf.math.l2_normalize(x, axis=axis),
        sort=lambda x, axis=-1: tf.sort(x, axis=axis),
        argsort=lambda x, axis=-1: tf.argsort(x, axis=axis),
        top_k=lambda x, k: tuple(tf.math.top_k(x, k=k)), cast=tf.cast,
        pad=lambda x, w, mode="constant", constant_values=0: tf.pad(
            x, w, mode.upper(), constant_values=constant_values))


OP_KINDS = ["slice", "arith", "unary", "reduce", "softmax", "transpose", "matmul", "where",
            "stack", "concat", "reshape", "dims", "broadcast", "repeat", "tile", "cumsum",
            "round", "argmax", "split", "take", "one_hot", "norm", "einsum", "cumprod", "flip",
            "sort", "pad", "nn"]


def nn_step(rng, y, nb):
    """Keras 3: an activation op with parameters, a numpy function, glu/sparsemax along a
    feature or time axis, moments, ptp or count_nonzero."""
    o = K.ops
    q = o.round(y * 3.0)
    f = rng.choice([
        lambda: o.celu(y * 2.0, alpha=rng.choice([0.5, 1.0, 2.0])),
        lambda: o.hard_shrink(y, 0.3), lambda: o.soft_shrink(y, 0.2),
        lambda: o.squareplus(y, 2.0), lambda: o.threshold(y, 0.1, -1.0),
        lambda: o.sparse_plus(y * 2.0), lambda: o.sparse_sigmoid(y * 2.0),
        lambda: o.tanh_shrink(y), lambda: o.hard_tanh(y * 2.0), lambda: o.cbrt(y),
        lambda: o.erfc(y), lambda: o.sinc(q * 0.5), lambda: o.logaddexp(y, y * 0.5),
        lambda: o.divide_no_nan(y, q), lambda: o.fmod(y * 4.0, -0.7),
        lambda: o.signbit(q) * 1.0, lambda: o.sparsemax(y * 3.0, axis=nb),
        lambda: o.ptp(y, axis=nb), lambda: o.count_nonzero(q, axis=nb) * 1,
        lambda: o.moments(y, axes=[nb])[rng.randrange(2)],
        lambda: o.glu(o.concatenate([y, y * 0.5], axis=nb), axis=nb)])
    return f()


def einsum_step(rng, y):
    """EinsumDense in GEMM and loop forms, with or without bias and activation, or (Keras 3)
    ops.einsum of y with itself, on a (B, T, F) or (B, F) y."""
    n, act = rng.choice([1, 3, 5]), rng.choice([None, "tanh", "relu"])
    if len(y.shape) == 2:
        return L.EinsumDense("ab,bc->ac", output_shape=n, activation=act,
                             bias_axes=rng.choice([None, "c"]))(y)
    T = y.shape[1]
    if hasattr(K, "ops") and rng.random() < 0.3:
        eq = rng.choice(["btc,bsc->bts", "btc,btc->bt", "bij->bji", "...c,...c->...",
                         "btc,btd->bcd"])
        return K.ops.einsum(eq, y) if eq == "bij->bji" else K.ops.einsum(eq, y, y)
    eq, shape, biases = rng.choice([
        ("abc,cd->abd", (T, n), ["d"]), ("...c,cd->...d", n, ["d"]),
        ("abc,cde->abde", (T, 2, n), ["de", "e", "d"]), ("abc,dc->abd", (T, n), ["d"]),
        ("abc,cde->adbe", (2, T, n), ["d", "e", "de"])])
    return L.EinsumDense(eq, output_shape=shape, activation=act,
                         bias_axes=rng.choice([None] + biases))(y)


def op_step(rng, y, h):
    """One random Keras op on y (its rank may change); h: the RNN's (B, T, 4) output."""
    import numpy as np
    o = K.ops if hasattr(K, "ops") else tf_ops()
    r = len(y.shape)
    ax = rng.randrange(-r, r) if r else None
    k = rng.choice(OP_KINDS)
    nb = rng.randrange(1, r) if r >= 2 else None  # an axis other than the batch axis
    if k == "slice" and r >= 2:
        return rng.choice([lambda: y[:, -1], lambda: y[..., 0], lambda: y[:, ::-1],
                           lambda: y[:, None, 1:], lambda: y[:, rng.randrange(-3, 3):][..., ::2],
                           lambda: y[:, :, None] if r == 2 else y[:, 1::2, :-1]])(), k
    if k == "arith":
        c = rng.uniform(-2, 2)
        return rng.choice([lambda: y * c + 0.5, lambda: 1.0 - y, lambda: y / 3.0, lambda: y ** 2,
                           lambda: -y, lambda: o.maximum(y, c), lambda: o.minimum(c, y),
                           lambda: o.divide(y, 1.5) - h[:, 0, 0:1] if r == 2 else y])(), k
    if k == "unary":
        f = rng.choice([o.tanh, o.exp, o.sigmoid, o.relu, o.abs, lambda t: o.sqrt(o.abs(t)),
                        lambda t: o.log(o.abs(t) + 1), o.square, o.softplus, o.silu, o.gelu,
                        lambda t: o.gelu(t, approximate=False), o.elu, o.leaky_relu, o.sign,
                        lambda t: o.clip(t, -0.3, 0.4), o.floor, o.expm1,
                        lambda t: o.log1p(o.abs(t)), o.sin, o.cos, lambda t: o.arctan(t * 3.0),
                        o.erf, lambda t: o.reciprocal(o.abs(t) + 1.0),
                        lambda t: o.mod(t * 5.0, 0.7), lambda t: o.floor_divide(t * 5.0, 0.7)])
        return f(y), k
    if k == "reduce" and r >= 1:
        f = rng.choice([o.mean, o.sum, o.max, o.min, o.var, o.std, o.prod, o.logsumexp])
        axis = rng.choice([ax, None, [a for a in range(1, r)] or None])
        return f(y, axis=axis, keepdims=rng.random() < 0.4), k
    if k == "softmax" and r >= 1:
        return rng.choice([o.softmax, o.log_softmax])(y, axis=ax), k
    if k == "transpose" and r == 3:
        return o.transpose(y, rng.choice([(0, 2, 1), (0, 1, 2)])), k  # (1, 0, 2): refused
    if k == "matmul" and r == 3:
        return o.matmul(y, o.transpose(y, (0, 2, 1))), k
    if k == "where":
        return o.where(y > 0, y, 0.1 * y), k
    if k == "stack" and r >= 1:
        return o.stack([y, y * 2.0], axis=rng.randrange(-r - 1, r + 1)), k
    if k == "concat" and r >= 1:
        return o.concatenate([y, -y], axis=ax), k
    if k == "reshape" and r >= 2 and None not in y.shape[1:]:
        return o.reshape(y, (-1, int(np.prod(y.shape[1:])))), k
    if k == "dims" and r >= 1:
        a = rng.randrange(-r - 1, r + 1)
        return o.squeeze(o.expand_dims(y, a), a), k
    if k == "broadcast" and r == 3:
        return y + o.mean(y, axis=1, keepdims=True), k
    if k == "repeat" and nb:
        return o.repeat(y, rng.choice([1, 2, 3]), axis=nb), k
    if k == "tile" and nb:
        return o.tile(y, [1] * (r - 1) + [rng.choice([2, 3])]), k
    if k == "cumsum" and nb:
        return o.cumsum(y, axis=nb), k
    if k == "flip" and nb:
        if hasattr(K, "ops") and r == 3 and rng.random() < 0.3:
            return o.swapaxes(y, 1, 2) if rng.random() < 0.5 else o.moveaxis(y, 2, 1), k
        if rng.random() < 0.5:
            return o.flip(y, axis=nb), k
        return o.roll(y, rng.choice([-3, 1, 2]), axis=nb), k
    if k == "cumprod" and nb:
        return o.cumprod(o.tanh(y) * 0.5 + 1.0, axis=nb), k
    if k == "einsum" and r in (2, 3) and None not in y.shape[1:]:
        return einsum_step(rng, y), k
    if k == "round":
        return o.round(y * 3.0), k
    if k == "sort" and nb and None not in y.shape[1:]:
        q = o.round(y * 3.0)  # ties: the order of equal values is part of the contract
        c = rng.random()
        if c < 0.35:
            return o.sort(q if rng.random() < 0.5 else y, axis=nb), k
        if c < 0.7 or not y.shape[-1]:
            return o.cast(o.argsort(q, axis=nb), "float32"), k
        vals, pos = o.top_k(q, rng.randrange(1, y.shape[-1] + 1))
        return (vals if rng.random() < 0.5 else o.cast(pos, "float32")), k
    if k == "pad" and nb and None not in y.shape[1:]:
        if hasattr(K, "ops") and rng.random() < 0.3:
            return o.diff(y, n=rng.choice([1, 2]), axis=nb), k
        mode = rng.choice(["constant", "reflect", "symmetric"])
        room = [0] + [d - (mode == "reflect") if mode != "constant" else 3 for d in y.shape[1:]]
        w = [[0, 0]] + [[rng.randrange(0, min(3, room[a]) + 1),
                         rng.randrange(0, min(3, room[a]) + 1)] for a in range(1, r)]
        if mode == "constant" and rng.random() < 0.5:
            return o.pad(y, w, mode, constant_values=rng.choice([-1.0, 0.5])), k
        return o.pad(y, w, mode), k
    if k == "nn" and nb and hasattr(K, "ops") and None not in y.shape[1:]:
        return nn_step(rng, y, nb), k
    if k == "split" and nb and y.shape[nb] and y.shape[nb] % 2 == 0:
        a, b = o.split(y, 2, axis=nb)
        return a * o.sigmoid(b), k
    if k == "argmax" and nb:
        return rng.choice([o.argmax, o.argmin])(y, axis=nb), k
    if k == "take" and nb and y.shape[nb]:
        n = y.shape[nb]
        if hasattr(K, "ops") and rng.random() < 0.4:  # the arg-extreme value, picked per row
            return o.take_along_axis(y, o.argmax(y, axis=nb, keepdims=True), axis=nb), k
        idx = [rng.randrange(-n, n) for _ in range(rng.choice([1, 2, 4]))]
        return o.take(y, idx if rng.random() < 0.8 else [idx, idx[::-1]], axis=nb), k
    if k == "norm" and nb:
        if rng.random() < 0.5:
            return o.normalize(y, axis=nb, order=rng.choice([1, 2]) if hasattr(K, "ops") else 2), k
        ords = [None, 1, float("inf"), 0, 3] if hasattr(K, "ops") else [None, 1, float("inf")]
        return o.norm(y, axis=nb, keepdims=rng.random() < 0.5, ord=rng.choice(ords)), k
    if k == "one_hot" and r >= 2 and y.shape[-1]:
        return o.one_hot(o.argmax(y, axis=-1), y.shape[-1] + rng.choice([0, 1])) * 1.0, k
    return o.tanh(y), "tanh"


def r_ops(rng, rnp):
    """Ops recorded in a functional model (x[:, -1], x * 2, ops.mean, ...; tf.keras 2: the
    TensorFlow functions) after an RNN, in 1 to 3 branches; a branch may end in another RNN
    (ops drop Keras masks)."""
    T, B, F = rng.choice([1, 3, 6]), rng.choice([1, 3]), rng.choice([2, 4])
    masked = rng.random() < 0.4
    inp = K.Input((T, F))
    x = L.Masking()(inp) if masked else inp
    h = rnn(rng, 4, True)[0](x)
    outs, names = [], []
    for _ in range(rng.choice([1, 2, 3])):
        y, chain = h, []
        for _ in range(rng.choice([1, 2, 3])):
            y, k = op_step(rng, y, h)
            chain.append(k)
        if len(y.shape) == 3 and None not in y.shape[1:] and rng.random() < 0.3:
            y = rnn(rng, 3, False)[0](y)
            chain.append("rnn")
        outs.append(y)
        names.append("-".join(chain))
    X = masked_floats(rng, rnp, B, T, F) if masked else rnp.normal(0, 1, (B, T, F))
    return K.Model(inp, outs), [X.astype("float32")], ("masked " if masked else "") + ", ".join(
        names), 1


def r_lookup(rng, rnp):
    """Category preprocessing ahead of RNNs: IntegerLookup on token ids (given or adapted
    vocabulary, mask token, OOV indices; int into a masked Embedding, or one_hot), Discretization
    (given or adapted boundaries; int into an Embedding, or one_hot), CategoryEncoding on a
    (batch, n) input beside the RNN's output; Hashing of int64 ids (salt, mask bucket) and of
    floats; IntegerLookup's farmhash OOV buckets; HashedCrossing. tf.keras 2: Discretization
    with given boundaries, CategoryEncoding, Hashing of ints and HashedCrossing (its
    IntegerLookup cannot be saved to .h5)."""
    T, B, F = rng.choice([1, 3, 7]), rng.choice([1, 2, 4]), rng.choice([1, 2])
    k3 = hasattr(K, "ops")
    ids, x, cats = K.Input((T,), dtype="int64"), K.Input((T, F)), K.Input((4,), dtype="int64")
    ins, xs, seqs, parts = [x], [], [], []
    X = rnp.normal(0, 1, (B, T, F)).astype("float32")
    xs.append(X)
    mode = rng.choice(["int", "one_hot"]) if k3 else "int"  # tf.keras 2: one_hot of rank <= 2
    if rng.random() < 0.5:
        bounds = sorted(float(v) for v in rnp.normal(0, 1, rng.choice([1, 3, 6])))
        d = L.Discretization(bin_boundaries=bounds, output_mode=mode)
        parts.append(f"Discretization({len(bounds)})")
    else:
        d = L.Discretization(num_bins=rng.choice([2, 5]), output_mode=mode)
        if k3:
            d.adapt(rnp.normal(0, 1, (40, T, F)).astype("float32"))
            parts.append("Discretization(adapted)")
        else:
            d = L.Discretization(bin_boundaries=[0.0], output_mode=d.output_mode)
            parts.append("Discretization(1)")
    depth = len(d.bin_boundaries) + 1
    b = d(x)
    if d.output_mode == "int":
        b = L.Reshape((T, F * 3))(L.Embedding(depth, 3)(b))
    else:
        b = L.Reshape((T, F * depth))(b) if F > 1 else b
    seqs.append(b)
    if k3:
        ins.insert(0, ids)
        vocab = sorted(set(int(v) for v in rnp.integers(1, 40, rng.choice([3, 8]))))
        mask = rng.choice([None, 0])
        kw = dict(num_oov_indices=rng.choice([1, 2, 3, 7]), mask_token=mask,
                  output_mode=rng.choice(["int", "int", "one_hot"]))
        if rng.random() < 0.4:
            kw["oov_method"] = "farmhash"
            if rng.random() < 0.5:
                kw["salt"] = rng.choice([5, [3, -7], [2**62, 1]])
        if rng.random() < 0.5:
            lk = L.IntegerLookup(vocabulary=vocab, **kw)
            parts.append(f"IntegerLookup({len(vocab)}, {kw})")
        else:
            lk = L.IntegerLookup(**kw)
            lk.adapt(rnp.integers(1, 40, (60,)))
            parts.append(f"IntegerLookup(adapted, {kw})")
        t = lk(ids)
        if kw["output_mode"] == "int":
            t = L.Embedding(lk.vocabulary_size(), 4, mask_zero=mask is not None)(t)
        seqs.append(t)
        tok = rnp.integers(1, 45, (B, T))
        if mask is not None:
            tok = pad_rows(rng, tok)
        xs.insert(0, tok.astype("int64"))
    if rng.random() < 0.5:  # Hashing of token ids (tf.keras 2 hashes integers only)
        hid = K.Input((T,), dtype="int64")
        kw = dict(num_bins=rng.choice([1, 2, 7, 50]))
        if rng.random() < 0.5:
            kw["salt"] = rng.choice([5, [3, -7], [2**62, 1]])
        if rng.random() < 0.5:
            kw["mask_value"] = 0
        hb = L.Hashing(**kw)(hid)
        seqs.append(L.Embedding(kw["num_bins"], 3)(hb))
        parts.append(f"Hashing({kw})")
        ins.append(hid)
        tok = rnp.integers(-2**40, 2**40, (B, T))
        tok[rnp.random((B, T)) < 0.3] = 0
        xs.append(tok.astype("int64"))
    if k3 and rng.random() < 0.3:  # Hashing of floats: Keras 3 casts them toward zero
        kw = dict(num_bins=rng.choice([3, 11]), mask_value=rng.choice([None, -1]))
        hf = L.Hashing(**kw)(x)
        seqs.append(L.Reshape((T, F * 2))(L.Embedding(kw["num_bins"], 2)(hf)))
        parts.append(f"Hashing(float, {kw})")
    h = seqs[0] if len(seqs) == 1 else L.Concatenate()(seqs)
    y = rnn(rng, 5, rng.random() < 0.3)[0](h)
    if rng.random() < 0.5:
        mode = rng.choice(["count", "multi_hot"])
        enc = L.CategoryEncoding(num_tokens=6, output_mode=mode)(cats)
        parts.append(f"CategoryEncoding({mode})")
        if len(y.shape) == 2:
            y = L.Concatenate()([y, enc])
        else:
            y = [y, enc]
        ins.append(cats)
        xs.append(rnp.integers(0, 6 if not k3 else 9, (B, 4)).astype("int64"))
    if rng.random() < 0.4:  # HashedCrossing of (batch, 1) features (Keras 3 crosses two)
        n = 2 if k3 else rng.choice([2, 3])
        feats = [K.Input((1,), dtype="int64") for _ in range(n)]
        bins = rng.choice([1, 5, 64])
        mode = rng.choice(["int", "one_hot"])
        c = L.HashedCrossing(num_bins=bins, output_mode=mode)(feats)
        c = L.Flatten()(L.Embedding(bins, 2)(c)) if mode == "int" else c
        parts.append(f"HashedCrossing({n}, {bins}, {mode})")
        y = L.Concatenate()([y, c]) if not isinstance(y, list) and len(y.shape) == 2 else (
            (y if isinstance(y, list) else [y]) + [c])
        ins += feats
        xs += [rnp.integers(-2**40, 2**40, (B, 1)).astype("int64") for _ in range(n)]
    return K.Model(ins, y), xs, ", ".join(parts), 1


RECIPES = {"stack": r_stack, "embed": r_embed, "state": r_state, "bidi": r_bidi,
           "stateful": r_stateful, "chain": r_chain,
           "conv": r_conv, "wrap": r_wrap, "ops": r_ops, "lookup": r_lookup}


def differs(y, z):
    import numpy as np
    y, z = np.atleast_1d(np.asarray(y, np.float64)), np.atleast_1d(np.asarray(z, np.float64))
    if y.shape != z.shape:
        return f"shape: Keras {y.shape}, recur {z.shape}"
    d, tol = np.abs(y - z), 2e-4 * (1 + np.abs(y))
    both = (np.isnan(y) & np.isnan(z)) | (y == z)  # equal infinities too
    d[both], tol[both] = 0, 1
    if np.all(d <= tol):
        return None
    i = np.unravel_index(np.argmax(np.where(np.isnan(d), np.inf, d - tol)), d.shape)
    return f"max |d| {np.nanmax(d):.3e}; at {tuple(int(v) for v in i)} Keras {y[i]:.6g}, recur {z[i]:.6g}"


def run_case(seed, recipe, args, counts):
    import numpy as np
    rng, rnp = random.Random(seed), np.random.default_rng(seed)
    K.backend.clear_session()
    try:
        model, xs, desc, calls = RECIPES[recipe](rng, rnp)
    except (ValueError, TypeError):  # a combination Keras refuses (TF: dtypes, e.g. tanh of ints)
        counts["keras refused"] = counts.get("keras refused", 0) + 1
        return
    model.set_weights([rnp.normal(0, 0.5, w.shape).astype("float32") for w in model.get_weights()])
    for layer in model.layers:  # Normalization: a variance > 0, and its copy of the state renewed
        if isinstance(layer, L.Normalization) and hasattr(layer, "adapt_variance"):
            layer.adapt_variance.assign(abs(layer.adapt_variance.numpy()) + 0.1)
            layer.finalize_state()
    batches = [xs] + [[rnp.normal(0, 1, x.shape).astype("float32") for x in xs]
                      for _ in range(calls - 1)]
    ys = []
    try:
        for b in batches:
            y = model.predict(b if len(b) > 1 else b[0], verbose=0, batch_size=b[0].shape[0])
            ys.append(list(y) if isinstance(y, (list, tuple)) else [y])
    except Exception as ex:  # noqa: BLE001 - TF refusing to run what it built
        counts["keras refused"] = counts.get("keras refused", 0) + 1
        print(f"[{recipe}-{seed}] Keras failed: {str(ex).strip().splitlines()[-1][:200]}")
        return
    case = args.out / f"{recipe}-{seed}"
    case.mkdir(parents=True, exist_ok=True)
    ext = "h5" if args.keras == 2 or rng.random() < 0.25 else "keras"
    model.save(case / f"model.{ext}")
    cmd = [str(args.recur), "run", str(case / f"model.{ext}"), "--threads", rng.choice(["1", "2"])]
    for c, b in enumerate(batches):
        if c:
            cmd.append("--next")
        for i, x in enumerate(b):
            np.save(case / f"x{c}_{i}.npy", x)
            cmd += ["-i", str(case / f"x{c}_{i}.npy")]
        for i, y in enumerate(ys[c]):
            np.save(case / f"y{c}_{i}.npy", y)
            cmd += ["-o", str(case / f"r{c}_{i}.npy")]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    what = {0: None, 3: "unsupported"}.get(r.returncode, f"recur exit {r.returncode}")
    if what:
        counts[what] = counts.get(what, 0) + 1
        print(f"[{recipe}-{seed}] {what}: {r.stderr.strip()[:300]} ({desc})", flush=True)
        if what == "unsupported":
            shutil.rmtree(case)
        return
    bad = [f"call {c} output {i}: {m}" for c in range(calls) for i, y in enumerate(ys[c])
           if (m := differs(y, np.load(case / f"r{c}_{i}.npy")))]
    if bad:
        counts["mismatch"] = counts.get("mismatch", 0) + 1
        print(f"[{recipe}-{seed}] MISMATCH ({desc}, .{ext}): {'; '.join(bad)}", flush=True)
    else:
        counts["ok"] = counts.get("ok", 0) + 1
        shutil.rmtree(case)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--keras", type=int, choices=[2, 3], default=3)
    ap.add_argument("--seeds", default="0:100", help="A:B, seeds A..B-1")
    ap.add_argument("--recipes", default=",".join(RECIPES), help="comma-separated: " +
                    ", ".join(RECIPES))
    ap.add_argument("--out", type=Path, default=ROOT / "build" / "keras_diff")
    ap.add_argument("--recur", type=Path, default=ROOT / "build" / "recur")
    ap.add_argument("--ops", help="the ops recipe's op kinds, comma-separated (default: all "
                    "of " + ", ".join(OP_KINDS) + ")")
    args = ap.parse_args()
    if args.ops:
        OP_KINDS[:] = args.ops.split(",")
    init(args.keras)
    a, b = (int(v) for v in args.seeds.split(":"))
    recipes = args.recipes.split(",")
    counts = {}
    for seed in range(a, b):
        run_case(seed, recipes[seed % len(recipes)], args, counts)
    print(counts)
    sys.exit(1 if counts.get("mismatch") or any(k.startswith("recur exit") for k in counts) else 0)


if __name__ == "__main__":
    main()
