# longctx: the two entry points are `make demo` and `make test` (see README.md).
JOBS ?= 2
BUILD ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 30
ASSETS ?= $(abspath ../shared/assets)
# llama.cpp's vocabulary-only GGUF files (scripts/fetch_vocab.sh; tests skip without them).
VOCAB ?= $(abspath ../vocab)

.PHONY: setup setup-python build demo test test-fast test-asan fuzz bench clean

setup:
	@scripts/setup.sh

# The .venv of the Python package's tests (ray, lm-eval, pytest, nanobind: ~1 GB from PyPI).
setup-python: setup
	@scripts/setup_python.sh

build: setup
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

demo: build
	@scripts/demo.sh $(BUILD)/longctx "$(ASSETS)"

# Everything CI runs: a short bounded run of every fuzz target, the test suite under
# ASan+UBSan, then the Release test suite (last, so its CTest summary closes the output).
test: fuzz test-asan
	@$(MAKE) --no-print-directory test-fast

# The .venv first, so that the build configures the Python extension for it.
test-fast: setup-python
	@$(MAKE) --no-print-directory build
	@cd $(BUILD) && LONGCTX_ASSETS="$(ASSETS)" LONGCTX_VOCAB_DIR="$(VOCAB)" ctest --output-on-failure -j$(JOBS)

test-asan: setup
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLONGCTX_SANITIZE=ON -DLONGCTX_BENCH=OFF >/dev/null
	@cmake --build $(ASAN_BUILD) -j$(JOBS)
	@cd $(ASAN_BUILD) && LONGCTX_ASSETS="$(ASSETS)" LONGCTX_VOCAB_DIR="$(VOCAB)" ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
		ctest --output-on-failure -j$(JOBS)

fuzz: setup
	@CC=clang CXX=clang++ cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLONGCTX_FUZZ=ON >/dev/null
	@cmake --build $(FUZZ_BUILD) -j$(JOBS)
	@scripts/fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) "$(ASSETS)"

bench: build
	@scripts/bench.sh $(BUILD)/longctx

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)

# Independent-implementation parity (not part of `make test`): longctx logits vs HF
# transformers, GGUF files read back with the gguf PyPI package, tokenizers vs llama.cpp.
# Installs its Python deps and fetches llama.cpp's vocabulary files into $(VOCAB).
.PHONY: parity
parity: setup
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD) -j$(JOBS) --target longctx
	@LONGCTX_VOCAB_DIR="$(VOCAB)" tests/parity/run.sh $(BUILD)/longctx "$(ASSETS)"
