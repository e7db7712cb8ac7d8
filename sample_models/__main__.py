"""``python -m sample_models``: regenerate every checked-in sample file."""

from .train_all import main

main()
