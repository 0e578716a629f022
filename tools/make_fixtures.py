#!/usr/bin/env python3
"""Generate tests/fixtures/keras/*.json: Keras-computed outputs of recurrent layers.

Every expected array is computed by Keras itself (eager, training=False) from asymmetric random
weights set with set_weights, random inputs and explicit masks. Each output is also checked
against a small float64 numpy reference written from docs/keras-rnn-semantics.md, so a Keras
backend quirk that recur must not copy (semantics §3.6) stops the generator instead of ending
up in a fixture.

Run from the repository root (see tools/README.md):
    KERAS_BACKEND=tensorflow .venv/bin/python tools/make_fixtures.py
Deterministic: every case draws from its own RNG seeded by a CRC of its id, so the same
versions regenerate byte-identical files and adding a case leaves the others unchanged.
"""

import copy
import json
import os
import sys
import zlib
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")  # the generic loop on CPU, never cuDNN

import numpy as np  # noqa: E402
import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers as L  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / "tests" / "fixtures" / "keras"
SCHEMA = "recur-keras-fixtures/1"
REF_TOL = 2e-5  # Keras float32 vs the float64 reference

OPTION_KEYS = ["return_sequences", "return_state", "go_backwards", "stateful", "unroll",
               "zero_output_for_mask"]
GATES = {"SimpleRNN": 1, "LSTM": 4, "GRU": 3}
STATE_NAMES = {"SimpleRNN": ["h"], "LSTM": ["h", "c"], "GRU": ["h"]}


# ---------------------------------------------------------------------------------------------
# Arrays in the fixture format

def f32_list(a):
    # Shortest decimal that round-trips each float32 value.
    return [float(str(v)) for v in np.asarray(a, dtype=np.float32).ravel()]


def arr(a):
    a = np.asarray(a, dtype=np.float32)
    return {"shape": list(a.shape), "data": f32_list(a)}


def mask_json(m):
    return None if m is None else {"shape": list(m.shape), "data": [int(v) for v in m.ravel()]}


def np_of(j):
    return np.asarray(j["data"], dtype=np.float32).reshape(j["shape"])


# ---------------------------------------------------------------------------------------------
# Specs: plain dicts in the fixture format (weights filled in by draw_weights)

def base_kind(cls):
    return cls[:-4] if cls.endswith("Cell") else cls  # "LSTMCell" -> "LSTM"


def cell_config(kind, units, activation=None, recurrent_activation=None, use_bias=True,
                implementation=2, reset_after=True):
    cfg = {"units": units, "activation": activation or "tanh", "use_bias": use_bias}
    if kind in ("LSTM", "GRU"):
        cfg["recurrent_activation"] = recurrent_activation or "sigmoid"
        cfg["implementation"] = implementation
    if kind == "GRU":
        cfg["reset_after"] = reset_after
    return cfg


def options(**kw):
    unknown = set(kw) - set(OPTION_KEYS)
    assert not unknown, unknown
    return {k: bool(kw.get(k, False)) for k in OPTION_KEYS}


def layer_spec(kind, units, opts, **cell_kw):
    return {"class": kind, "config": {**cell_config(kind, units, **cell_kw), **opts}}


def cell_spec(kind, units, **cell_kw):
    return {"class": kind + "Cell", "config": cell_config(kind, units, **cell_kw)}


def rnn_spec(cells, opts, stacked=None):
    stacked = len(cells) > 1 if stacked is None else stacked
    assert stacked or len(cells) == 1
    return {"class": "RNN", "config": dict(opts), "stacked": stacked, "cells": cells}


def bidir_spec(forward, backward=None, merge_mode="concat"):
    return {"class": "Bidirectional", "merge_mode": merge_mode, "forward": forward,
            "backward": backward}


def weight_shapes(kind, cfg, input_dim):
    u, g = cfg["units"], GATES[kind]
    shapes = {"kernel": (input_dim, g * u), "recurrent_kernel": (u, g * u)}
    if cfg["use_bias"]:
        two_rows = kind == "GRU" and cfg["reset_after"]
        shapes["bias"] = (2, 3 * u) if two_rows else (g * u,)
    return shapes


def draw_cell_weights(spec, input_dim, rng):
    # Asymmetric random values: every gate block and every unit differs.
    kind = base_kind(spec["class"])
    spec["weights"] = {}
    for name, shape in weight_shapes(kind, spec["config"], input_dim).items():
        scale = 0.5 if name == "bias" else 0.6
        spec["weights"][name] = arr(rng.uniform(-scale, scale, size=shape))
    return spec["config"]["units"]


def draw_weights(spec, input_dim, rng):
    """Fills in spec's weights; returns the output width of one direction / the merged one."""
    cls = spec["class"]
    if cls in GATES:
        return draw_cell_weights(spec, input_dim, rng)
    if cls == "RNN":
        dim = input_dim
        for c in spec["cells"]:
            dim = draw_cell_weights(c, dim, rng)
        return dim
    assert cls == "Bidirectional"
    # Keras forces zero_output_for_mask = return_sequences on both sub-layers; record the
    # effective value so the fixture states what Keras ran.
    for sub in (spec["forward"], spec["backward"]):
        if sub is not None:
            sub["config"]["zero_output_for_mask"] = sub["config"]["return_sequences"]
    draw_weights(spec["forward"], input_dim, rng)
    if spec["backward"] is not None:
        draw_weights(spec["backward"], input_dim, rng)


def backward_copy(forward):
    # What Keras builds without backward_layer: forward's config with go_backwards flipped.
    # The fixture gives it forward's weights so recur can build it the same way.
    b = copy.deepcopy(forward)
    b["config"]["go_backwards"] = not b["config"]["go_backwards"]
    return b


def cells_of(spec):
    if spec["class"] in GATES:
        return [{"class": spec["class"] + "Cell", "config": spec["config"],
                 "weights": spec["weights"]}]
    return spec["cells"]


def state_names(spec, prefix=""):
    cells = cells_of(spec)
    names = []
    for i, c in enumerate(cells):
        p = prefix + (f"cell{i}." if spec["class"] == "RNN" and spec["stacked"] else "")
        names += [p + n for n in STATE_NAMES[base_kind(c["class"])]]
    return names


def state_widths(spec):
    return [c["config"]["units"] for c in cells_of(spec)
            for _ in STATE_NAMES[base_kind(c["class"])]]


def sub_layers(spec):
    if spec["class"] == "Bidirectional":
        return [spec["forward"], spec["backward"] or backward_copy(spec["forward"])]
    return [spec]


def output_names(spec):
    if spec["class"] != "Bidirectional":
        opts = spec["config"]
        return ["output"] + (state_names(spec) if opts["return_state"] else [])
    fwd, bwd = sub_layers(spec)
    names = ["output"] if spec["merge_mode"] is not None else ["output_forward",
                                                               "output_backward"]
    if fwd["config"]["return_state"]:
        names += state_names(fwd, "forward.") + state_names(bwd, "backward.")
    return names


# ---------------------------------------------------------------------------------------------
# Keras side

KERAS_LAYERS = {"SimpleRNN": L.SimpleRNN, "LSTM": L.LSTM, "GRU": L.GRU}
KERAS_CELLS = {"SimpleRNNCell": L.SimpleRNNCell, "LSTMCell": L.LSTMCell, "GRUCell": L.GRUCell}


def cell_weight_list(c):
    w = c["weights"]
    return [np_of(w[k]) for k in ("kernel", "recurrent_kernel", "bias") if k in w]


def keras_layer(spec):
    cls = spec["class"]
    if cls in KERAS_LAYERS:
        return KERAS_LAYERS[cls](**spec["config"])
    if cls == "RNN":
        cells = [KERAS_CELLS[c["class"]](**c["config"]) for c in spec["cells"]]
        cell = L.StackedRNNCells(cells) if spec["stacked"] else cells[0]
        return L.RNN(cell, **spec["config"])
    backward = keras_layer(spec["backward"]) if spec["backward"] is not None else None
    return L.Bidirectional(keras_layer(spec["forward"]), backward_layer=backward,
                           merge_mode=spec["merge_mode"])


def keras_set_weights(layer, spec):
    if spec["class"] == "Bidirectional":
        fwd, bwd = sub_layers(spec)
        keras_set_weights(layer.forward_layer, fwd)
        keras_set_weights(layer.backward_layer, bwd)
        return
    weights = [w for c in cells_of(spec) for w in cell_weight_list(c)]
    got = [tuple(w.shape) for w in layer.get_weights()]
    assert got == [w.shape for w in weights], (got, [w.shape for w in weights])
    layer.set_weights(weights)


def keras_flat_states(layer):
    if isinstance(layer, L.Bidirectional):
        return keras_flat_states(layer.forward_layer) + keras_flat_states(layer.backward_layer)
    return [np.asarray(s) for s in keras.tree.flatten(layer.states)]


def keras_reset(layer):
    # Keras' RNN.reset_state assigns zeros to the top-level entries of `states`, which fails
    # for stacked multi-state cells (a nested list); zeroing every flattened state variable
    # is what the op means.
    if isinstance(layer, L.Bidirectional):
        keras_reset(layer.forward_layer)
        keras_reset(layer.backward_layer)
        return
    for v in keras.tree.flatten(layer.states):
        v.assign(np.zeros(v.shape, dtype=np.float32))


def nest_states(spec, flat):
    """Flat initial-state list -> the structure Keras' call expects."""
    if spec["class"] == "Bidirectional":
        return list(flat)  # Keras splits the flat list in halves
    if spec["class"] == "RNN" and spec["stacked"]:
        out, k = [], 0
        for c in spec["cells"]:
            n = len(STATE_NAMES[base_kind(c["class"])])
            out.append(list(flat[k:k + n]) if n > 1 else flat[k])
            k += n
        return out
    return list(flat)


def keras_call(layer, spec, x, mask, init):
    kwargs = {"training": False}
    if mask is not None:
        kwargs["mask"] = tf.constant(mask)
    if init is not None:
        kwargs["initial_state"] = nest_states(spec, [tf.constant(s) for s in init])
    if isinstance(layer, L.Bidirectional) and layer.return_state:
        # Keras 3.15.1's Bidirectional.compute_mask crashes with return_state when the layer
        # is stateful or given a mask ("generator * int"); it only runs after the numbers are
        # computed, so call() directly.
        out = layer.call(tf.constant(x), **kwargs)
    else:
        out = layer(tf.constant(x), **kwargs)
    return [np.asarray(t) for t in keras.tree.flatten(out)]


# ---------------------------------------------------------------------------------------------
# float64 numpy reference (semantics §2, §3.4, §4, §6, §7) used only to vet Keras' numbers

def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


ACTIVATIONS = {
    "tanh": np.tanh,
    "sigmoid": sigmoid,
    "linear": lambda x: x,
    "relu": lambda x: np.maximum(x, 0.0),
    "relu6": lambda x: np.clip(x, 0.0, 6.0),
    "hard_sigmoid": lambda x: np.clip(x / 6.0 + 0.5, 0.0, 1.0),
    "softsign": lambda x: x / (np.abs(x) + 1.0),
    "selu": lambda x: 1.0507009873554805 * np.where(
        x > 0, x, 1.6732632423543772 * (np.exp(np.minimum(x, 0.0)) - 1.0)),
    "elu": lambda x: np.where(x > 0, x, np.exp(np.minimum(x, 0.0)) - 1.0),
    "swish": lambda x: x * sigmoid(x),
}


def ref_cell_step(c, x, states):
    kind, cfg = base_kind(c["class"]), c["config"]
    w = {k: np_of(v).astype(np.float64) for k, v in c["weights"].items()}
    K, R, b = w["kernel"], w["recurrent_kernel"], w.get("bias")
    phi = ACTIVATIONS[cfg["activation"]]
    u = cfg["units"]
    if kind == "SimpleRNN":
        h = phi(x @ K + (b if b is not None else 0.0) + states[0] @ R)
        return h, [h]
    sig = ACTIVATIONS[cfg["recurrent_activation"]]
    if kind == "LSTM":
        h, cst = states
        z = x @ K + h @ R + (b if b is not None else 0.0)
        i, f, g, o = (z[:, k * u:(k + 1) * u] for k in range(4))
        c2 = sig(f) * cst + sig(i) * phi(g)
        h2 = sig(o) * phi(c2)
        return h2, [h2, c2]
    h = states[0]
    if cfg["reset_after"]:
        bi, br = (b[0], b[1]) if b is not None else (0.0, 0.0)
        xp, hp = x @ K + bi, h @ R + br
        z = sig(xp[:, :u] + hp[:, :u])
        r = sig(xp[:, u:2 * u] + hp[:, u:2 * u])
        hh = phi(xp[:, 2 * u:] + r * hp[:, 2 * u:])
    else:
        xp = x @ K + (b if b is not None else 0.0)
        hp = h @ R[:, :2 * u]
        z = sig(xp[:, :u] + hp[:, :u])
        r = sig(xp[:, u:2 * u] + hp[:, u:2 * u])
        hh = phi(xp[:, 2 * u:] + (r * h) @ R[:, 2 * u:])
    h2 = z * h + (1.0 - z) * hh
    return h2, [h2]


def ref_step(spec, x, states):
    out, new, k = x, [], 0
    for c in cells_of(spec):
        n = len(STATE_NAMES[base_kind(c["class"])])
        out, s = ref_cell_step(c, out, states[k:k + n])
        new += s
        k += n
    return out, new


def ref_rnn_layer(spec, x, mask, init, stored):
    opts = spec["config"]
    B, T = x.shape[:2]
    if init is not None:
        states = [s.astype(np.float64) for s in init]
    elif opts["stateful"] and stored is not None:
        states = stored
    else:
        states = [np.zeros((B, w)) for w in state_widths(spec)]
    prev, outputs = None, []
    for t in (range(T - 1, -1, -1) if opts["go_backwards"] else range(T)):
        out, new = ref_step(spec, x[:, t].astype(np.float64), states)
        m = np.ones((B, 1), bool) if mask is None else mask[:, t:t + 1]
        states = [np.where(m, n, s) for n, s in zip(new, states)]
        if prev is None:
            prev = np.zeros_like(out)  # nothing emitted yet: zeros, not the initial state
        prev = np.where(m, out, 0.0 if opts["zero_output_for_mask"] else prev)
        outputs.append(prev)
    seq = np.stack(outputs, axis=1)  # processing order, as Keras returns it
    result = [seq if opts["return_sequences"] else outputs[-1]]
    if opts["return_state"]:
        result += states
    return result, (states if opts["stateful"] else None)


def ref_call(spec, x, mask, init, stored):
    if spec["class"] != "Bidirectional":
        return ref_rnn_layer(spec, x, mask, init, stored)
    fwd, bwd = sub_layers(spec)
    n = 0 if init is None else len(init)
    fi = None if init is None else init[:n // 2]
    bi = None if init is None else init[n // 2:]
    nf = len(state_widths(fwd))
    sf, sb = (None, None) if stored is None else (stored[:nf], stored[nf:])
    y, new_f = ref_rnn_layer(fwd, x, mask, fi, sf)
    yr, new_b = ref_rnn_layer(bwd, x, mask, bi, sb)
    states = y[1:] + yr[1:]
    y, yr = y[0], yr[0]
    if fwd["config"]["return_sequences"]:
        yr = yr[:, ::-1]
    mode = spec["merge_mode"]
    merged = {"concat": lambda: [np.concatenate([y, yr], axis=-1)], "sum": lambda: [y + yr],
              "mul": lambda: [y * yr], "ave": lambda: [(y + yr) / 2.0],
              None: lambda: [y, yr]}[mode]()
    new_stored = None if new_f is None else new_f + new_b
    return merged + states, new_stored


# ---------------------------------------------------------------------------------------------
# Inputs

def make_mask(kind, B, T, rng):
    if kind is None:
        return None
    m = np.ones((B, T), dtype=bool)
    for b in range(B):
        if kind in ("holes", "all_false_row"):
            # Holes anywhere, including the first and last step; each row differs.
            m[b] = rng.uniform(size=T) < 0.6
            if T > 2:  # at least one hole inside and one used step at an end
                m[b, 1 + b % (T - 2)] = False
                m[b, 0 if b % 2 == 0 else T - 1] = True
        elif kind == "right":
            m[b, max(1, T - 1 - b * max(1, T // 3)):] = False  # row 0 keeps T-1 steps
        elif kind == "left":
            m[b, :min(T - 1, 1 + b * max(1, T // 3))] = False
        else:
            raise ValueError(kind)
    if kind == "right" and B > 1:
        m[B - 1] = True  # one full-length row
    if kind == "all_false_row":
        m[min(1, B - 1)] = False
    return m


def make_initial_state(spec, B, rng):
    widths = []
    for sub in sub_layers(spec):
        widths += state_widths(sub)
    return [rng.uniform(-0.8, 0.8, size=(B, w)).astype(np.float32) for w in widths]


# ---------------------------------------------------------------------------------------------
# Running a case

def build_case(case_id, spec, B, T, F, calls, description):
    """calls: list of dicts {mask, init} or the string "reset"."""
    rng = np.random.default_rng(zlib.crc32(case_id.encode()))
    draw_weights(spec, F, rng)
    layer = keras_layer(spec)
    layer.build((B, T, F))
    keras_set_weights(layer, spec)
    stateful = sub_layers(spec)[0]["config"]["stateful"]
    names = output_names(spec)
    procedure, stored = [], None
    for c in calls:
        if c == "reset":
            keras_reset(layer)
            stored = None
            procedure.append({"op": "reset_state"})
            continue
        x = rng.uniform(-1.0, 1.0, size=(B, T, F)).astype(np.float32)
        mask = make_mask(c.get("mask"), B, T, rng)
        init = make_initial_state(spec, B, rng) if c.get("init") else None
        got = keras_call(layer, spec, x, mask, init)
        want, stored = ref_call(spec, x, mask, init, stored)
        check(case_id, names, got, want)
        op = {"op": "call", "input": arr(x), "mask": mask_json(mask),
              "initial_state": None if init is None else [arr(s) for s in init],
              "expected": [arr(a) for a in got], "names": names}
        if stateful:
            kept = keras_flat_states(layer)
            check(case_id, ["stored state"] * len(kept), kept, stored)
            op["stored_states"] = [arr(s) for s in kept]
        procedure.append(op)
    return {"id": case_id, "description": description, "layer": spec, "procedure": procedure}


def check(case_id, names, got, want):
    if len(got) != len(want):
        sys.exit(f"{case_id}: Keras returned {len(got)} arrays, the reference {len(want)}")
    for n, g, w in zip(names, got, want):
        if g.shape != w.shape or not np.allclose(g, w, atol=REF_TOL, rtol=REF_TOL):
            sys.exit(f"{case_id}: {n}: Keras and the numpy reference disagree\n"
                     f"keras {g.shape}:\n{g}\nreference {w.shape}:\n{w}")


# ---------------------------------------------------------------------------------------------
# The cases

KINDS = [  # (id prefix, class, cell kwargs)
    ("simple_rnn", "SimpleRNN", {}),
    ("lstm/impl1", "LSTM", {"implementation": 1}),
    ("lstm/impl2", "LSTM", {"implementation": 2}),
    ("gru/reset_after", "GRU", {"reset_after": True}),
    ("gru/reset_before", "GRU", {"reset_after": False}),
]

# Non-default activations per kind: variant name -> (activation, recurrent_activation).
ACT_VARIANTS = {
    "SimpleRNN": {"a": ("relu", None), "b": ("selu", None), "c": ("softsign", None),
                  "d": ("linear", None)},
    "LSTM": {"a": ("softsign", "hard_sigmoid"), "b": ("elu", "tanh"),
             "c": ("linear", "tanh"), "d": ("selu", "hard_sigmoid")},
    "GRU": {"a": ("softsign", "hard_sigmoid"), "b": ("selu", "relu6"),
            "c": ("linear", "tanh"), "d": ("relu", "hard_sigmoid")},
}


def one(mask=None, init=False):
    return {"mask": mask, "init": init}


# Scenarios for the single-cell layers: options combined pairwise, sizes rotated.
# (name, (B, T, F, units), options, calls, activation variant or None, use_bias, description)
BASE_SCENARIOS = [
    ("default", (2, 4, 5, 3), {}, [one()], None, True, "defaults, last output only"),
    ("seq_state", (3, 4, 5, 3), {"return_sequences": True, "return_state": True}, [one()],
     None, True, "return_sequences + return_state"),
    ("backwards_seq_state", (2, 9, 5, 3),
     {"go_backwards": True, "return_sequences": True, "return_state": True}, [one()], "d",
     True, "go_backwards: sequence in processing order; linear-ish activation"),
    ("mask_holes_seq", (3, 9, 5, 3), {"return_sequences": True, "return_state": True},
     [one("holes")], None, True, "mask with holes, masked steps carry the previous output"),
    ("mask_holes_zero_output_backwards", (3, 4, 1, 7),
     {"return_sequences": True, "go_backwards": True, "zero_output_for_mask": True},
     [one("holes")], None, True, "holes + zero_output_for_mask + go_backwards, input dim 1"),
    ("mask_right_backwards_init", (3, 4, 5, 3),
     {"go_backwards": True, "return_sequences": True, "return_state": True},
     [one("right", init=True)], None, True,
     "right-padded mask with go_backwards: padded tail processed first, emits zeros"),
    ("mask_left_backwards_zero_output_last", (3, 4, 5, 3),
     {"go_backwards": True, "zero_output_for_mask": True, "return_state": True},
     [one("left")], None, True,
     "left-padded + go_backwards: last processed step masked, so last output is zero"),
    ("mask_all_false_row_init", (3, 4, 5, 3),
     {"return_sequences": True, "return_state": True}, [one("all_false_row", init=True)],
     None, True, "an all-false mask row keeps its initial state and emits zeros"),
    ("mask_left_init", (2, 9, 1, 3), {"return_sequences": True, "return_state": True},
     [one("left", init=True)], "c", True,
     "left padding with a non-zero initial state: zeros before the first emitted step"),
    ("init_backwards", (2, 4, 5, 7), {"go_backwards": True, "return_state": True},
     [one(init=True)], None, True, "initial_state with go_backwards"),
    ("no_bias_mask_right", (2, 4, 5, 3), {"return_sequences": True, "return_state": True},
     [one("right")], None, False, "use_bias=False with a right-padded mask"),
    ("unroll_mask_zero_output", (2, 4, 5, 3),
     {"unroll": True, "return_sequences": True, "zero_output_for_mask": True},
     [one("holes")], None, True, "unroll + mask holes + zero_output_for_mask"),
    ("unroll_backwards_mask_init", (3, 4, 5, 3),
     {"unroll": True, "go_backwards": True, "return_sequences": True, "return_state": True},
     [one("holes", init=True)], "a", True, "unroll + go_backwards + mask + initial_state"),
    ("activations_mask", (2, 4, 5, 3), {"return_sequences": True}, [one("holes")], "a", True,
     "non-default activations with a mask"),
    ("activations_backwards_init", (2, 9, 5, 3), {"go_backwards": True, "return_state": True},
     [one(init=True)], "b", True, "non-default activations, go_backwards, initial_state"),
    ("tiny", (1, 1, 1, 1), {"return_sequences": True, "return_state": True}, [one()], None,
     True, "batch 1, one step, input dim 1, one unit"),
    ("units1_no_bias_backwards", (3, 9, 1, 1),
     {"go_backwards": True, "return_sequences": True}, [one("holes")], "d", False,
     "one unit, no bias, go_backwards, holes"),
    ("large_mask_right_zero_output", (3, 9, 5, 7),
     {"return_sequences": True, "zero_output_for_mask": True, "return_state": True},
     [one("right")], "c", True, "units 7, T 9, right padding with zero_output_for_mask"),
    ("stateful", (2, 4, 5, 3), {"stateful": True, "return_sequences": True,
                                "return_state": True},
     [one(), one("holes"), "reset", one(), one("left", init=True)], None, True,
     "stateful: states carried across calls, reset_state zeros them, initial_state wins"),
    ("stateful_backwards_unroll", (1, 4, 5, 3),
     {"stateful": True, "go_backwards": True, "unroll": True}, [one(), one(), "reset", one()],
     "b", True, "stateful + go_backwards + unroll, batch 1"),
]


def base_cases():
    cases = []
    for prefix, cls, kw in KINDS:
        for name, (B, T, F, u), opts, calls, act, use_bias, desc in BASE_SCENARIOS:
            cell_kw = dict(kw, use_bias=use_bias)
            if act is not None:
                a, ra = ACT_VARIANTS[cls][act]
                cell_kw["activation"] = a
                if ra is not None:
                    cell_kw["recurrent_activation"] = ra
            spec = layer_spec(cls, u, options(**opts), **cell_kw)
            cases.append((f"{prefix}/{name}", spec, B, T, F, calls, desc))
    return cases


def rnn_cases():
    S, Lc, G = "SimpleRNN", "LSTM", "GRU"
    mixed = lambda: [cell_spec(Lc, 4), cell_spec(G, 3), cell_spec(S, 2)]  # noqa: E731
    c = []
    add = lambda *a: c.append(a)  # noqa: E731
    # One cell in the generic RNN layer.
    add("rnn/simple_cell_mask_holes", rnn_spec([cell_spec(S, 3)],
        options(return_sequences=True, return_state=True)), 2, 4, 5, [one("holes")],
        "RNN(SimpleRNNCell) with holes")
    add("rnn/lstm_cell_impl1_backwards_left_init",
        rnn_spec([cell_spec(Lc, 3, implementation=1)],
                 options(go_backwards=True, return_state=True)), 3, 4, 5,
        [one("left", init=True)], "RNN(LSTMCell) go_backwards, left padding, initial_state")
    add("rnn/gru_cell_reset_before_zero_output",
        rnn_spec([cell_spec(G, 3, reset_after=False)],
                 options(return_sequences=True, zero_output_for_mask=True)), 3, 4, 5,
        [one("right")], "RNN(GRUCell reset_after=False), zero_output_for_mask")
    # StackedRNNCells with mixed cells.
    add("stacked/mixed_default", rnn_spec(mixed(), options(return_state=True)), 2, 4, 5,
        [one()], "LSTMCell(4) -> GRUCell(3) -> SimpleRNNCell(2)")
    add("stacked/mixed_mask_holes_seq",
        rnn_spec(mixed(), options(return_sequences=True, return_state=True)), 3, 9, 5,
        [one("holes")], "mixed stack with holes")
    add("stacked/gru_before_lstm_impl1_backwards_init",
        rnn_spec([cell_spec(G, 3, reset_after=False), cell_spec(Lc, 2, implementation=1)],
                 options(go_backwards=True, return_sequences=True, return_state=True)),
        2, 4, 5, [one(init=True)], "GRU(reset_after=False) -> LSTM(impl 1), go_backwards")
    add("stacked/activations_left_zero_output",
        rnn_spec([cell_spec(S, 5, activation="relu"),
                  cell_spec(Lc, 3, activation="softsign", recurrent_activation="hard_sigmoid"),
                  cell_spec(G, 2, activation="selu", recurrent_activation="relu6")],
                 options(return_sequences=True, zero_output_for_mask=True)), 3, 4, 1,
        [one("left")], "non-default activations per cell, left padding")
    add("stacked/units1_units7_unroll_init",
        rnn_spec([cell_spec(Lc, 1), cell_spec(G, 7)],
                 options(unroll=True, return_state=True)), 3, 4, 5, [one(init=True)],
        "units 1 then 7, unroll, initial_state")
    add("stacked/single_lstm_cell_init",
        rnn_spec([cell_spec(Lc, 3)], options(return_state=True), stacked=True), 2, 4, 5,
        [one(init=True)], "StackedRNNCells of one LSTMCell: states [[h, c]] flattened")
    add("stacked/no_bias_all_false_row_init",
        rnn_spec([cell_spec(G, 3), cell_spec(G, 3, use_bias=False, reset_after=False),
                  cell_spec(Lc, 2, use_bias=False)],
                 options(return_sequences=True, return_state=True)), 3, 4, 5,
        [one("all_false_row", init=True)], "cells without bias, an all-false mask row")
    add("stacked/unroll_backwards_holes",
        rnn_spec(mixed(), options(unroll=True, go_backwards=True, return_sequences=True)),
        2, 9, 5, [one("holes")], "unroll + go_backwards + holes")
    add("stacked/stateful_gru_simple",
        rnn_spec([cell_spec(G, 3), cell_spec(S, 3)],
                 options(stateful=True, return_state=True)), 2, 4, 5,
        [one(), one("holes"), "reset", one()], "stateful stack of single-state cells")
    add("stacked/stateful_lstm_gru",
        rnn_spec([cell_spec(Lc, 3), cell_spec(G, 2)],
                 options(stateful=True, return_sequences=True, return_state=True)), 2, 4, 5,
        [one(), one("right"), "reset", one()],
        "stateful stack with an LSTMCell (reset zeroes every flattened state)")
    return c


def bidirectional_cases():
    S, Lc, G = "SimpleRNN", "LSTM", "GRU"
    c = []
    add = lambda *a: c.append(a)  # noqa: E731

    def lay(cls, u, back=False, **kw):
        opts = {k: kw.pop(k) for k in list(kw) if k in OPTION_KEYS}
        return layer_spec(cls, u, options(go_backwards=back, **opts), **kw)

    add("bidirectional/lstm_concat_default", bidir_spec(lay(Lc, 3)), 2, 4, 5, [one()],
        "default backward layer (forward's weights), last outputs concatenated")
    add("bidirectional/lstm_concat_seq", bidir_spec(lay(Lc, 3, return_sequences=True)),
        2, 9, 5, [one()], "backward sequence flipped back before concat")
    add("bidirectional/gru_sum_seq_holes_explicit_backward",
        bidir_spec(lay(G, 3, return_sequences=True),
                   lay(G, 3, back=True, return_sequences=True), "sum"), 3, 4, 5,
        [one("holes")], "explicit backward_layer with its own weights, merge sum, holes")
    add("bidirectional/simple_mul_seq_right",
        bidir_spec(lay(S, 3, return_sequences=True), None, "mul"), 3, 4, 5, [one("right")],
        "merge mul, right padding (zero outputs forced)")
    add("bidirectional/lstm_ave_seq_state_init",
        bidir_spec(lay(Lc, 3, return_sequences=True, return_state=True),
                   lay(Lc, 3, back=True, return_sequences=True, return_state=True), "ave"),
        2, 4, 5, [one(init=True)], "merge ave, return_state, initial_state split in halves")
    add("bidirectional/gru_reset_before_none_seq_state",
        bidir_spec(lay(G, 3, reset_after=False, return_sequences=True, return_state=True),
                   None, None), 2, 4, 5, [one()], "merge_mode None: [y_f, y_b, h_f, h_b]")
    add("bidirectional/lstm_none_left",
        bidir_spec(lay(Lc, 3), lay(Lc, 3, back=True), None), 3, 4, 5, [one("left")],
        "merge_mode None with last outputs, left padding")
    add("bidirectional/lstm_forward_gru_backward_state",
        bidir_spec(lay(Lc, 3, return_state=True), lay(G, 2, back=True, return_state=True)),
        2, 4, 5, [one("holes")], "backward_layer of another class and width")
    add("bidirectional/gru_explicit_backward_activations_all_false_row",
        bidir_spec(lay(G, 3, return_sequences=True),
                   lay(G, 5, back=True, return_sequences=True, activation="softsign",
                       recurrent_activation="hard_sigmoid")), 3, 4, 5,
        [one("all_false_row")], "backward with other units and activations, all-false row")
    add("bidirectional/lstm_concat_state_init_holes",
        bidir_spec(lay(Lc, 3, return_state=True), None), 3, 4, 5, [one("holes", init=True)],
        "return_state [out, h_f, c_f, h_b, c_b] with holes and initial_state")
    add("bidirectional/lstm_impl1_sum_unroll_seq",
        bidir_spec(lay(Lc, 3, implementation=1, unroll=True, return_sequences=True),
                   None, "sum"), 2, 4, 5, [one()], "unroll, implementation 1, merge sum")
    add("bidirectional/stacked_concat_seq_state",
        bidir_spec(rnn_spec([cell_spec(Lc, 4), cell_spec(G, 3)],
                            options(return_sequences=True, return_state=True)),
                   rnn_spec([cell_spec(Lc, 4), cell_spec(G, 3)],
                            options(go_backwards=True, return_sequences=True,
                                    return_state=True))),
        2, 4, 5, [one("holes")], "Bidirectional over stacked cells, states flattened")
    add("bidirectional/swapped_directions_concat_seq",
        bidir_spec(lay(G, 3, back=True, return_sequences=True),
                   lay(G, 3, return_sequences=True)), 2, 4, 5, [one("right")],
        "forward layer has go_backwards=True and backward False; Keras still flips the "
        "backward layer's sequence")
    add("bidirectional/gru_ave_tiny_state",
        bidir_spec(lay(G, 1, return_state=True), None, "ave"), 1, 1, 1, [one(init=True)],
        "batch 1, one step, one unit")
    add("bidirectional/lstm_concat_no_bias_seq_holes",
        bidir_spec(lay(Lc, 3, use_bias=False, return_sequences=True),
                   lay(Lc, 3, back=True, use_bias=False, return_sequences=True)),
        2, 4, 5, [one("holes")], "use_bias=False, explicit backward layer")
    add("bidirectional/simple_none_state_init",
        bidir_spec(lay(S, 3, return_state=True, activation="elu"), None, None), 2, 4, 1,
        [one(init=True)], "merge None, return_state, elu")
    add("bidirectional/gru_concat_large_left",
        bidir_spec(lay(G, 7, return_sequences=True), None), 3, 9, 5, [one("left")],
        "units 7, T 9, left padding")
    add("bidirectional/lstm_stateful_state",
        bidir_spec(lay(Lc, 3, stateful=True, return_state=True),
                   lay(Lc, 3, back=True, stateful=True, return_state=True)), 2, 4, 5,
        [one(), one("holes"), "reset", one()], "stateful Bidirectional with reset_state")
    add("bidirectional/simple_stateful_seq_default_backward",
        bidir_spec(lay(S, 3, stateful=True, return_sequences=True), None, "sum"), 2, 4, 5,
        [one(), one(), "reset", one("right")], "stateful with the default backward layer")
    return c


def main():
    groups = {"simple_rnn": [], "lstm": [], "gru": [], "rnn": [], "bidirectional": []}
    for args in base_cases() + rnn_cases() + bidirectional_cases():
        print(args[0], file=sys.stderr)
        case = build_case(*args)
        group = case["id"].split("/")[0]
        groups["rnn" if group == "stacked" else group].append(case)
    ids = [c["id"] for cases in groups.values() for c in cases]
    assert len(ids) == len(set(ids)), "duplicate case ids"

    OUT_DIR.mkdir(parents=True, exist_ok=True)
    header = {"schema": SCHEMA, "keras_version": keras.__version__,
              "tensorflow_version": tf.__version__, "numpy_version": np.__version__,
              "backend": keras.backend.backend(), "generator": "tools/make_fixtures.py"}
    total = 0
    for name, cases in groups.items():
        path = OUT_DIR / f"{name}.json"
        # One case per line: small diffs when a case changes, still valid JSON.
        lines = [json.dumps(c, separators=(",", ":")) for c in cases]
        head = json.dumps(header, indent=1)[:-2]
        text = head + ',\n "cases": [\n' + ",\n".join(lines) + "\n ]\n}\n"
        json.loads(text)  # sanity: the file is valid JSON
        path.write_text(text)
        total += path.stat().st_size
        print(f"{path.relative_to(ROOT)}: {len(cases)} cases, {path.stat().st_size} bytes")
    print(f"{len(ids)} cases, {total} bytes")


if __name__ == "__main__":
    main()
