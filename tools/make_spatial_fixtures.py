#!/usr/bin/env python3
"""Write tests/fixtures/spatial/<case>/: Keras-made model files for the 2D/3D spatial layers,
TimeDistributed over them, nested models with BatchNormalization and frozen layers in legacy
.h5, and Keras' input-shape rules.

Same layout, naming (k3-<name>, k3-<name>-h5, k2-<name>) and checks as
tools/make_model_fixtures.py, whose machinery this script reuses; it writes its own folder so
that a full run of either script leaves the other's cases alone. Input-shape cases also list in
case.json "shape_calls": inputs that Keras itself (loading the file, `model(x)`: Keras 3.15.1 for
Keras 3 files, tf_keras 2.21 for Keras 2 files, which Keras 3 cannot load when they hold RNN
layers) runs (with the outputs it gave) or refuses (with its error); tests/test_input_rules.cpp
checks recur against them.

Run from the repository root with the venv of tools/requirements.txt:
    .venv/bin/python tools/make_spatial_fixtures.py
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_model_fixtures as mmf  # noqa: E402
import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "tests" / "fixtures" / "spatial"
mmf.GENERATOR = "tools/make_spatial_fixtures.py"
uni = mmf.uni


# ---------------------------------------------------------------------------------------------
# Builders (odd sizes throughout)

def b_pool2d(rng):
    K, L = mmf.K, mmf.L
    i = K.Input(shape=(7, 9, 3))
    outs = [
        L.MaxPooling2D(2)(i),
        L.MaxPooling2D((3, 2), strides=(2, 1), padding="same")(i),
        L.AveragePooling2D((3, 3), strides=2, padding="same")(i),
        L.AveragePooling2D((2, 4), strides=(1, 3))(i),
        L.AveragePooling2D(5, strides=1, padding="same")(i),
        L.GlobalMaxPooling2D()(i),
        L.GlobalAveragePooling2D(keepdims=True)(i),
    ]
    return K.Model(i, outs), [[uni(rng, 2, 7, 9, 3)]], "channels_last"


def b_pool3d(rng):
    K, L = mmf.K, mmf.L
    i = K.Input(shape=(5, 6, 7, 2))
    outs = [
        L.MaxPooling3D(2)(i),
        L.MaxPooling3D((3, 1, 2), strides=(2, 2, 3), padding="same")(i),
        L.AveragePooling3D((2, 3, 3), strides=(1, 2, 2), padding="same")(i),
        L.AveragePooling3D(3, strides=2)(i),
        L.GlobalMaxPooling3D(keepdims=True)(i),
        L.GlobalAveragePooling3D()(i),
    ]
    return K.Model(i, outs), [[uni(rng, 2, 5, 6, 7, 2)]], "channels_last"


def b_pool_channels_first(rng):
    K, L = mmf.K, mmf.L
    a = K.Input(shape=(3, 7, 9))
    b = K.Input(shape=(2, 5, 6, 7))
    cf = dict(data_format="channels_first")
    outs = [
        L.MaxPooling2D((3, 2), strides=(2, 1), padding="same", **cf)(a),
        L.AveragePooling2D(3, strides=2, padding="same", **cf)(a),
        L.GlobalAveragePooling2D(keepdims=True, **cf)(a),
        L.GlobalMaxPooling2D(**cf)(a),
        L.MaxPooling3D(2, **cf)(b),
        L.AveragePooling3D((2, 3, 3), strides=(1, 2, 2), padding="same", **cf)(b),
        L.GlobalMaxPooling3D(keepdims=True, **cf)(b),
        L.GlobalAveragePooling3D(**cf)(b),
    ]
    return K.Model([a, b], outs), [[uni(rng, 2, 3, 7, 9), uni(rng, 2, 2, 5, 6, 7)]], ""


def b_pad_crop_up(rng):
    K, L = mmf.K, mmf.L
    a = K.Input(shape=(5, 7, 3))
    b = K.Input(shape=(3, 4, 5, 2))
    outs = [
        L.ZeroPadding2D(((1, 2), (0, 3)))(a),
        L.ZeroPadding2D(1)(a),
        L.Cropping2D(((1, 0), (2, 1)))(a),
        L.Cropping2D(2)(a),
        L.UpSampling2D((2, 3))(a),
        L.ZeroPadding3D(((1, 0), (0, 2), (1, 1)))(b),
        L.Cropping3D(((1, 1), (0, 2), (1, 0)))(b),
        L.UpSampling3D((1, 2, 3))(b),
        L.UpSampling3D(2)(b),
    ]
    return K.Model([a, b], outs), [[uni(rng, 2, 5, 7, 3), uni(rng, 2, 3, 4, 5, 2)]], "channels_last"


def b_pad_crop_up_cf(rng):
    K, L = mmf.K, mmf.L
    a = K.Input(shape=(3, 5, 7))
    b = K.Input(shape=(2, 3, 4, 5))
    cf = dict(data_format="channels_first")
    outs = [
        L.ZeroPadding2D(((1, 2), (0, 3)), **cf)(a),
        L.Cropping2D(((1, 0), (2, 1)), **cf)(a),
        L.UpSampling2D((2, 3), **cf)(a),
        L.ZeroPadding3D(((1, 0), (0, 2), (1, 1)), **cf)(b),
        L.Cropping3D(((1, 1), (0, 2), (1, 0)), **cf)(b),
        L.UpSampling3D((1, 2, 3), **cf)(b),
    ]
    return K.Model([a, b], outs), [[uni(rng, 2, 3, 5, 7), uni(rng, 2, 2, 3, 4, 5)]], ""


def b_td_video(rng):
    """The LRCN pattern without Conv2D: TimeDistributed pooling/dropout/flatten -> LSTM."""
    K, L = mmf.K, mmf.L
    i = K.Input(shape=(4, 9, 7, 3))
    x = L.TimeDistributed(L.MaxPooling2D((2, 2)))(i)
    x = L.TimeDistributed(L.BatchNormalization())(x)
    x = L.TimeDistributed(L.Dropout(0.5))(x)
    g = L.TimeDistributed(L.GlobalAveragePooling2D())(x)
    x = L.TimeDistributed(L.Flatten())(x)
    x = L.LSTM(5)(x)
    return K.Model(i, [L.Dense(3)(x), g]), [[uni(rng, 3, 4, 9, 7, 3)]], "rank-5 input"


def b_batch_not_enforced(rng):
    K, L = mmf.K, mmf.L
    i = K.Input(batch_shape=(8, 5, 3))
    m = K.Model(i, L.Dense(2)(L.LSTM(4)(i)))
    return m, [[uni(rng, 3, 5, 3)]], "Input batch_shape (8, 5, 3) called with 3 rows"


def nested_block(name):
    K, L = mmf.K, mmf.L
    frozen = L.Dense(7, activation="tanh", name=name + "_frozen")
    frozen.trainable = False
    return K.Sequential([
        K.Input(shape=(6, 4)),
        L.Dense(9, activation="relu", name=name + "_dense"),
        L.BatchNormalization(name=name + "_bn1"),
        frozen,
        L.BatchNormalization(name=name + "_bn2"),
    ], name=name)


def b_nested_bn_frozen(rng):
    K, L = mmf.K, mmf.L
    inner = nested_block("block")
    i = K.Input(shape=(6, 4))
    return K.Model(i, L.Dense(2)(L.LSTM(3)(inner(i)))), [[uni(rng, 2, 6, 4)]], ""


def b_nested_two_levels(rng):
    K, L = mmf.K, mmf.L
    seq = nested_block("deep")
    mid_in = K.Input(shape=(6, 4))
    bn = L.BatchNormalization(name="mid_bn")
    bn.trainable = False
    mid = K.Model(mid_in, L.Dense(5, name="mid_dense")(bn(seq(mid_in))), name="middle")
    i = K.Input(shape=(6, 4))
    return K.Model(i, L.Dense(2)(L.GRU(3)(mid(i)))), [[uni(rng, 2, 6, 4)]], ""


def b_td_nested(rng):
    """TimeDistributed over a nested Sequential (BatchNormalization, frozen Dense, Flatten) and
    over a nested Functional (pooling, Dropout)."""
    K, L = mmf.K, mmf.L
    frozen = L.Dense(4, activation="tanh", name="frame_frozen")
    frozen.trainable = False
    seq = K.Sequential([K.Input(shape=(5, 3)), L.Dense(6, name="frame_dense"),
                        L.BatchNormalization(name="frame_bn"), frozen, L.Flatten()], name="frame")
    fin = K.Input(shape=(5, 3))
    pooled = L.GlobalMaxPooling1D()(L.Dropout(0.3)(L.Dense(7, activation="relu", name="fun_dense")(fin)))
    fun = K.Model(fin, pooled, name="frame_fun")
    i = K.Input(shape=(4, 5, 3))
    a = L.TimeDistributed(seq)(i)
    b = L.TimeDistributed(fun)(i)
    out = L.LSTM(3)(L.Concatenate()([a, b]))
    return K.Model(i, out), [[uni(rng, 2, 4, 5, 3)]], "rank-4 input"


# ---------------------------------------------------------------------------------------------
# Input-shape rules: models whose file declares fixed sizes, called with other shapes.

def rules_functional(rng):
    K, L = mmf.K, mmf.L
    i = K.Input(batch_shape=(8, 5, 3))
    m = K.Model(i, L.Dense(2)(L.LSTM(4)(i)))
    return m, [uni(rng, 3, 5, 3), uni(rng, 3, 7, 3), uni(rng, 3, 5, 4), uni(rng, 3, 5, 3, 1),
               uni(rng, 3, 15)]


def rules_sequential(rng):
    K, L = mmf.K, mmf.L
    inp = L.InputLayer(batch_shape=(8, 5, 3)) if mmf.KV == 3 else L.InputLayer(batch_input_shape=(8, 5, 3))
    m = K.Sequential([inp, L.LSTM(4), L.Dense(2)])
    return m, [uni(rng, 3, 5, 3), uni(rng, 3, 7, 3), uni(rng, 3, 5, 4)]


def rules_stateful(rng):
    K, L = mmf.K, mmf.L
    inp = L.InputLayer(batch_shape=(2, 5, 3)) if mmf.KV == 3 else L.InputLayer(batch_input_shape=(2, 5, 3))
    m = K.Sequential([inp, L.LSTM(4, stateful=True), L.Dense(2)])
    return m, [uni(rng, 2, 5, 3), uni(rng, 3, 5, 3), uni(rng, 2, 7, 3)]


def rules_last_axis(rng):
    K, L = mmf.K, mmf.L
    i = K.Input(shape=(6, 1))
    m = K.Model(i, L.Dense(2)(L.GRU(3)(i)))
    return m, [uni(rng, 2, 6), uni(rng, 2, 6, 1, 1), uni(rng, 2, 6, 2)]


RULES = [("rules-functional", rules_functional, "Functional, Input batch_shape (8, 5, 3)"),
         ("rules-sequential", rules_sequential, "Sequential, InputLayer batch_shape (8, 5, 3)"),
         ("rules-stateful", rules_stateful, "Sequential, stateful LSTM, batch_shape (2, 5, 3)"),
         ("rules-last-axis", rules_last_axis, "Functional, Input shape (6, 1)")]


def keras_verdicts(path, xs):
    """What Keras does with each input on the loaded file, in a fresh process: Keras 3.15.1 for
    Keras 3 files; tf_keras 2.21 for Keras 2 files (Keras 3 cannot load their RNN configs)."""
    code = ("import sys, json, numpy as np, os\n"
            "os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')\n"
            + ("import tf_keras as keras\n" if mmf.KV == 2 else "import keras\n") +
            "m = keras.models.load_model(sys.argv[1], compile=False)\n"
            "out = []\n"
            "for f in sys.argv[2:]:\n"
            "    for l in m.layers:\n"
            "        if getattr(l, 'stateful', False): l.reset_states()\n"
            "    try:\n"
            "        y = np.asarray(m(np.load(f), training=False), np.float32)\n"
            "        np.save(os.path.join(os.path.dirname(f), 'y' + os.path.basename(f)[1:]), y); out.append({'ok': True})\n"
            "    except Exception as e:\n"
            "        out.append({'ok': False, 'error': (type(e).__name__ + ': ' + str(e))[:300]})\n"
            "print(json.dumps(out))\n")
    env = dict(os.environ)
    env.pop("TF_USE_LEGACY_KERAS", None)
    if mmf.KV == 2:
        env["TF_USE_LEGACY_KERAS"] = "1"
    r = subprocess.run([sys.executable, "-c", code, str(path), *[str(x) for x in xs]], env=env,
                       check=True, capture_output=True, text=True)
    return json.loads(r.stdout.strip().splitlines()[-1])


def gen_rules(out_dir, prefix, formats, log):
    for name, builder, note in RULES:
        for fmt in formats:
            full = f"{prefix}-{name}" + ("-h5" if fmt == "h5" and prefix == "k3" else "")
            seed = mmf.seed_of(f"{prefix}-{name}")
            mmf.K.backend.clear_session()
            mmf.K.utils.set_random_seed(seed)
            rng = np.random.default_rng(seed)
            model, xs = builder(rng)
            mmf.randomize_weights(model, rng)
            folder = out_dir / full
            if folder.exists():
                shutil.rmtree(folder)
            folder.mkdir(parents=True)
            path = mmf.save_model(model, folder, fmt)
            files = []
            for k, x in enumerate(xs):
                np.save(folder / f"x{k}.npy", x)
                files.append(folder / f"x{k}.npy")
            verdicts = keras_verdicts(path, files)
            calls = []
            for k, v in enumerate(verdicts):
                c = {"inputs": [f"x{k}.npy"]}
                if v["ok"]:
                    c["outputs"] = [f"y{k}.npy"]
                else:
                    c["keras_error"] = v["error"]
                calls.append(c)
            model_class, layers, ver = mmf.describe(path)
            first = next(c for c in calls if "outputs" in c)
            mmf.write_case_json(folder, {
                "name": full, "model": path.name,
                "source": {"generator": mmf.GENERATOR, "seed": seed},
                "format": "keras_v3_zip" if fmt == "keras" else "legacy_h5",
                "keras_version": ver, "model_class": model_class, "layers": layers,
                "expect": "match", "inputs": first["inputs"], "outputs": first["outputs"],
                "tolerance": dict(mmf.TOL), "shape_calls": calls,
                "note": note + "; shape_calls: what the Keras that wrote this file does with each input on it"})
            log(f"{full}: " + ", ".join("ok" if v["ok"] else "refused" for v in verdicts))


C = mmf.Case
BOTH = ("keras", "h5")
K3_CASES = [
    C("pool2d", b_pool2d, "MaxPooling2D/AveragePooling2D valid and same, strides, "
      "GlobalMax/GlobalAveragePooling2D (keepdims)", BOTH),
    C("pool3d", b_pool3d, "MaxPooling3D/AveragePooling3D valid and same, strides, "
      "GlobalMax/GlobalAveragePooling3D (keepdims)", BOTH),
    C("pool-channels-first", b_pool_channels_first, "2D/3D pooling with channels_first",
      ("keras",)),
    C("pad-crop-upsample", b_pad_crop_up, "ZeroPadding/Cropping/UpSampling 2D and 3D", BOTH),
    C("pad-crop-upsample-cf", b_pad_crop_up_cf, "ZeroPadding/Cropping/UpSampling 2D and 3D, "
      "channels_first", ("keras",)),
    C("td-video", b_td_video, "TimeDistributed MaxPooling2D, BatchNormalization, Dropout, "
      "GlobalAveragePooling2D, Flatten on a rank-5 input -> LSTM", BOTH),
    C("batch-not-enforced", b_batch_not_enforced, "a fixed batch size in the file is not "
      "enforced", ("keras",)),
    C("td-nested", b_td_nested, "TimeDistributed over a nested Sequential (BatchNormalization, "
      "frozen Dense, Flatten) and a nested Functional", BOTH),
    C("nested-bn-frozen", b_nested_bn_frozen, "nested Sequential with BatchNormalization and a "
      "frozen Dense (weights in trainable-then-non-trainable order in .h5)", BOTH),
    C("nested-two-levels", b_nested_two_levels, "Functional in Functional in Functional, "
      "BatchNormalization and frozen layers at two levels", BOTH),
]
# tf_keras runs pooling only channels_last on CPU. (.h5 copies of a few Keras 3 cases are left
# out to keep the folder near 1 MB: the same layers are read from .h5 in the other cases.)
K2_CASES = [
    C("pool2d", b_pool2d, "Keras 2 2D pooling", ("h5",)),
    C("pool3d", b_pool3d, "Keras 2 3D pooling", ("h5",)),
    C("pad-crop-upsample", b_pad_crop_up, "Keras 2 ZeroPadding/Cropping/UpSampling 2D/3D", ("h5",)),
    C("td-video", b_td_video, "Keras 2 TimeDistributed over pooling/BN/Dropout/Flatten", ("h5",)),
    C("batch-not-enforced", b_batch_not_enforced, "Keras 2: fixed batch size not enforced", ("h5",)),
    C("td-nested", b_td_nested, "Keras 2 TimeDistributed over nested models", ("h5",)),
    C("nested-bn-frozen", b_nested_bn_frozen, "Keras 2 nested Sequential, BN + frozen Dense",
      ("h5",)),
    C("nested-two-levels", b_nested_two_levels, "Keras 2 two levels of nesting", ("h5",)),
]


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
        for part in ("k3", "k2"):
            env = dict(os.environ)
            env.pop("TF_USE_LEGACY_KERAS", None)
            if part == "k2":
                env["TF_USE_LEGACY_KERAS"] = "1"
            cmd = [sys.executable, str(Path(__file__).resolve()), "--part", part, "--out", str(out_dir)]
            if only:
                cmd += ["--only", *sorted(only)]
            subprocess.run(cmd, env=env, check=True)
        n = len(list(out_dir.glob("*/case.json")))
        size = sum(f.stat().st_size for f in out_dir.rglob("*") if f.is_file())
        print(f"{n} cases in {out_dir} ({size / 1024:.0f} KiB)")
        return
    mmf.init_framework(args.part)

    def log(msg):
        print(f"[{args.part}] {msg}", flush=True)

    out_dir.mkdir(parents=True, exist_ok=True)
    cases = K3_CASES if args.part == "k3" else K2_CASES
    mmf.gen_match_cases(out_dir, cases, args.part, only, log)
    if not only or any("rules" in n for n in only):
        gen_rules(out_dir, args.part, BOTH if args.part == "k3" else ("h5",), log)


if __name__ == "__main__":
    main()
