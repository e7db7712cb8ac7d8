"""Shipped quantization recipes: the *.toml files in this folder (a data package)."""
