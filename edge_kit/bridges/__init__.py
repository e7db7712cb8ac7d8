"""Bridges between frameworks and to other frameworks' converters: ONNX → torch.export (so ONNX
sources reach TFLite and ExecuTorch), JAX → TFLite / ONNX. Plain functions over files and
framework objects; the conversion registry decides when to call them. Heavy frameworks are
imported lazily.
"""
