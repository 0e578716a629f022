"""Writes tests/fixtures/hash_buckets.json: TensorFlow's string hashes, the oracle of
src/layers/hash_buckets.cpp (Keras' Hashing layer and IntegerLookup's oov_method="farmhash").

    .venv-keras/bin/python tools/make_hash_fixture.py

- fingerprint64: tf.fingerprint(method="farmhash64") of strings of 0..32 bytes (bytes the
  decimal forms of int64 never hold included), as unsigned decimal strings;
- values, buckets: tf.strings.to_hash_bucket_fast / _strong of tf.as_string(int64 values);
- crosses: tf.sparse.cross_hashed of the values, the values reversed and `third` (small
  integers).
Deterministic: a fixed numpy seed.
"""
import json
import os

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import tensorflow as tf  # noqa: E402

rng = np.random.default_rng(20261205)
out = {"fingerprint64": [], "values": [], "buckets": []}

for n in range(33):
    for _ in range(3):
        s = bytes(rng.integers(0, 256, n, dtype=np.uint8))
        fp = tf.fingerprint(tf.constant([s]), method="farmhash64").numpy()[0]
        out["fingerprint64"].append({"hex": s.hex(), "hash": str(int.from_bytes(fp, "little"))})

values = [0, 1, -1, 7, 10, 123456789, -987654321, 2**31 - 1, -(2**31), 2**53 + 1, 2**62,
          2**63 - 1, -(2**63)]
values += [int(v) for v in rng.integers(-(2**63), 2**63 - 1, 20, dtype=np.int64)]
values += [int(v) for v in rng.integers(-1000, 1000, 20)]
out["values"] = values
for buckets in [1, 2, 7, 1000, 2**40 + 3, 2**63 - 1]:
    for salt in [None, [0, 0], [1, 2], [-1, 12345], [2**63 - 1, 987654321987654321]]:
        x = tf.strings.as_string(tf.constant(values, tf.int64))
        if salt is None:
            h = tf.strings.to_hash_bucket_fast(x, buckets)
        else:
            h = tf.strings.to_hash_bucket_strong(x, buckets, key=salt)
        expected = [int(v) for v in h.numpy()]
        out["buckets"].append({"buckets": buckets, "salt": salt, "expected": expected})

# tf.sparse.cross_hashed of 2 and 3 int64 features, one value each per row.
out["crosses"] = []
cols = [values, values[::-1], [int(v) for v in rng.integers(-50, 50, len(values))]]
out["third"] = cols[2]
for n in [2, 3]:
    for buckets in [1, 10, 2**40 + 3, 2**62]:
        feats = [tf.constant(np.array(c, np.int64).reshape(-1, 1)) for c in cols[:n]]
        h = tf.sparse.to_dense(tf.sparse.cross_hashed(feats, buckets)).numpy().ravel()
        out["crosses"].append({"features": n, "buckets": buckets,
                               "expected": [int(v) for v in h]})

path = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "hash_buckets.json")
with open(path, "w") as f:
    json.dump(out, f, separators=(",", ":"))
    f.write("\n")
print(path, len(out["fingerprint64"]), "strings,", len(out["buckets"]), "bucket cases,",
      len(out["crosses"]), "crosses")
