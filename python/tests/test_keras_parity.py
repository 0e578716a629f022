"""recur's Python output against Keras' own model.predict, in this process, for every model of
the real-model corpus (../shared/models/real) and of our Keras-made fixtures
(tests/fixtures/models): Keras 3 (TensorFlow backend) for Keras 3 files, tf-keras for Keras 2
files, within each case's tolerance. Cases that expect a refusal must raise the matching error."""
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import recur  # noqa: E402
from conftest import FIXTURES, SHARED  # noqa: E402


def _cases():
    out = []
    for root, prefix in ((SHARED / "models" / "real", "real/"), (FIXTURES / "models", "own/")):
        if root.is_dir():
            out += [pytest.param(d, id=prefix + d.name) for d in sorted(root.iterdir()) if (d / "case.json").exists()]
    return out


CASES = _cases()


def test_corpus_is_present():
    assert len([c for c in CASES if c.id.startswith("real/")]) >= 51, f"shared corpus missing under {SHARED}"
    assert len([c for c in CASES if c.id.startswith("own/")]) >= 90


def _keras_apis(version):
    """The Keras to load a file with, first choice first (the writer's major version)."""
    import keras
    import tf_keras

    if version.startswith(("1.", "2.")):
        return [("tf_keras", tf_keras), ("keras", keras)]
    return [("keras", keras), ("tf_keras", tf_keras)]


def _load_in_keras(path, version):
    errors = []
    for name, api in _keras_apis(version):
        try:
            api.backend.clear_session()
            return name, api.models.load_model(str(path), compile=False), ""
        except Exception as e:  # noqa: BLE001 - any failure means "this Keras cannot load it"
            errors.append(f"{name}: {type(e).__name__}: {str(e)[:160]}")
    return None, None, "; ".join(errors)


def _keras_outputs(model, xs):
    """model.predict; a direct eager call where predict cannot trace the model (TensorFlow
    refuses some layer names, e.g. with '>', as graph node names)."""
    x = xs if len(xs) > 1 else xs[0]
    try:
        out = model.predict(x, verbose=0)
    except Exception:  # noqa: BLE001
        out = model(x, training=False)
    out = out if isinstance(out, (list, tuple)) else [out]
    return [np.asarray(o) for o in out]


def _calls(case):
    if "stateful_calls" in case:
        return [(c["inputs"], c["outputs"]) for c in case["stateful_calls"]]
    return [(case["inputs"], case["outputs"])]


@pytest.mark.parametrize("case_dir", CASES)
def test_matches_keras(case_dir):
    case = json.loads((case_dir / "case.json").read_text())
    path = case_dir / case["model"]
    # "target": "match" (with inputs and outputs): a case recur once refused and now must run.
    if case["expect"] in ("unsupported", "invalid") and case.get("target") != "match":
        error = recur.UnsupportedModelError if case["expect"] == "unsupported" else recur.InvalidModelError
        with pytest.raises(error) as info:
            recur.load_model(path)
        assert str(path) in str(info.value)
        return

    tol = case.get("tolerance", {})
    atol, rtol = tol.get("atol", 1e-5), tol.get("rtol", 1e-5)
    model = recur.load_model(path, allow_nonfinite=True)  # NaN inputs pass, as in Keras
    which, keras_model, why = _load_in_keras(path, case.get("keras_version", "3"))
    for k, (inputs, outputs) in enumerate(_calls(case)):
        xs = [np.load(case_dir / f) for f in inputs]
        got = model.predict(xs)
        got = got if isinstance(got, list) else [got]
        if keras_model is None:
            # Keras of today cannot read this file back: the case's expected outputs decide (for our
            # fixtures, Keras' own outputs from when it wrote the file; for the real corpus, a
            # float64 reference).
            want = [np.load(case_dir / f) for f in outputs]
        else:
            want = _keras_outputs(keras_model, xs)
        assert len(got) == len(want), f"call {k}: {len(got)} outputs, Keras gives {len(want)}"
        for i, (g, w) in enumerate(zip(got, want)):
            # Integer outputs (lookup indices, bucket ids) come back as int64, the rest float32;
            # the fixtures' stored outputs are float32 either way.
            if np.asarray(w).dtype.kind in "iu":
                assert g.dtype == np.int64, f"output {i}: {g.dtype}, Keras gives {w.dtype}"
            else:
                assert g.dtype == np.float32 or keras_model is None, f"output {i}: {g.dtype}"
            np.testing.assert_allclose(g, w, atol=atol, rtol=rtol, err_msg=f"call {k} output {i} ({which})")
    if keras_model is None:
        pytest.skip(f"{case_dir.name}: Keras cannot load this file; matched the case's expected outputs instead: {why}")
