#!/usr/bin/env python3
"""Generates the hostile-input corpus checked by tests/test_hostile.cpp.

    /work/venv/bin/python tests/hostile/make_hostile.py     # from the repository root

Writes tests/hostile/files/* and tests/hostile/cases.json (the manifest the test reads). The
files are committed, so the tests need no Python. Zip, JSON and .npy cases use the standard
library only; the HDF5 cases (weights edited, links, shape bombs, legacy .h5) need h5py and are
skipped with a warning when it is missing (the manifest then keeps only the other cases).

Every case is derived from small valid fixtures made by real Keras (tests/fixtures/models):
  base.keras / base.h5   k3-lstm-timedistributed (Sequential: LSTM(8) -> TimeDistributed(Dense(3)),
                         input (None, 6, 4), output (None, 6, 3)), as .keras and as legacy .h5
  func.keras             k3-stateful-lstm (Functional: LSTM -> Dense, input (2, 5, 3)), for
                         inbound_nodes cases
  x.npy, x-func.npy      their valid inputs

Manifest entries: {"name", "model", "inputs": [...], "expect", "names"}
  expect "error": exit 3 or 4, one stderr line naming one of `names` (file names), no output
  written and a pre-existing output left intact.
  expect "either": harmless oddities recur may ignore (as Keras does): "error", or exit 0 with a
  valid output.
  expect "same": exit 0 and the output equals the output of the base model on x.npy.
  expect "nonfinite": exit 0, the output has non-finite values only in the poisoned batch row.
"""
import copy
import io
import json
import os
import struct
import sys
import zipfile
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
FIX = os.path.join(ROOT, "tests", "fixtures", "models")
OUT = os.path.join(HERE, "files")

cases = []


def read(path):
    with open(path, "rb") as f:
        return f.read()


def put(name, data):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)


# Files a hostile file is allowed to be refused or tolerated in (harmless oddities that recur
# ignores, as Keras does: informational fields, unused HDF5 objects).
TOLERATED = {
    "json-metadata-version-int", "cfg-layers-empty", "cfg-layer-name-number", "cfg-dtype-garbage",
    "cfg-dtype-int", "cfg-batch-shape-null-rank", "h5w-deep-groups", "h5-no-layer-names", "h5-keras-version-int",
    "h5-layer-names-int", "h5-layer-names-unknown", "h5-cycle",
}


def case(name, model, expect="error", inputs=("x.npy",), names=None):
    if expect == "error" and name in TOLERATED:
        expect = "either"
    if names is None:
        names = [model]
    elif isinstance(names, str):
        names = [names]
    cases.append({"name": name, "model": model, "inputs": list(inputs), "expect": expect,
                  "names": names})


BASE_KERAS = read(os.path.join(FIX, "k3-lstm-timedistributed", "model.keras"))
BASE_H5 = read(os.path.join(FIX, "k3-lstm-timedistributed-h5", "model.h5"))
FUNC_KERAS = read(os.path.join(FIX, "k3-stateful-lstm", "model.keras"))
X = read(os.path.join(FIX, "k3-lstm-timedistributed", "x0.npy"))
X_FUNC = read(os.path.join(FIX, "k3-stateful-lstm", "x0.npy"))


def members(zbytes):
    z = zipfile.ZipFile(io.BytesIO(zbytes))
    return [(i.filename, z.read(i.filename)) for i in z.infolist()]


BASE = members(BASE_KERAS)
FUNC = members(FUNC_KERAS)


def make_zip(items, deflate=("model.weights.h5", "config.json")):
    """items: [(name, bytes)]; the weights are deflated to keep the corpus small."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in items:
            zi = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            zi.compress_type = zipfile.ZIP_DEFLATED if name in deflate else zipfile.ZIP_STORED
            import warnings
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # duplicate names on purpose
                z.writestr(zi, data)
    return buf.getvalue()


def replace(items, name, data):
    return [(n, data if n == name else d) for n, d in items]


def config_of(items):
    return json.loads(dict(items)["config.json"])


def with_config(items, cfg):
    return replace(items, "config.json", json.dumps(cfg).encode())


def keras_case(name, items, expect="error", inputs=("x.npy",), **kw):
    put(name + ".keras", make_zip(items, **kw))
    case(name, name + ".keras", expect, inputs)


# ------------------------------------------------------------------------------------------ npy
def npy(descr, shape, payload, fortran=False, magic=b"\x93NUMPY", version=(1, 0), header=None):
    if header is None:
        shape_txt = "(" + "".join("%d, " % s for s in shape).rstrip(" ") + ")" if len(shape) != 1 \
            else "(%d,)" % shape[0]
        if len(shape) > 1:
            shape_txt = "(" + ", ".join(str(s) for s in shape) + ")"
        header = "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" % (
            descr, "True" if fortran else "False", shape_txt)
    h = header.encode("latin1")
    pre = len(magic) + 2 + (2 if version[0] == 1 else 4)
    pad = (64 - (pre + len(h) + 1) % 64) % 64
    h = h + b" " * pad + b"\n"
    ln = struct.pack("<H", len(h)) if version[0] == 1 else struct.pack("<I", len(h))
    return magic + bytes(version) + ln + h + payload


def x_values():
    """The float32 values and shape of x.npy (C order, version 1.0 '<f4')."""
    hl = struct.unpack("<H", X[8:10])[0]
    hdr = X[10:10 + hl].decode("latin1")
    assert "'<f4'" in hdr and "False" in hdr, hdr
    shape = tuple(int(s) for s in hdr.split("(")[1].split(")")[0].split(",") if s.strip())
    data = X[10 + hl:]
    return list(struct.unpack("<%df" % (len(data) // 4), data)), shape


XV, XS = x_values()  # (B, 6, 4)
B, T, F = XS


def f32(vals):
    return struct.pack("<%df" % len(vals), *vals)


def npy_cases():
    payload = f32(XV)
    good = lambda **kw: npy("<f4", XS, payload, **kw)  # noqa: E731
    inputs = {
        "npy-bad-magic": b"\x93NUMPZ" + X[6:],
        "npy-empty": b"",
        "npy-truncated-header": X[:20],
        "npy-header-len-beyond-file": X[:8] + struct.pack("<H", 60000) + X[10:],
        "npy-header-not-dict": npy("<f4", XS, payload, header="[1, 2, 3]"),
        "npy-header-python-code": npy("<f4", XS, payload,
                                      header="{'descr': __import__('os').system('touch PWNED'), "
                                             "'fortran_order': False, 'shape': (2, 6, 4), }"),
        "npy-header-garbage": npy("<f4", XS, payload, header="\x00\xff{{{{'descr'"),
        "npy-header-missing-shape": npy("<f4", XS, payload,
                                        header="{'descr': '<f4', 'fortran_order': False, }"),
        "npy-header-shape-string": npy("<f4", XS, payload,
                                       header="{'descr': '<f4', 'fortran_order': False, 'shape': 'abc', }"),
        "npy-header-shape-negative": npy("<f4", (B, -6, F), payload),
        "npy-header-shape-float": npy("<f4", XS, payload,
                                      header="{'descr': '<f4', 'fortran_order': False, 'shape': (2.5, 6, 4), }"),
        "npy-header-deep-tuple": npy("<f4", XS, payload,
                                     header="{'descr': '<f4', 'fortran_order': False, 'shape': " +
                                            "(" * 5000 + ")" * 5000 + ", }"),
        "npy-bad-version": npy("<f4", XS, payload, version=(9, 0)),
        "npy-lying-shape-more": npy("<f4", (B * 2, T, F), payload),
        "npy-lying-shape-less": npy("<f4", (B, T, F - 1), payload),
        "npy-shape-2pow40": npy("<f4", (1 << 20, 1 << 10, 1 << 10), payload),
        "npy-shape-overflow": npy("<f4", (1 << 62, 1 << 62, 4), payload),
        "npy-dtype-complex": npy("<c8", (B, T, F // 2), payload),
        "npy-dtype-object": npy("|O", XS, b"\x80\x04\x95" + payload),
        "npy-dtype-unicode": npy("<U1", XS, payload),
        "npy-dtype-structured": npy("<f4", XS, payload,
                                    header="{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2, 6, 4), }"),
        "npy-dtype-unknown": npy("<q9", XS, payload),
        "npy-big-endian": npy(">f4", XS, struct.pack(">%df" % len(XV), *XV)),
        "npy-fortran-lying": npy("<f4", (B, T, F + 1), payload, fortran=True),
        # Valid files of the wrong kind for this model (input (None, 6, 4)).
        "input-rank-2": npy("<f4", (B, T * F), payload),
        "input-batch-0": npy("<f4", (0, T, F), b""),
        "input-features-5": npy("<f4", (B, T, F + 1), payload + f32([0.5] * (B * T))),
        "input-scalar": npy("<f4", (), f32([1.0])),
        # Integers are kept exactly (int64 range); a uint64 beyond it has no exact form.
        "input-uint-too-big": npy("<u8", XS, struct.pack("<%dQ" % len(XV), *([1 << 63] * len(XV)))),
        "input-bool-wrong-shape": npy("|b1", (B, T), bytes(B * T)),
    }
    for name, data in inputs.items():
        put(name + ".npy", data)
        # Shape mismatches may be reported against the model (whose input they do not fit).
        names = [name + ".npy"] + (["base.keras"] if name.startswith("input-") else [])
        case(name, "base.keras", "error", inputs=[name + ".npy"], names=names)
    # Inputs Keras 3 runs on this Sequential model: a last axis of 1 is squeezed, and a
    # Sequential model checks no declared axis (only its layers refuse what they cannot take).
    put("input-rank-4.npy", npy("<f4", (B, T, F, 1), payload))
    case("input-rank-4", "base.keras", "same", inputs=["input-rank-4.npy"])
    put("input-time-7.npy", npy("<f4", (B, T + 1, F), payload + f32([0.5] * (B * F))))
    case("input-time-7", "base.keras", "ok", inputs=["input-time-7.npy"])
    # Inputs that are valid: fortran order is transposed to C order; integers are converted.
    cols = [XV[((b * T) + t) * F + f] for f in range(F) for t in range(T) for b in range(B)]
    put("input-fortran.npy", npy("<f4", XS, f32(cols), fortran=True))
    case("input-fortran", "base.keras", "same", inputs=["input-fortran.npy"])
    put("input-float64.npy", npy("<f8", XS, struct.pack("<%dd" % len(XV), *XV)))
    case("input-float64", "base.keras", "same", inputs=["input-float64.npy"])
    put("input-npy-v2.npy", npy("<f4", XS, payload, version=(2, 0)))
    case("input-npy-v2", "base.keras", "same", inputs=["input-npy-v2.npy"])
    # NaN / Inf: the CLI refuses them naming the input file (docs/SECURITY.md); with
    # --allow-nonfinite they propagate as in Keras (tests/test_cli.cpp).
    for name, v in (("input-nan", float("nan")), ("input-inf", float("inf")),
                    ("input-neg-inf", float("-inf"))):
        vals = list(XV)
        vals[T * F // 2] = v  # batch 0, a middle time step
        put(name + ".npy", npy("<f4", XS, f32(vals)))
        case(name, "base.keras", "error", inputs=[name + ".npy"], names=[name + ".npy"])
    # .npz inputs
    put("npz-not-zip.npz", b"PK\x03\x04garbage")
    case("npz-not-zip", "base.keras", inputs=["npz-not-zip.npz"], names="npz-not-zip.npz")
    put("npz-bad-member.npz", make_zip([("input_layer.npy", b"\x93NUMPY\x01\x00\xff\xff{")]))
    case("npz-bad-member", "base.keras", inputs=["npz-bad-member.npz"], names="npz-bad-member.npz")
    put("npz-dotdot.npz", make_zip([("../input_layer.npy", X)]))
    case("npz-dotdot", "base.keras", inputs=["npz-dotdot.npz"], names="npz-dotdot.npz")
    put("npz-bomb.npz", zip_bomb_member("input_layer.npy", X))
    case("npz-bomb", "base.keras", inputs=["npz-bomb.npz"], names="npz-bomb.npz")


# ------------------------------------------------------------------------------------------ zip
def patch_cd(zbytes, member, field_off, fmt, value, local_off=None):
    """Patches a field of `member`'s central-directory record (and its local header)."""
    b = bytearray(zbytes)
    i = 0
    while True:
        i = b.find(b"PK\x01\x02", i)
        if i < 0:
            raise KeyError(member)
        nlen = struct.unpack_from("<H", b, i + 28)[0]
        if bytes(b[i + 46:i + 46 + nlen]).decode() == member:
            struct.pack_into(fmt, b, i + field_off, value)
            if local_off is not None:
                lo = struct.unpack_from("<I", b, i + 42)[0]
                struct.pack_into(fmt, b, lo + local_off, value)
            return bytes(b)
        i += 4


def zip_bomb_member(name, head):
    """A member declared 1 KiB that inflates to 64 MiB of zeros (after `head`)."""
    data = head + bytes(64 << 20)
    z = make_zip([(name, data)], deflate=(name,))
    z = patch_cd(z, name, 24, "<I", 1024, local_off=22)
    return z


def zip_cases():
    # Truncated and corrupted archives.
    for name, data in {
        "zip-truncated-half": BASE_KERAS[:len(BASE_KERAS) // 2],
        "zip-truncated-10": BASE_KERAS[:10],
        "zip-no-eocd": BASE_KERAS[:-22],
        "zip-empty-file": b"",
        "zip-only-eocd": b"PK\x05\x06" + bytes(18),
        "zip-eocd-count-lies": BASE_KERAS[:-22] + b"PK\x05\x06" + bytes(4) +
        struct.pack("<HHII", 60000, 60000, 46 * 60000, 0) + bytes(2),
    }.items():
        put(name + ".keras", data)
        case(name, name + ".keras")
    base = make_zip(BASE, deflate=("model.weights.h5",))
    # Flip bytes in the middle of the stored config.json: CRC mismatch.
    i = base.find(b'"units"')
    put("zip-bad-crc.keras", base[:i] + b'"unitz"' + base[i + 7:])
    case("zip-bad-crc", "zip-bad-crc.keras")
    # Corrupt deflate stream of the weights.
    i = base.find(b"PK\x03\x04", base.find(b"model.weights.h5") - 40)
    j = i + 30 + len("model.weights.h5") + 200
    put("zip-bad-deflate.keras", base[:j] + bytes([0xff] * 64) + base[j + 64:])
    case("zip-bad-deflate", "zip-bad-deflate.keras")
    # Central directory offsets pointing outside the file / at garbage.
    put("zip-cd-offset-out.keras", patch_cd(base, "config.json", 42, "<I", 0x7fffffff))
    case("zip-cd-offset-out", "zip-cd-offset-out.keras")
    # Zip bombs: declared huge, actual huge (declared small), overlapping entries.
    put("zip-bomb-declared.keras", patch_cd(base, "config.json", 24, "<I", 0xfffffffe, local_off=22))
    case("zip-bomb-declared", "zip-bomb-declared.keras")
    put("zip-bomb-declared-csize.keras", patch_cd(base, "model.weights.h5", 20, "<I", 0xfffffff0,
                                                  local_off=18))
    case("zip-bomb-declared-csize", "zip-bomb-declared-csize.keras")
    cfg = dict(BASE)["config.json"]
    bomb = make_zip([("metadata.json", dict(BASE)["metadata.json"]),
                     ("config.json", cfg + b" " * (64 << 20)),
                     ("model.weights.h5", dict(BASE)["model.weights.h5"])],
                    deflate=("config.json", "model.weights.h5"))
    put("zip-bomb-actual.keras", patch_cd(bomb, "config.json", 24, "<I", len(cfg), local_off=22))
    case("zip-bomb-actual", "zip-bomb-actual.keras")
    # Overlapping entries: a second central-directory name pointing at the first member's data.
    ov = make_zip(BASE + [("extra.bin", b"x" * 100)])
    first_local = 0
    put("zip-overlap.keras", patch_cd(ov, "extra.bin", 42, "<I", first_local))
    case("zip-overlap", "zip-overlap.keras")
    # Member names.
    keras_case("zip-member-dotdot", BASE + [("../../evil.txt", b"owned")])
    keras_case("zip-member-absolute", BASE + [("/tmp/recur-evil.txt", b"owned")])
    keras_case("zip-member-dotdot-config", [(("../config.json" if n == "config.json" else n), d)
                                            for n, d in BASE])
    keras_case("zip-member-backslash", BASE + [("..\\..\\evil.txt", b"owned")])
    keras_case("zip-member-nul", BASE + [("config.json\x00.txt", b"{}")])
    keras_case("zip-duplicate-config", BASE + [("config.json", b'{"class_name": "Sequential"}')])
    keras_case("zip-duplicate-weights", BASE + [("model.weights.h5", b"junk")])
    keras_case("zip-missing-config", [(n, d) for n, d in BASE if n != "config.json"])
    keras_case("zip-missing-weights", [(n, d) for n, d in BASE if n != "model.weights.h5"])
    keras_case("zip-empty-archive", [])
    keras_case("zip-weights-not-hdf5", replace(BASE, "model.weights.h5", b"\x89HDF\r\n\x1a\n" + b"\0" * 64))
    keras_case("zip-weights-empty", replace(BASE, "model.weights.h5", b""))
    keras_case("zip-weights-truncated", replace(BASE, "model.weights.h5",
                                                dict(BASE)["model.weights.h5"][:4000]))
    keras_case("zip-weights-is-zip", replace(BASE, "model.weights.h5", BASE_KERAS))
    keras_case("zip-encrypted-flag", BASE)  # patched below
    put("zip-encrypted-flag.keras", patch_cd(read(os.path.join(OUT, "zip-encrypted-flag.keras")),
                                             "config.json", 8, "<H", 1, local_off=6))
    keras_case("zip-method-bzip2", BASE)
    put("zip-method-bzip2.keras", patch_cd(read(os.path.join(OUT, "zip-method-bzip2.keras")),
                                           "config.json", 10, "<H", 12, local_off=8))
    keras_case("zip-method-unknown", BASE)
    put("zip-method-unknown.keras", patch_cd(read(os.path.join(OUT, "zip-method-unknown.keras")),
                                             "config.json", 10, "<H", 99, local_off=8))


# ----------------------------------------------------------------------------------------- json
def json_cases():
    for name, text in {
        "json-invalid": b'{"class_name": "Sequential", "config": {',
        "json-empty": b"",
        "json-not-utf8": b'{"class_name": "Seq\xff\xfeuential"}',
        "json-nested-100000-list": b"[" * 100000 + b"]" * 100000,
        "json-nested-100000-dict": b'{"a":' * 100000 + b"1" + b"}" * 100000,
        "json-nested-100000-unclosed": b"[" * 100000,
        "json-number-huge": b'{"class_name": "Sequential", "config": {"layers": 1e999999}}',
        "json-top-level-list": b"[1, 2, 3]",
        "json-top-level-string": b'"Sequential"',
        "json-null": b"null",
    }.items():
        keras_case(name, replace(BASE, "config.json", text), deflate=("model.weights.h5", "config.json"))
    keras_case("json-metadata-invalid", replace(BASE, "metadata.json", b"{{{"))
    keras_case("json-metadata-nested", replace(BASE, "metadata.json", b"[" * 100000 + b"]" * 100000),
               deflate=("model.weights.h5", "metadata.json"))
    keras_case("json-metadata-version-int", replace(BASE, "metadata.json", b'{"keras_version": 3}'))
    keras_case("json-metadata-version-99", replace(BASE, "metadata.json", b'{"keras_version": "99.0.0"}'))


def config_cases():
    def mutate(name, fn, items=BASE, **kw):
        cfg = config_of(items)
        fn(cfg)
        keras_case(name, with_config(items, cfg), **kw)

    lstm = lambda c: c["config"]["layers"][1]["config"]  # noqa: E731
    td = lambda c: c["config"]["layers"][2]["config"]  # noqa: E731
    inp = lambda c: c["config"]["layers"][0]["config"]  # noqa: E731

    def setf(get, key, value):
        def fn(c):
            get(c)[key] = value
        return fn

    for tag, v in (("string", "8"), ("null", None), ("float", 8.5), ("bool", True), ("list", [8]),
                   ("negative", -8), ("zero", 0), ("huge", 1 << 40), ("2pow63", (1 << 63) - 1),
                   ("2pow64", 1 << 64), ("1e30", 1e30), ("object", {"units": 8})):
        mutate("cfg-units-" + tag, setf(lstm, "units", v))
    mutate("cfg-dense-units-huge", lambda c: td(c)["layer"]["config"].__setitem__("units", 1 << 40))
    mutate("cfg-dense-units-zero", lambda c: td(c)["layer"]["config"].__setitem__("units", 0))
    for tag, v in (("string", "abc"), ("null-rank", None), ("negative", [None, -6, 4]),
                   ("zero", [None, 6, 0]), ("huge", [None, 1 << 20, 1 << 20]),
                   ("2pow40-elements", [None, 1 << 20, 1 << 20]), ("strings", [None, "6", "4"]),
                   ("float", [None, 6.5, 4]), ("nested", [None, [6], 4]), ("rank-100", [None] + [1] * 100),
                   ("2pow63", [None, (1 << 63) - 1, 4])):
        mutate("cfg-batch-shape-" + tag, setf(inp, "batch_shape", v))
    for tag, fn in {
        "layers-string": lambda c: c["config"].__setitem__("layers", "lstm"),
        "layers-object": lambda c: c["config"].__setitem__("layers", {"a": 1}),
        "layers-number": lambda c: c["config"].__setitem__("layers", 5),
        "layers-null": lambda c: c["config"].__setitem__("layers", None),
        "layers-empty": lambda c: c["config"].__setitem__("layers", []),
        "layers-entries-numbers": lambda c: c["config"].__setitem__("layers", [1, 2, 3]),
        "layers-duplicated-1000": lambda c: c["config"].__setitem__(
            "layers", [c["config"]["layers"][0]] + [c["config"]["layers"][1]] * 1000),
        "config-missing": lambda c: c.pop("config"),
        "config-string": lambda c: c.__setitem__("config", "x"),
        "class-name-number": lambda c: c.__setitem__("class_name", 5),
        "class-name-unknown": lambda c: c.__setitem__("class_name", "TotallyNotAModel"),
        "layer-class-number": lambda c: c["config"]["layers"][1].__setitem__("class_name", 7),
        "layer-class-missing": lambda c: c["config"]["layers"][1].pop("class_name"),
        "layer-config-list": lambda c: c["config"]["layers"][1].__setitem__("config", [1]),
        "layer-name-number": lambda c: lstm(c).__setitem__("name", 12),
        # Objects from modules outside Keras: never imported, but refused (exit 3).
        "initializer-popen": setf(lstm, "kernel_initializer", {
            "module": "subprocess", "class_name": "Popen", "config": {"args": ["touch", "PWNED"]},
            "registered_name": None}),
        "dtype-policy-os": setf(lstm, "dtype", {"module": "os", "class_name": "system",
                                                "config": {"name": "touch PWNED"}, "registered_name": None}),
        "activation-number": setf(lstm, "activation", 42),
        "activation-unknown": setf(lstm, "activation", "os.system"),
        "activation-object": setf(lstm, "activation", {"class_name": "function", "config": "eval",
                                                        "module": "builtins"}),
        "return-sequences-string": setf(lstm, "return_sequences", "yes"),
        "go-backwards-number": setf(lstm, "go_backwards", 3),
        "dtype-garbage": setf(lstm, "dtype", {"class_name": 5}),
        "dtype-int": setf(inp, "dtype", "complex128"),
        "td-layer-missing": lambda c: td(c).pop("layer"),
        "td-layer-self": lambda c: td(c).__setitem__("layer", copy.deepcopy(c["config"]["layers"][2])),
        "td-nested-60": lambda c: nest_td(td(c), 60),
        "td-nested-300": lambda c: nest_td(td(c), 300),
        "lambda-layer": lambda c: c["config"]["layers"].insert(2, {
            "module": "keras.layers", "class_name": "Lambda", "registered_name": None,
            "config": {"name": "lambda", "function": {
                "class_name": "__lambda__", "config": {
                    "code": "4wEAAAAAAAAAAAAAAAEAAAADAAAA8wgAAACXAHwAUwApAU6pAKkB2gF4cwEAAAAg+h48c3RkaW4+"
                            "+gg8bGFtYmRhPnIEAAAAAQAAAHMFAAAAgACYYYAAcgIAAAA=",
                    "defaults": None, "closure": None}}, "output_shape": None, "arguments": {}}}),
        "custom-object": lambda c: c["config"]["layers"].insert(2, {
            "module": "evil_module", "class_name": "EvilLayer", "registered_name": "Custom>EvilLayer",
            "config": {"name": "evil"}}),
        "custom-activation": setf(lstm, "activation", {"module": "evil_module",
                                                        "class_name": "function",
                                                        "config": "pwn", "registered_name": "pwn"}),
    }.items():
        mutate("cfg-" + tag, fn)
    # Functional graph wiring (k3-stateful-lstm).
    fl = lambda c: c["config"]["layers"]  # noqa: E731
    fcases = {
        "inbound-string": lambda c: fl(c)[1].__setitem__("inbound_nodes", "garbage"),
        "inbound-numbers": lambda c: fl(c)[1].__setitem__("inbound_nodes", [1, 2, 3]),
        "inbound-history-missing-layer": lambda c: fl(c)[1]["inbound_nodes"][0]["args"][0]["config"]
        .__setitem__("keras_history", ["nope", 0, 0]),
        "inbound-history-bad-index": lambda c: fl(c)[1]["inbound_nodes"][0]["args"][0]["config"]
        .__setitem__("keras_history", [fl(c)[0]["name"], 99, 99]),
        "inbound-history-negative": lambda c: fl(c)[1]["inbound_nodes"][0]["args"][0]["config"]
        .__setitem__("keras_history", [fl(c)[0]["name"], -1, -5]),
        "inbound-history-types": lambda c: fl(c)[1]["inbound_nodes"][0]["args"][0]["config"]
        .__setitem__("keras_history", [1, "a", None]),
        "inbound-cycle": lambda c: fl(c)[1]["inbound_nodes"][0]["args"][0]["config"]
        .__setitem__("keras_history", [fl(c)[2]["name"], 0, 0]),
        "inbound-self": lambda c: fl(c)[1]["inbound_nodes"][0]["args"][0]["config"]
        .__setitem__("keras_history", [fl(c)[1]["name"], 0, 0]),
        "output-layers-garbage": lambda c: c["config"].__setitem__("output_layers", "x"),
        "output-layers-unknown": lambda c: c["config"].__setitem__("output_layers", [["nope", 0, 0]]),
        "input-layers-index": lambda c: c["config"].__setitem__("input_layers", [[fl(c)[0]["name"], 5, 7]]),
        "duplicate-layer-names": lambda c: fl(c)[2]["config"].__setitem__("name", fl(c)[1]["name"])
        or fl(c)[2].__setitem__("name", fl(c)[1]["name"]),
    }
    for tag, fn in fcases.items():
        mutate("cfg-func-" + tag, fn, items=FUNC, inputs=("x-func.npy",))


def nest_td(td_cfg, n):
    inner = td_cfg["layer"]
    for i in range(n):
        inner = {"module": "keras.layers", "class_name": "TimeDistributed", "registered_name": None,
                 "config": {"name": "td%d" % i, "layer": inner}}
    td_cfg["layer"] = inner


# ----------------------------------------------------------------------------------------- hdf5
def hdf5_cases():
    try:
        import h5py  # noqa: F401
        import numpy as np
    except ImportError:
        print("make_hostile: h5py/numpy missing, HDF5 cases skipped", file=sys.stderr)
        return
    import tempfile
    weights = dict(BASE)["model.weights.h5"]
    tmpdir = tempfile.mkdtemp()

    def edit(raw, fn):
        p = os.path.join(tmpdir, "w.h5")
        with open(p, "wb") as f:
            f.write(raw)
        with h5py.File(p, "r+") as f:
            fn(f)
        return read(p)

    def new_file(fn):
        p = os.path.join(tmpdir, "n.h5")
        if os.path.exists(p):
            os.remove(p)
        with h5py.File(p, "w") as f:
            fn(f)
        return read(p)

    K = "layers/lstm/cell/vars/0"  # kernel (4, 32)

    def replace_ds(path, data):
        def fn(f):
            del f[path]
            f[path] = data
        return fn

    def soft(f):
        del f[K]
        f[K] = h5py.SoftLink("/layers/lstm/cell/vars/1")

    def external(f):
        del f[K]
        f[K] = h5py.ExternalLink("/etc/passwd", "/data")

    def external_storage(f):
        del f[K]
        f.create_dataset(K, shape=(4, 32), dtype="<f4", external=[("/etc/passwd", 0, 512)])

    def virtual(f):
        del f[K]
        lay = h5py.VirtualLayout(shape=(4, 32), dtype="<f4")
        lay[:] = h5py.VirtualSource("/etc/passwd", "data", shape=(4, 32))
        f.create_virtual_dataset(K, lay, fillvalue=0)

    def shape_bomb(f):
        del f[K]
        f.create_dataset(K, shape=(1 << 20, 1 << 20), dtype="<f4", chunks=(1, 1024))

    def shape_bomb_right_rank(f):
        del f[K]
        f.create_dataset(K, shape=(4, 32), dtype="<f4", chunks=(4, 32), maxshape=(None, None))
        f[K].resize((1 << 20, 1 << 20))

    def cycle(f):
        f["layers/lstm/cell/vars/loop"] = f["layers/lstm"]

    def deep(f):
        g = f["layers/lstm"]
        for i in range(200):
            g = g.create_group("d")

    def deflate_bomb(path, shape, chunk):
        """int8 zeros, every chunk the same deflated run: ~1/1000 of the declared size in the
        HDF5 file (within the shape-bomb bound) and far less in the zip."""
        def fn(f):
            del f[path]
            ds = f.create_dataset(path, shape=shape, dtype="i1", chunks=chunk, compression="gzip")
            raw = zlib.compress(bytes(chunk[0] * chunk[1]), 9)
            for j in range(0, shape[1], chunk[1]):
                ds.id.write_direct_chunk((0, j), raw)
        return fn

    mods = {
        # Decoded before the shape check (issue 15), these inflated 128 MiB / 2 GiB and
        # allocated 0.5 / 8 GiB of float32: now refused by the shape check / the weight budget.
        "h5w-kernel-deflate-bomb": deflate_bomb(K, (4, 1 << 25), (4, 1 << 22)),
        "h5w-kernel-deflate-bomb-2g": deflate_bomb(K, (4, 1 << 29), (4, 1 << 22)),
        "h5w-kernel-wrong-shape": replace_ds(K, np.zeros((5, 32), "<f4")),
        "h5w-kernel-wrong-rank": replace_ds(K, np.zeros((4, 32, 1), "<f4")),
        "h5w-kernel-scalar": replace_ds(K, np.float32(1)),
        "h5w-kernel-empty": replace_ds(K, np.zeros((0, 32), "<f4")),
        "h5w-kernel-string": replace_ds(K, np.array([b"abc"] * 4)),
        "h5w-kernel-complex": replace_ds(K, np.zeros((4, 32), "<c8")),
        "h5w-kernel-compound": replace_ds(K, np.zeros((4, 32), dtype=[("a", "<f4"), ("b", "<i4")])),
        "h5w-kernel-vlen": replace_ds(K, np.array([b"a", b"bb"], dtype=h5py.string_dtype())),
        "h5w-kernel-missing": lambda f: f.__delitem__(K),
        "h5w-kernel-group": lambda f: (f.__delitem__(K), f.create_group(K)),
        "h5w-bias-wrong-shape": replace_ds("layers/lstm/cell/vars/2", np.zeros((33,), "<f4")),
        "h5w-dense-wrong-shape": replace_ds("layers/time_distributed/layer/vars/0", np.zeros((3, 8), "<f4")),
        "h5w-extra-variable": lambda f: f.create_dataset("layers/lstm/cell/vars/3", data=np.zeros(3, "<f4")),
        "h5w-layers-missing": lambda f: f.__delitem__("layers/lstm"),
        "h5w-layers-dataset": lambda f: (f.__delitem__("layers/lstm"), f.create_dataset("layers/lstm", data=[1])),
        "h5w-soft-link": soft,
        "h5w-external-link": external,
        "h5w-external-storage": external_storage,
        "h5w-virtual-dataset": virtual,
        "h5w-shape-bomb": shape_bomb,
        "h5w-shape-bomb-resized": shape_bomb_right_rank,
        "h5w-hard-link-cycle": cycle,
        "h5w-deep-groups": deep,
    }
    for name, fn in mods.items():
        keras_case(name, replace(BASE, "model.weights.h5", edit(weights, fn)))
    # Corrupt and truncated HDF5 bytes (inside the zip and as legacy .h5).
    for name, data in {
        "h5w-truncated-half": weights[:len(weights) // 2],
        "h5w-truncated-superblock": weights[:40],
        "h5w-superblock-zeroed": weights[:8] + bytes(88) + weights[96:],
        "h5w-eof-address-huge": weights[:40] + struct.pack("<Q", 1 << 60) + weights[48:],
    }.items():
        keras_case(name, replace(BASE, "model.weights.h5", data))
    for name, data in {
        "h5-truncated-half": BASE_H5[:len(BASE_H5) // 2],
        "h5-truncated-1k": BASE_H5[:1024],
        "h5-magic-only": BASE_H5[:8],
        "h5-superblock-garbage": BASE_H5[:8] + bytes([0xa5] * 200) + BASE_H5[208:],
    }.items():
        put(name + ".h5", data)
        case(name, name + ".h5")

    def attr_del(name):
        return lambda f: f.attrs.__delitem__(name)

    def mw_attr_del(name):
        return lambda f: f["model_weights"].attrs.__delitem__(name)

    def lay_attr_del(f):
        del f["model_weights/lstm"].attrs["weight_names"]

    legacy = {
        "h5-no-model-config": attr_del("model_config"),
        "h5-no-model-weights": lambda f: f.__delitem__("model_weights"),
        "h5-no-layer-names": mw_attr_del("layer_names"),
        "h5-no-weight-names": lay_attr_del,
        "h5-model-config-int": lambda f: f.attrs.__setitem__("model_config", 5),
        "h5-model-config-invalid-json": lambda f: f.attrs.__setitem__("model_config", "{{{"),
        "h5-model-config-nested": lambda f: f.attrs.__setitem__("model_config", "[" * 1000 + "]" * 1000),
        "h5-model-config-array": lambda f: f.attrs.__setitem__("model_config", np.array([b"{", b"}"])),
        "h5-keras-version-int": lambda f: f["model_weights"].attrs.__setitem__("keras_version", 7),
        "h5-layer-names-int": lambda f: f["model_weights"].attrs.__setitem__("layer_names", np.arange(3)),
        "h5-layer-names-unknown": lambda f: f["model_weights"].attrs.__setitem__(
            "layer_names", np.array([b"lstm", b"nope"])),
        "h5-weight-names-missing-ds": lambda f: f["model_weights/lstm"].attrs.__setitem__(
            "weight_names", np.array([b"sequential/lstm/lstm_cell/kernel", b"x/y/z", b"q"])),
        "h5-weight-names-dotdot": lambda f: f["model_weights/lstm"].attrs.__setitem__(
            "weight_names", np.array([b"../../../etc/passwd", b"x", b"q"])),
        "h5-soft-link": lambda f: (f.__delitem__("model_weights/lstm/sequential/lstm/lstm_cell/kernel"),
                                   f.__setitem__("model_weights/lstm/sequential/lstm/lstm_cell/kernel",
                                                 h5py.SoftLink("/model_weights/lstm/sequential/lstm/lstm_cell/bias"))),
        "h5-external-link": lambda f: f.__setitem__("model_weights/lstm/sequential/lstm/lstm_cell/kernel2",
                                                    h5py.ExternalLink("/etc/passwd", "/x")) or
        (f.__delitem__("model_weights/lstm/sequential/lstm/lstm_cell/kernel"),
         f.__setitem__("model_weights/lstm/sequential/lstm/lstm_cell/kernel",
                       h5py.ExternalLink("other.h5", "/kernel"))),
        "h5-kernel-wrong-shape": lambda f: (
            f.__delitem__("model_weights/lstm/sequential/lstm/lstm_cell/kernel"),
            f.__setitem__("model_weights/lstm/sequential/lstm/lstm_cell/kernel", np.zeros((4, 31), "<f4"))),
        "h5-shape-bomb": lambda f: (
            f.__delitem__("model_weights/lstm/sequential/lstm/lstm_cell/kernel"),
            f.create_dataset("model_weights/lstm/sequential/lstm/lstm_cell/kernel",
                             shape=(1 << 20, 1 << 20), dtype="<f4", chunks=(1, 1024))),
        "h5-cycle": lambda f: f.__setitem__("model_weights/lstm/sequential/loop", f["model_weights/lstm"]),
    }
    for name, fn in legacy.items():
        put(name + ".h5", edit(BASE_H5, fn))
        case(name, name + ".h5")
    # A file that is HDF5 but nothing like Keras.
    put("h5-empty-file.h5", new_file(lambda f: None))
    case("h5-empty-file", "h5-empty-file.h5")


def write_fuzz_seeds():
    """fuzz/seeds/config: config.json of the base models, of every k3 fixture and of the cfg-*
    cases (the config fuzzer's seeds; the other fuzzers take whole files from the tests)."""
    d = os.path.join(ROOT, "fuzz", "seeds", "config")
    os.makedirs(d, exist_ok=True)
    for f in os.listdir(d):
        os.remove(os.path.join(d, f))
    srcs = [os.path.join(OUT, f) for f in sorted(os.listdir(OUT))
            if f.endswith(".keras") and (f.startswith("cfg-") or f in ("base.keras", "func.keras"))]
    srcs += [os.path.join(FIX, c, "model.keras") for c in sorted(os.listdir(FIX))
             if os.path.exists(os.path.join(FIX, c, "model.keras"))]
    seen = set()
    for p in srcs:
        try:
            cfg = zipfile.ZipFile(p).read("config.json")
        except Exception:
            continue
        if cfg in seen or len(cfg) > 20000:
            continue
        seen.add(cfg)
        tag = os.path.basename(os.path.dirname(p)) if p.startswith(FIX) else os.path.basename(p)[:-6]
        with open(os.path.join(d, tag + ".json"), "wb") as f:
            f.write(cfg)


def main():
    sys.setrecursionlimit(20000)
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        os.remove(os.path.join(OUT, f))
    put("base.keras", make_zip(BASE))
    put("base.h5", BASE_H5)
    put("func.keras", make_zip(FUNC))
    put("x.npy", X)
    put("x-func.npy", X_FUNC)
    case("base-keras", "base.keras", "ok")
    case("base-h5", "base.h5", "ok")
    case("base-func", "func.keras", "ok", inputs=["x-func.npy"])
    zip_cases()
    json_cases()
    config_cases()
    npy_cases()
    hdf5_cases()
    # Fuzzer finds (kept as regression cases): files named fuzz-*.{keras,h5,npy} in regress/.
    reg = os.path.join(HERE, "regress")
    if os.path.isdir(reg):
        for f in sorted(os.listdir(reg)):
            if not f.startswith("fuzz-"):
                continue
            data = read(os.path.join(reg, f))
            put(f, data)
            if f.endswith(".npy"):
                case(os.path.splitext(f)[0], "base.keras", inputs=[f], names=f)
            else:
                case(os.path.splitext(f)[0], f)
    write_fuzz_seeds()
    names = [c["name"] for c in cases]
    assert len(names) == len(set(names)), "duplicate case names"
    with open(os.path.join(HERE, "cases.json"), "w") as f:
        json.dump({"generator": "tests/hostile/make_hostile.py", "cases": cases}, f, indent=1)
        f.write("\n")
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print("make_hostile: %d cases, %d files, %d bytes" % (len(cases), len(os.listdir(OUT)), total))


if __name__ == "__main__":
    main()
