"""Bridges from one framework's model to another format's converter (e.g. JAX → TFLite / ONNX)."""
