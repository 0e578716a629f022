#!/usr/bin/env bash
# Prints recur's forecast beside Keras' own prediction and the true next value, and the largest
# |recur - Keras|; exits 1 when it is over the tolerance (atol = rtol = 1e-5, as the tests use).
# Usage: compare.sh RECUR_BINARY FORECAST.npy   (run from the repository root)
set -euo pipefail
recur=$1 forecast=$2 dir=examples/demo
values() { "$recur" show "$1" | tail -n +2; }
paste <(values "$forecast") <(values $dir/expected.npy) <(values $dir/target.npy) | awk '
  BEGIN { printf "%-7s %12s %12s %12s\n", "window", "recur", "Keras", "true next" }
  { d = $1 - $2; if (d < 0) d = -d; if (d > max) max = d
    lim = 1e-5 + 1e-5 * ($2 < 0 ? -$2 : $2); if (d > lim) bad = 1
    printf "%-7d %12.6f %12.6f %12.6f\n", NR - 1, $1, $2, $3 }
  END { printf "\nmax |recur - Keras| = %.3g over %d forecasts (tolerance 1e-5): %s\n", max, NR,
        bad ? "MISMATCH" : "recur reproduces Keras"; exit bad }'
