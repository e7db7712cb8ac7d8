# syntax=docker/dockerfile:1
# The image of edgekit itself (CPU only). Builds for both platforms with buildx:
#   docker buildx build --platform linux/amd64,linux/arm64 -t edgekit:latest .
#   docker buildx build --platform linux/arm64 --load -t edgekit:arm64 .
# Run: docker run --rm -v "$PWD:/work" -w /work edgekit:latest export model.pt2 --target raspi
FROM python:3.11-slim-bookworm

ARG TARGETARCH
# QEMU user-mode + mmdebstrap build the emulated arm64 environment (only useful on amd64);
# gcc/glib headers build the instruction-counting plugin and the ExecuTorch runtime shim.
RUN apt-get update \
 && apt-get install -y --no-install-recommends mmdebstrap pkg-config libglib2.0-dev dpkg-dev gcc g++ \
      $( [ "$TARGETARCH" = "amd64" ] && echo qemu-user qemu-user-static g++-aarch64-linux-gnu ) \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/edgekit
# The CPU build of torch comes from PyTorch's CPU index (PyPI's default build pulls CUDA).
RUN pip install --no-cache-dir --index-url https://download.pytorch.org/whl/cpu torch==2.13.0
COPY pyproject.toml README.md ./
COPY edge_kit ./edge_kit
COPY targets ./targets
COPY quantize ./quantize
RUN pip install --no-cache-dir . && edgekit --version

ENTRYPOINT ["edgekit"]
CMD ["--help"]
