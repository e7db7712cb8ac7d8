# The image of edgekit itself (CPU only), built offline from a base made locally: no registry,
# no package index (docker buildx build --network none).
#   base=$(.venv/bin/python tools/make_base_image.py)        # Debian python3.11 + edgekit's pinned dependencies
#   docker buildx build --network none --build-arg BASE_IMAGE=$base --load -t edgekit:local .
# (--break-system-packages: the image is a dedicated environment; its Debian python is ours.)
# Run: docker run --rm -v "$PWD:/work" -w /work edgekit:local export model.pt2 --target raspi
# The base is for the host's architecture (linux/amd64 here); emulated arm64 profiling from inside
# this image would also need QEMU and mmdebstrap in it: profile from the host instead.
ARG BASE_IMAGE=edgekit-base:local
FROM ${BASE_IMAGE}

COPY pyproject.toml README.md /src/
COPY edge_kit /src/edge_kit
COPY targets /src/targets
COPY quantize /src/quantize
RUN python3.11 -m pip install --no-index --no-deps --no-build-isolation --no-cache-dir --disable-pip-version-check \
      --break-system-packages \
      --root-user-action=ignore /src \
 && edgekit --version

ENTRYPOINT ["edgekit"]
CMD ["--help"]
