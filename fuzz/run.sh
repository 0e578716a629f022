#!/usr/bin/env bash
# `make fuzz`: builds the libFuzzer targets (clang, ASan+UBSan, in build-fuzz) and runs each for
# FUZZ_SECONDS (default 60). Seeds come from tests/fixtures, tests/hostile and fuzz/seeds; each
# target's grown corpus stays in build-fuzz/corpus/<target>. A crash, sanitizer report, leak,
# timeout or out-of-memory is a recur bug (HDF5 included: recur has its own reader), kept in
# build-fuzz/findings/ with its log, and the script fails at the end (copy the input to
# tests/hostile/regress/fuzz-<what>.<ext> and rerun make_hostile.py); fuzzing goes on.
# Environment: FUZZ_SECONDS, FUZZ_TARGETS ("keras h5 npy config graph"), FUZZ_BUILD (build-fuzz), JOBS.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SECONDS_EACH=${FUZZ_SECONDS:-60}
TARGETS=${FUZZ_TARGETS:-"keras h5 npy config graph"}
B=${FUZZ_BUILD:-build-fuzz}
JOBS=${JOBS:-$(nproc)}

# clang and its libFuzzer runtime (Debian 12: clang, libclang-rt-dev).
missing=""
command -v clang++ >/dev/null 2>&1 || missing="clang"
ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-*.a >/dev/null 2>&1 || missing="$missing libclang-rt-dev"
if [ -n "$missing" ]; then
  if [ "$(id -u)" != 0 ]; then echo "fuzz: install$missing (as root)" >&2; exit 1; fi
  echo "fuzz: installing$missing" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >&2
fi

CC=clang CXX=clang++ cmake -S fuzz -B "$B" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$B" -j "$JOBS"

seed() {  # seed <target> <files...>: fresh seed folder for a target
  local d="$B/seeds/$1"; shift
  rm -rf "$d"; mkdir -p "$d"
  local f i=0
  for f in "$@"; do
    [ -f "$f" ] || continue
    i=$((i + 1)); cp "$f" "$d/$i-$(basename "$f")"
  done
}
shopt -s nullglob
seed keras tests/fixtures/models/*/*.keras examples/*/*.keras tests/hostile/files/*.keras
seed h5 tests/fixtures/models/*/*.h5 tests/hostile/files/*.h5 fuzz/seeds/h5/*
seed npy tests/fixtures/models/k3-*/x*.npy tests/hostile/files/*.np[yz]
seed config fuzz/seeds/config/* fuzz/seeds/graph/amp-*
seed graph fuzz/seeds/graph/* fuzz/seeds/config/*

export ASAN_OPTIONS=${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}detect_leaks=1:allocator_may_return_null=1
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-}${UBSAN_OPTIONS:+:}print_stacktrace=1:halt_on_error=1

# The first stack frame that is not the sanitizer/fuzzer runtime, the allocator or libc.
top_frame() {
  grep -E '^ +#[0-9]+ 0x' "$1" | grep -v -E 'compiler-rt|libclang_rt|sanitizer|libFuzzer|fuzzer::|__interceptor|in (malloc|calloc|realloc|free|operator new|operator delete|__cxa|abort|raise|__GI_|__libc|__pthread|pthread_kill|gsignal)\b|libc\.so|libstdc\+\+|ld-linux' | head -1 || true
}

status=0
summary=""
for t in $TARGETS; do
  exe="$B/fuzz_$t"
  corpus="$B/corpus/$t"; art="$B/artifacts/$t"
  mkdir -p "$corpus" "$art" "$B/findings" "$B/logs"
  execs=0; crashes=0; runs=0
  end=$((SECONDS + SECONDS_EACH))
  while [ $SECONDS -lt $end ] && [ $runs -lt 50 ]; do
    runs=$((runs + 1))
    log="$B/logs/$t-$runs.log"
    rm -f "$art"/*
    set +e
    "$exe" -max_total_time=$((end - SECONDS > 1 ? end - SECONDS : 1)) -timeout=10 -rss_limit_mb=2560 \
      -malloc_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$art/" "$corpus" "$B/seeds/$t" >"$log" 2>&1
    rc=$?
    set -e
    n=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}' | tail -1)
    execs=$((execs + ${n:-0}))
    [ $rc -eq 0 ] && break
    found=$(ls "$art" 2>/dev/null | head -1)
    if [ -z "$found" ]; then
      echo "fuzz $t: exited $rc without an artifact (see $log)" >&2
      status=1; break
    fi
    frame=$(top_frame "$log")
    sum=$(sha1sum "$art/$found" | cut -c1-12)
    crashes=$((crashes + 1)); status=1
    cp "$art/$found" "$B/findings/$t-$found"
    cp "$log" "$B/findings/$t-$found.log"
    echo "fuzz $t: FINDING $B/findings/$t-$found ($sum): ${frame# *}" >&2
    grep -E 'ERROR: |SUMMARY: |runtime error' "$log" | head -3 >&2 || true
    # Drop the input from the seeds and the corpus, so that the next round fuzzes on.
    for f in "$corpus"/* "$B/seeds/$t"/*; do
      [ "$(sha1sum "$f" | cut -c1-12)" = "$sum" ] && rm -f "$f"
    done
  done
  line="fuzz_$t: $execs execs in ${SECONDS_EACH}s, $crashes finding(s), corpus $(ls "$corpus" | wc -l)"
  summary="$summary$line"$'\n'
done
printf '%s' "$summary"
exit $status
