# Gradus — the two commands:
#   make demo   trains an MLP on Fashion-MNIST (progress, test accuracy, SVG plot path)
#   make test   runs every test: swift test, the ABI checks, C via ctest, Python via pytest and a venv install
# Both install what they need first (make deps). Other targets:
#   make build | dist | install PREFIX=<dir> | bench | bench-python | deps | clean
#   make test-swift | test-abi | test-c | test-cli | test-python | test-python-venv   (parts of make test; STAGE=<prefix>)
# Scratch paths: .build (debug: swift build / swift test), .build-dist (the shipped release .so and CLI).

SHELL       := /bin/sh
PREFIX      ?= /usr/local
PYTHON      ?= python3
SWIFT       ?= swift
BUILD       := .build
DIST        := .build-dist
STAGE       := build/prefix
DATA        ?= /usr/share/datasets/fashion-mnist
DEMO_OUT    ?= build/demo
DEMO_ARGS   ?= --dataset fashion-mnist --hidden 256 --optimizer sgd --lr 0.05 --momentum 0.9 --epochs 5 --batch-size 128 --seed 0 --data-dir $(DATA) --plot $(DEMO_OUT)/loss.svg
BENCH_ARGS  ?=

export SWIFT_BACKTRACE := enable=no

.PHONY: all build dist install stage deps test test-swift test-abi test-c test-cli test-python test-python-venv python-package \
        demo bench bench-python anchors python-bundle clean

all: build

## deps: Debian packages and PyPI modules the tests and the demo need (skips what is present).
deps:
	@cmake/install-deps.sh

## build: debug build of everything (library, CLI, tests' dependencies) in .build.
build:
	$(SWIFT) build --scratch-path $(BUILD)

## dist: the shipped libgradus.so (static Swift runtime, SONAME, gradus_* only) and the CLI, in .build-dist.
dist:
	cmake/build-dist.sh $(DIST)

## install: bin/gradus, lib/libgradus.so*, include/gradus.h, lib/cmake/Gradus, lib/pkgconfig/gradus.pc.
install: dist
	cmake/install.sh "$(PREFIX)" $(DIST)

# The test prefix used by test-c, test-python and demo.
stage: dist
	cmake/install.sh "$(STAGE)" $(DIST)

## test: every test. Swift first (fast failure), then the dist build and its consumers.
test: deps test-swift stage test-abi test-c test-cli test-python test-python-venv
	@echo "make test: all passed"

test-swift:
	$(SWIFT) build --scratch-path $(BUILD) --build-tests
	$(SWIFT) test --scratch-path $(BUILD) --skip-build

test-abi: stage
	@test -f $(BUILD)/debug/GradusC.build/include/GradusC-Swift.h || $(SWIFT) build --scratch-path $(BUILD) --target GradusC
	Tests/abi/check.sh $(DIST)/release/libgradus.so $(BUILD)/debug/GradusC.build/include/GradusC-Swift.h

# The staged CLI on bad command lines: clear errors and exit status 1 or 64, never a trap.
test-cli: stage
	Tests/cli/bad_input.sh $(STAGE_ABS)/bin/gradus

# The C consumers twice: through find_package(Gradus) and through pkg-config, both against the staged prefix.
# The build folders are keyed on the prefix (find_package caches Gradus_DIR, pkg-config its results), so
# `make test-c STAGE=<other>` never links against a prefix left in an old CMake cache.
STAGE_ABS    = $(abspath $(STAGE))
C_BUILD      = build/c-$(shell printf '%s' '$(STAGE_ABS)' | cksum | cut -d' ' -f1)
test-c: stage
	cmake -S bindings/c -B $(C_BUILD)-cmake -DCMAKE_PREFIX_PATH="$(STAGE_ABS)" -DGRADUS_FASHION_MNIST_DIR="$(DATA)" >/dev/null
	cmake --build $(C_BUILD)-cmake
	ctest --test-dir $(C_BUILD)-cmake --output-on-failure
	cmake -S bindings/c -B $(C_BUILD)-pkgconfig -DGRADUS_USE_PKGCONFIG=ON -DCMAKE_PREFIX_PATH="$(STAGE_ABS)" -DGRADUS_FASHION_MNIST_DIR="$(DATA)" >/dev/null
	cmake --build $(C_BUILD)-pkgconfig
	ctest --test-dir $(C_BUILD)-pkgconfig --output-on-failure

# python-package: a copy of bindings/python with the staged library bundled as gradus/_lib/libgradus.so,
# ready for `pip install` (the checkout itself is left untouched).
PY_PACKAGE  := build/python-package
python-package: stage
	rm -rf $(PY_PACKAGE) && mkdir -p $(PY_PACKAGE)/gradus/_lib
	cp -R bindings/python/pyproject.toml bindings/python/README.md bindings/python/gradus $(PY_PACKAGE)/
	find $(PY_PACKAGE) -name __pycache__ -prune -exec rm -rf {} +
	cp -L $(STAGE)/lib/libgradus.so $(PY_PACKAGE)/gradus/_lib/libgradus.so

# Installs offline when the build backend is at hand (--no-build-isolation), else through the index/mirror.
PIP_FLAGS   = -q --disable-pip-version-check
PIP_INSTALL = -m pip install $(PIP_FLAGS)

# pytest against the staged library, then a check that the package installs and loads its bundled copy.
test-python: stage python-package
	GRADUS_LIBRARY="$(STAGE_ABS)/lib/libgradus.so" $(PYTHON) -m pytest -q bindings/python/tests
	rm -rf build/python-install
	$(PYTHON) $(PIP_INSTALL) --no-deps --no-build-isolation --no-index --target build/python-install ./$(PY_PACKAGE) 2>/dev/null \
	  || $(PYTHON) $(PIP_INSTALL) --no-deps --target build/python-install ./$(PY_PACKAGE)
	cd build && env -u GRADUS_LIBRARY PYTHONPATH=python-install $(PYTHON) -c \
	  "import gradus, os; assert '/_lib/' in gradus.library_path, gradus.library_path; print('python package OK:', gradus.version(), os.path.relpath(gradus.library_path))"

# test-python-venv: `pip install` of the package (bundled library) into a fresh virtual environment (numpy from
# the system site-packages), then, from an empty directory outside the checkout, import gradus and train a
# small MLP with gradus.optim until the loss falls (bindings/python/tests/installed_check.py).
# The venv gets no pip of its own (ensurepip alone took ~20 s here): the outer pip installs into it (--python).
VENV        := build/python-venv
test-python-venv: python-package
	rm -rf $(VENV)
	$(PYTHON) -m venv --system-site-packages --without-pip $(VENV)
	$(PYTHON) -m pip --python $(VENV)/bin/python install $(PIP_FLAGS) --no-build-isolation --no-index ./$(PY_PACKAGE) 2>/dev/null \
	  || $(PYTHON) -m pip --python $(VENV)/bin/python install $(PIP_FLAGS) ./$(PY_PACKAGE)
	d=$$(mktemp -d) && cp bindings/python/tests/installed_check.py "$$d/" && cd "$$d" \
	  && env -u GRADUS_LIBRARY -u PYTHONPATH "$(abspath $(VENV))/bin/python" installed_check.py; \
	  rc=$$?; rm -rf "$$d"; exit $$rc

## bench-python: the Python overhead benchmark (Pythonic API vs raw ctypes; from_numpy zero copy).
bench-python: stage
	GRADUS_LIBRARY="$(STAGE_ABS)/lib/libgradus.so" $(PYTHON) bindings/python/benchmarks/bench_overhead.py

## python-bundle: copies the dist library into the Python package (for `pip install ./bindings/python`).
python-bundle: dist
	mkdir -p bindings/python/gradus/_lib
	cp -L $(DIST)/release/libgradus.so bindings/python/gradus/_lib/libgradus.so

## demo: trains an MLP on Fashion-MNIST with the installed CLI (gradus train).
demo: deps stage
	mkdir -p $(DEMO_OUT)
	$(STAGE)/bin/gradus train $(DEMO_ARGS)

## anchors: the hand-written C floors (Tests/Benchmarks/anchors) the benchmarks compare against, built here.
ANCHORS := .build-anchors
anchors:
	mkdir -p $(ANCHORS)
	$(CC) -O3 -march=native -fno-math-errno -fopenmp Tests/Benchmarks/anchors/mlp_c.c -o $(ANCHORS)/mlp_c -lopenblas -lm
	$(CC) -O3 -march=native -fno-math-errno -fopenmp Tests/Benchmarks/anchors/adam_c.c -o $(ANCHORS)/adam_c -lm
	$(CC) -O3 -march=native -fopenmp Tests/Benchmarks/anchors/stream.c -o $(ANCHORS)/stream
	$(CC) -O3 -march=native -fno-math-errno -fopenmp Tests/Benchmarks/anchors/qdq_c.c -o $(ANCHORS)/qdq_c -lm

## bench: the CLI's benchmark tables (release build), Gradus vs. the C anchors measured in the same run.
bench: stage anchors
	$(STAGE)/bin/gradus bench --anchors $(ANCHORS) $(BENCH_ARGS)

clean:
	rm -rf build bindings/python/gradus/_lib bindings/python/build
