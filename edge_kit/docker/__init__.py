"""The docker backend's engine side: the profiling image, the counting QEMU it carries, setup checks."""
