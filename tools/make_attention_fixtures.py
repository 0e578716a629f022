#!/usr/bin/env python3
"""Write tests/fixtures/attention/<case>/: Keras' attention layers beside RNNs, saved by real Keras.

Same layout, families and checks as tools/make_model_fixtures.py (whose helpers this reuses):
  k3-<name>     Keras 3.15.1 .keras          k3-<name>-h5  the same model as legacy .h5
  k2-<name>     tf_keras 2.21.0 legacy .h5
Every written file is loaded back by the Keras that wrote it and must reproduce the outputs.

Run from the repository root:
    /work/venv/bin/python tools/make_attention_fixtures.py
"""

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_model_fixtures as mf  # noqa: E402

import numpy as np  # noqa: E402

OUT = mf.ROOT / "tests" / "fixtures" / "attention"
GENERATOR = "tools/make_attention_fixtures.py"


def L():
    return mf.L


def K():
    return mf.K


def b_lstm_luong(rng):
    """LSTM encoder states as values, a Dense query: Luong dot attention with scale."""
    k, l = K(), L()
    inp = k.Input(shape=(7, 4))
    enc = l.LSTM(6, return_sequences=True)(inp)
    q = l.Dense(6)(enc)
    ctx = l.Attention(use_scale=True)([q, enc])
    out = l.Dense(3)(l.GlobalAveragePooling1D()(ctx))
    return k.Model(inp, out), [[mf.uni(rng, 3, 7, 4)]]


def b_luong_concat_causal(rng):
    """score_mode concat with scale, causal mask, key input, scores as a second output."""
    k, l = K(), L()
    q_in = k.Input(shape=(5, 3))
    v_in = k.Input(shape=(5, 3))
    q = l.GRU(4, return_sequences=True)(q_in)
    v = l.Dense(4)(v_in)
    key = l.Dense(4)(v_in)
    # tf_keras 2.21 still takes causal=True but does not save it: the call argument is kept.
    att = l.Attention(use_scale=True, score_mode="concat", dropout=0.3)
    o, s = att([q, v, key], use_causal_mask=True, return_attention_scores=True)
    return k.Model([q_in, v_in], [o, s]), [[mf.uni(rng, 2, 5, 3), mf.uni(rng, 2, 5, 3)]]


def b_luong_masked(rng):
    """Embedding(mask_zero) masks on query and value; a fully masked query row."""
    k, l = K(), L()
    valid = np.array([[1, 1, 1, 1, 1, 0, 0], [1, 1, 0, 1, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0]],
                     dtype=bool)
    valid_v = np.array([[1, 1, 1, 0, 0, 0, 0], [1, 0, 1, 1, 1, 1, 1], [0, 0, 0, 0, 0, 0, 0]],
                       dtype=bool)
    qi = k.Input(shape=(7,), dtype="int32")
    vi = k.Input(shape=(7,), dtype="int32")
    q = l.LSTM(5, return_sequences=True)(l.Embedding(11, 4, mask_zero=True)(qi))
    v = l.Embedding(11, 5, mask_zero=True)(vi)
    o, s = l.Attention()([q, v], return_attention_scores=True)
    return (k.Model([qi, vi], [o, s]),
            [[mf.token_ids(rng, valid, 11), mf.token_ids(rng, valid_v, 11)]],
            "query and value masks from Embedding(mask_zero=True); sample 2 fully masked")


def b_bigru_additive(rng):
    k, l = K(), L()
    inp = k.Input(shape=(33, 3))
    enc = l.Bidirectional(l.GRU(5, return_sequences=True))(inp)
    q = l.Dense(10, activation="tanh")(enc)
    ctx, s = l.AdditiveAttention(use_scale=True)([q, enc], return_attention_scores=True)
    out = l.Dense(2)(l.GlobalMaxPooling1D()(ctx))
    return k.Model(inp, [out, s]), [[mf.uni(rng, 2, 33, 3)]]


def b_additive_masked(rng):
    k, l = K(), L()
    valid = mf.valid_right(6, [6, 3, 1])
    inp = k.Input(shape=(6, 3))
    x = l.Masking()(inp)
    enc = l.LSTM(4, return_sequences=True)(x)
    ctx = l.AdditiveAttention(use_scale=False)([enc, enc], use_causal_mask=True)
    out = l.LSTM(3)(ctx)
    return (k.Model(inp, [out, ctx]), [[mf.masked_seq(rng, valid, 3)]],
            "Masking -> LSTM -> AdditiveAttention causal self-attention; the query mask flows on")


def b_mha_causal(rng):
    k, l = K(), L()
    valid = mf.valid_right(9, [9, 5, 1])
    valid[0, 4] = False
    inp = k.Input(shape=(9,), dtype="int32")
    x = l.Embedding(13, 6, mask_zero=True)(inp)
    x = l.LSTM(8, return_sequences=True)(x)
    y = l.MultiHeadAttention(num_heads=2, key_dim=3, dropout=0.2)(x, x, use_causal_mask=True)
    out = l.Dense(2)(l.GlobalAveragePooling1D()(y))
    return (k.Model(inp, [out, y]), [[mf.token_ids(rng, valid, 13)]],
            "Embedding(mask_zero) -> LSTM -> MultiHeadAttention self-attention, causal")


def b_mha_scores(rng):
    """Cross-attention with key, value_dim, output_shape, no bias, attention_mask input, scores."""
    k, l = K(), L()
    q_in = k.Input(shape=(4, 5))
    v_in = k.Input(shape=(7, 3))
    m_in = k.Input(shape=(4, 7))
    q = l.LSTM(5, return_sequences=True)(q_in)
    key = l.Dense(6)(v_in)
    mha = l.MultiHeadAttention(num_heads=3, key_dim=2, value_dim=4, use_bias=False,
                               output_shape=7)
    o, s = mha(q, v_in, key=key, attention_mask=m_in, return_attention_scores=True)
    mask = (rng.uniform(size=(2, 4, 7)) > 0.4).astype(np.float32)
    mask[1, 2, :] = 0.0  # a fully masked row
    return (k.Model([q_in, v_in, m_in], [o, s]),
            [[mf.uni(rng, 2, 4, 5), mf.uni(rng, 2, 7, 3), mask]],
            "attention_mask input with a fully masked row (scores 0 there with return_attention_scores)")


def b_mha_masked_rows(rng):
    """Query mask with a fully masked row on the fast path (no scores): uniform attention."""
    k, l = K(), L()
    valid = mf.valid_left(7, [7, 2, 4])
    inp = k.Input(shape=(7, 1))
    x = l.Masking()(inp)
    x = l.GRU(4, return_sequences=True)(x)
    y = l.MultiHeadAttention(num_heads=1, key_dim=1)(x, x)
    z = l.MultiHeadAttention(num_heads=2, key_dim=4)(query=y, value=x, key=x)
    return (k.Model(inp, [y, z]), [[mf.masked_seq(rng, valid, 1)]],
            "Masking -> GRU -> MHA(1 head, key_dim 1) -> MHA with key and keyword inputs")


def b_masking_attention(rng):
    """A Masking mask straight into Attention (Keras 3 records it as the node's mask list)."""
    k, l = K(), L()
    valid = mf.valid_right(5, [5, 2, 0])
    valid[0, 2] = False
    inp = k.Input(shape=(5, 2))
    m = l.Masking()(inp)
    o, s = l.Attention(use_scale=True)([m, m], return_attention_scores=True)
    h = l.GRU(3)(l.Dense(4)(o))
    return (k.Model(inp, [o, s, h]), [[mf.masked_seq(rng, valid, 2)]],
            "Masking -> Attention self-attention (a hole, a fully masked sample) -> Dense -> GRU")


def b_mha_mask_args(rng):
    """Keras 3 only: explicit value_mask (used) and query_mask (Keras reads the query's own mask)."""
    k, l = K(), L()
    q_in = k.Input(shape=(6, 4))
    v_in = k.Input(shape=(5, 4))
    vm_in = k.Input(shape=(5,))
    qm_in = k.Input(shape=(6,))
    q = l.Masking()(q_in)
    y = l.MultiHeadAttention(num_heads=2, key_dim=3)(q, v_in, value_mask=vm_in, query_mask=qm_in)
    vm = (rng.uniform(size=(2, 5)) > 0.3).astype(np.float32)
    vm[:, 0] = 1.0
    valid = mf.valid_right(6, [6, 4])
    return (k.Model([q_in, v_in, vm_in, qm_in], y),
            [[mf.masked_seq(rng, valid, 4), mf.uni(rng, 2, 5, 4), vm, np.ones((2, 6), np.float32)]],
            "value_mask and query_mask passed as tensors; the query's Masking mask still applies")


def b_mha_shared_input(rng):
    """A masked sequence read by pooling layers before and after a MultiHeadAttention on it
    (Keras 3's MHA removes the masks of the tensors it is called on)."""
    k, l = K(), L()
    valid = mf.valid_right(6, [6, 3])
    inp = k.Input(shape=(6, 3))
    x = l.LSTM(4, return_sequences=True)(l.Masking()(inp))
    before = l.GlobalAveragePooling1D()(x)
    y = l.MultiHeadAttention(num_heads=2, key_dim=2)(x, x)
    after = l.GlobalAveragePooling1D()(x)
    d = l.Dense(2)(x)
    return (k.Model(inp, [before, y, after, d, l.GlobalMaxPooling1D()(d)]),
            [[mf.masked_seq(rng, valid, 3)]],
            "the LSTM output's mask as seen by layers built before and after the MHA call")


ALL = [
    ("lstm-luong", b_lstm_luong, "LSTM encoder -> Dense query -> Attention(use_scale) -> Dense"),
    ("luong-concat-causal", b_luong_concat_causal,
     "Attention score_mode=concat, use_scale, dropout, causal, [query, value, key], scores output"),
    ("luong-masked", b_luong_masked, "Attention with query/value masks and scores"),
    ("bigru-additive", b_bigru_additive,
     "Bidirectional GRU -> AdditiveAttention(use_scale), T=33, scores output"),
    ("additive-masked", b_additive_masked, "AdditiveAttention causal with a Masking mask"),
    ("mha-causal", b_mha_causal, "MultiHeadAttention causal self-attention after a masked LSTM"),
    ("mha-scores", b_mha_scores, "MultiHeadAttention cross-attention, key, attention_mask, scores"),
    ("mha-shared-input", b_mha_shared_input, "masked tensor shared by MHA and pooling layers"),
    ("masking-attention", b_masking_attention, "Masking mask into Attention, then Dense -> GRU"),
    ("mha-masked-rows", b_mha_masked_rows, "MultiHeadAttention with masked query rows"),
]


# Keras 3.15.1 cannot load back the legacy .h5 of some of these models: Attention's
# score_mode "dot" is read back as the function keras.ops.dot (TypeError), and masks reaching
# a layer with a `mask` argument are recorded as keras.src.ops nodes ("Unknown layer").
H5_NOTE = ("Keras 3.15.1 itself cannot load this .h5 (Attention's score_mode 'dot' is read back "
           "as a function, or mask op nodes are unknown layers); the file was checked by "
           "comparing its model_config with the .keras sibling's config and loading its weights "
           "into that model")
KERAS_NOTE = "its legacy .h5 twin cannot be loaded back by Keras 3.15.1 itself"
K3_CANNOT_LOAD_H5 = {"lstm-luong", "masking-attention", "luong-masked", "additive-masked",
                     "mha-causal", "mha-masked-rows", "mha-shared-input"}


def verify_unloadable_h5(path, folder, out_dir, name):
    try:
        mf.load_model(path)
    except (ValueError, TypeError):
        pass
    else:
        print(f"FIXME {name}: Keras now loads this .h5; drop it from K3_CANNOT_LOAD_H5")
    sibling = out_dir / name[: -len("-h5")] / "model.keras"
    cfg_h5, _ = mf.read_model_config(path)
    cfg_zip, _ = mf.read_model_config(sibling)
    if mf.strip_keys(cfg_h5["config"]) != mf.strip_keys(cfg_zip["config"]):
        raise SystemExit(f"{name}: .h5 model_config differs from the .keras config")
    model = mf.load_model(sibling)
    model.load_weights(str(path))
    return model


def gen_k2_causal_config(only, log):
    """tf.keras before 2.10 saved Attention(causal=True) in the config; tf_keras 2.21 still reads
    it but no longer writes it, so the saved config is edited and Keras computes from that file."""
    import h5py
    import json
    name = "k2-attention-causal-config"
    if only and name not in only:
        return
    k, l = K(), L()
    k.backend.clear_session()
    k.utils.set_random_seed(mf.seed_of(name))
    rng = np.random.default_rng(mf.seed_of(name))
    inp = k.Input(shape=(7, 3))
    enc = l.LSTM(4, return_sequences=True)(inp)
    ctx = l.Attention(use_scale=True)([enc, enc])
    model = k.Model(inp, l.Dense(2)(ctx))
    mf.randomize_weights(model, rng)
    x = mf.uni(rng, 2, 7, 3)
    folder = OUT / name
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    path = folder / "model.h5"
    model.save(str(path))
    with h5py.File(path, "r+") as f:
        cfg = json.loads(f.attrs["model_config"])
        for lc in cfg["config"]["layers"]:
            if lc["class_name"] == "Attention":
                lc["config"]["causal"] = True
        f.attrs["model_config"] = json.dumps(cfg)
    loaded = mf.load_model(path)
    y = mf.run_calls(loaded, [[x]])[0]
    if np.allclose(y[0], mf.run_calls(model, [[x]])[0][0], atol=1e-4):
        raise SystemExit(f"{name}: causal=True in the config changed nothing")
    np.save(folder / "x0.npy", x)
    np.save(folder / "y0.npy", y[0])
    _, layers, ver = mf.describe(path)
    mf.write_case_json(folder, {
        "name": name, "model": path.name,
        "source": {"generator": GENERATOR, "seed": mf.seed_of(name)},
        "format": "legacy_h5", "keras_version": ver, "model_class": "Functional",
        "layers": layers, "expect": "match", "inputs": ["x0.npy"], "outputs": ["y0.npy"],
        "tolerance": dict(mf.TOL),
        "note": "LSTM -> Attention(use_scale) self-attention with 'causal': true written into the "
                "saved config (the pre-2.10 Keras 2 form); outputs computed by tf_keras 2.21 from "
                "the edited file"})
    log(f"{name}: legacy_h5, causal in the config")


def gen_k3_unknown_call_arg(only, log):
    """A call argument recur does not know must be refused, never ignored: the MHA node of a
    .keras file is given one more keyword argument (hand-edited, as a newer Keras might write)."""
    import json
    import zipfile
    name = "k3-unknown-call-arg"
    if only and name not in only:
        return
    src = OUT / "k3-mha-causal" / "model.keras"
    folder = OUT / name
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    path = folder / "model.keras"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(path, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename == "config.json":
                cfg = json.loads(data)
                for lc in cfg["config"]["layers"]:
                    if lc["class_name"] == "MultiHeadAttention":
                        lc["inbound_nodes"][0]["kwargs"]["attention_window"] = 4
                data = json.dumps(cfg).encode()
            zout.writestr(info, data)
    _, layers, ver = mf.describe(path)
    mf.write_case_json(folder, {
        "name": name, "model": path.name,
        "source": {"generator": GENERATOR, "seed": 0},
        "format": "keras_v3_zip", "keras_version": ver, "model_class": "Functional",
        "layers": layers, "expect": "unsupported",
        "note": "k3-mha-causal with a call argument attention_window=4 added to the "
                "MultiHeadAttention node (hand-edited; Keras 3.15.1 has no such argument): recur "
                "must refuse it naming the layer and the argument"})
    log(f"{name}: unsupported")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--part", choices=["k3", "k2"])
    ap.add_argument("--only", nargs="*")
    args = ap.parse_args()
    only = set(args.only or [])
    if args.part is None:
        OUT.mkdir(parents=True, exist_ok=True)
        if not only:
            for d in OUT.iterdir():
                if d.is_dir() and (d / "case.json").exists():
                    shutil.rmtree(d)
        for part in ("k3", "k2"):
            env = dict(os.environ)
            env.pop("TF_USE_LEGACY_KERAS", None)
            if part == "k2":
                env["TF_USE_LEGACY_KERAS"] = "1"
            cmd = [sys.executable, str(Path(__file__).resolve()), "--part", part]
            if only:
                cmd += ["--only", *sorted(only)]
            subprocess.run(cmd, env=env, check=True)
        mf.GENERATOR = GENERATOR
        mf.write_readme(OUT)
        size = sum(f.stat().st_size for f in OUT.rglob("*") if f.is_file())
        print(f"{len(list(OUT.glob('*/case.json')))} cases in {OUT} ({size / 1024:.0f} KiB)")
        return
    mf.init_framework(args.part)
    mf.GENERATOR = GENERATOR
    mf.H5_OPS_NOTE, mf.KERAS_OPS_NOTE = H5_NOTE, KERAS_NOTE
    mf.verify_unloadable_h5 = verify_unloadable_h5

    def log(msg):
        print(f"[{args.part}] {msg}", flush=True)

    formats = mf.BOTH if args.part == "k3" else ("h5",)
    todo = ALL + ([("mha-mask-args", b_mha_mask_args, "MultiHeadAttention value_mask/query_mask "
                    "call arguments")] if args.part == "k3" else [])
    cases = [mf.Case(n, b, note, formats,
                     keras_cannot_load_h5=args.part == "k3" and n in K3_CANNOT_LOAD_H5)
             for n, b, note in todo]
    mf.gen_match_cases(OUT, cases, args.part, only, log)
    if args.part == "k2":
        gen_k2_causal_config(only, log)
    else:
        gen_k3_unknown_call_arg(only, log)


if __name__ == "__main__":
    main()
