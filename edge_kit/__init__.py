"""edgekit: export, quantize, profile and package ML models for edge devices."""

__version__ = "0.1.0"
