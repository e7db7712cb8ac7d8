"""Shipped target definitions: the *.toml files in this folder (a data package)."""
