"""Runs the real-model corpus with an installed recur package (no repository imports): every
case whose case.json expects "match" must equal Keras' saved outputs within its tolerance.
Used by tools/wheel_test.sh on the wheel from `make wheel`.

    python wheel_corpus.py ../shared/models/real
"""
import json
import pathlib
import sys

import numpy as np
import recur


def run_case(d):
    case = json.loads((d / "case.json").read_text())
    if case.get("expect") != "match":
        return None
    model = recur.load_model(str(d / case["model"]), allow_nonfinite=True)
    xs = [np.load(d / f) for f in case["inputs"]]
    ys = model.predict(xs if len(xs) > 1 else xs[0])
    ys = ys if isinstance(ys, list) else [ys]
    tol = case.get("tolerance", {})
    atol, rtol = tol.get("atol", 1e-5), tol.get("rtol", 1e-5)
    for f, y in zip(case["outputs"], ys):
        want = np.load(d / f)
        if want.shape != y.shape or not np.allclose(y, want, atol=atol, rtol=rtol, equal_nan=True):
            diff = float(np.max(np.abs(y - want))) if want.shape == y.shape else float("nan")
            return f"{f}: shape {y.shape} vs {want.shape}, max |diff| {diff:.3g}"
    return ""


def main():
    root = pathlib.Path(sys.argv[1])
    print(f"recur {recur.__file__}")
    passed, failed = 0, []
    for d in sorted(p for p in root.iterdir() if (p / "case.json").exists()):
        try:
            err = run_case(d)
        except Exception as e:  # noqa: BLE001 - report every case, then fail
            err = f"{type(e).__name__}: {e}"
        if err is None:
            continue
        if err:
            failed.append(f"{d.name}: {err}")
        else:
            passed += 1
    print(f"{passed} cases match Keras, {len(failed)} differ")
    for f in failed:
        print("  " + f)
    return 1 if failed or passed == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
