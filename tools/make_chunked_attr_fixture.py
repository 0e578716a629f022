"""Derives tests/fixtures/models/k2-chunked-weight-names from k2-lstm-hard-sigmoid: the same
model, with every layer's `weight_names` attribute split into `weight_names0`, `weight_names1`
the way Keras/h5py store attributes over 64 KiB (large models). Expected outputs are unchanged
(Keras' own, from the source case). Run after make_model_fixtures.py with the tools venv."""
import json
import pathlib
import shutil

import h5py
import numpy as np

root = pathlib.Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "models"
src, dst = root / "k2-lstm-hard-sigmoid", root / "k2-chunked-weight-names"
shutil.rmtree(dst, ignore_errors=True)
shutil.copytree(src, dst)
with h5py.File(dst / "model.h5", "r+") as f:
    for name, group in f["model_weights"].items():
        names = [n for n in group.attrs["weight_names"]]
        del group.attrs["weight_names"]
        half = (len(names) + 1) // 2
        group.attrs["weight_names0"] = np.array(names[:half], dtype=h5py.string_dtype() if names and isinstance(names[0], str) else "S64")
        group.attrs["weight_names1"] = np.array(names[half:], dtype=h5py.string_dtype() if names and isinstance(names[0], str) else "S64")
case = json.loads((dst / "case.json").read_text())
case["name"] = dst.name
case["note"] = "k2-lstm-hard-sigmoid with weight_names split into weight_names0/1 (Keras' chunked attributes)"
(dst / "case.json").write_text(json.dumps(case, indent=1) + "\n")
print("wrote", dst)
