#!/usr/bin/env bash
# `make tsan`: the concurrency tests (tests/test_concurrency.cpp: one Model shared by 8 threads,
# sessions per thread, concurrent loading) under ThreadSanitizer, in build-tsan (gcc).
set -euo pipefail
cd "$(dirname "$0")/.."
B=${TSAN_BUILD:-build-tsan}
JOBS=${JOBS:-$(nproc)}
# GCC 12 false positives at -O2 with -fsanitize=thread (the main build keeps -Werror for them).
GCC_TSAN_NOWARN="-Wno-free-nonheap-object -Wno-maybe-uninitialized -Wno-array-bounds -Wno-stringop-overflow -Wno-tsan"
cmake -S . -B "$B" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS="-fsanitize=thread -fno-omit-frame-pointer $GCC_TSAN_NOWARN" \
  -DCMAKE_C_FLAGS="-fsanitize=thread" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=thread" >/dev/null
cmake --build "$B" -j "$JOBS" --target recur_tests
TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$PWD/fuzz/tsan.supp ${TSAN_OPTIONS:-}" \
  "$B/tests/recur_tests" --gtest_filter='Concurrency.*'
