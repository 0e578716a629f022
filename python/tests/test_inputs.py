"""One input rule for Python and the CLI: NaN/Inf refused unless allowed (recur run exits 4 the
same way), batch sizes checked across inputs, dict keys by input name."""
import os

import numpy as np
import pytest

import recur
from conftest import DEMO, REPO

MULTI = REPO / "tests" / "fixtures" / "models" / "k3-multi-io-shared"


def demo_input():
    return np.load(DEMO / "input.npy")


def test_nan_is_refused_by_default_naming_the_element():
    x = demo_input()
    x[2, 5, 0] = np.nan
    with pytest.raises(recur.InvalidInputError, match=r"element 53 is NaN.*allow_nonfinite"):
        recur.load_model(DEMO / "model.keras").predict(x)
    with pytest.raises(recur.InvalidInputError, match="infinite"):
        recur.load_model(DEMO / "model.keras").stream().step(np.full((1, 1), np.inf, np.float32))


def test_allow_nonfinite_passes_nan_through_as_keras_does():
    x = demo_input()
    x[2, 5, 0] = np.nan
    y = recur.load_model(DEMO / "model.keras", allow_nonfinite=True).predict(x)
    assert np.isnan(y[2]).all()
    want = np.load(DEMO / "expected.npy")
    np.testing.assert_allclose(np.delete(y, 2, axis=0), np.delete(want, 2, axis=0), atol=1e-5, rtol=1e-5)


def test_batch_mismatch_names_both_inputs():
    m = recur.load_model(MULTI / "model.keras")
    xs = [np.load(MULTI / f"x{i}.npy") for i in range(3)]
    xs[1] = xs[1][:1]
    with pytest.raises(recur.InvalidInputError, match="'seq_b' has batch size 1, input 'seq_a'"):
        m.predict(xs)


def test_dict_by_name_in_any_order_and_unknown_names_listed():
    m = recur.load_model(MULTI / "model.keras")
    xs = {n: np.load(MULTI / f"x{i}.npy") for i, n in enumerate(["seq_a", "seq_b", "static"])}
    got = m.predict(dict(reversed(list(xs.items()))))
    for i, g in enumerate(got):
        np.testing.assert_allclose(g, np.load(MULTI / f"y{i}.npy"), atol=1e-5, rtol=1e-5)
    xs["seq_c"] = xs.pop("seq_b")
    with pytest.raises(recur.InvalidInputError, match=r"missing \['seq_b'\]; unknown \['seq_c'\]"):
        m.predict(xs)


def test_isa_names_the_kernels_and_follows_recur_isa(cli):
    import subprocess
    import sys
    assert recur.isa() in ("scalar", "avx2", "avx512", "amx")
    out = subprocess.run([sys.executable, "-c", "import recur; print(recur.isa())"], capture_output=True,
                         text=True, env={**__import__("os").environ, "RECUR_ISA": "scalar"})
    assert out.stdout.strip() == "scalar", out.stderr
    assert f"Kernels: {recur.isa()}" in subprocess.run([cli, "inspect", DEMO / "model.keras"], capture_output=True,
                                                        text=True).stdout


def test_integer_indices_past_2_to_24_reach_an_embedding_exactly_as_in_keras(tmp_path):
    """An int32 Input into an Embedding: indices 2^24 + 1 and 2^24 + 3 have no float32, so a
    conversion to float32 would select rows 2^24 and 2^24 + 4. Keras itself is the oracle."""
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    keras = pytest.importorskip("keras")
    rows = (1 << 24) + 8
    inp = keras.Input((2,), dtype="int32")
    emb = keras.layers.Embedding(rows, 1)
    model = keras.Model(inp, emb(inp))
    emb.set_weights([(np.arange(rows) % 7).astype(np.float32).reshape(rows, 1)])
    path = tmp_path / "emb.keras"
    model.save(path)
    x = np.array([[(1 << 24) + 1, (1 << 24) + 3], [5, (1 << 24) + 7]], dtype=np.int64)
    want = model.predict(x, verbose=0)
    got = recur.load_model(str(path)).predict(x)
    np.testing.assert_array_equal(got, want)
    assert got[0, 0, 0] == ((1 << 24) + 1) % 7  # the row itself, not its float32 neighbour


def test_integer_outputs_come_back_as_int64_with_keras_values():
    """Lookup indices and inverted tokens are integers: predict returns them as int64 (a token
    past 2^24 would lose its value as float32); Keras' own outputs are the fixture's y*.npy."""
    case = REPO / "tests" / "fixtures" / "models" / "k3-category-layers"
    xs = [np.load(case / f"x{i}.npy") for i in range(5)]
    got = recur.load_model(str(case / "model.keras")).predict(xs)
    assert got[0].dtype == np.float32  # the Dense head
    for i in range(1, 6):  # Discretization and IntegerLookup (indices, tokens, encodings)
        assert got[i].dtype == np.int64, i
        np.testing.assert_array_equal(got[i], np.load(case / f"y{i}.npy"))
