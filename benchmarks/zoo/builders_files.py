"""Real pretrained models shipped inside pip wheels: located without importing their packages
(`importlib.util.find_spec` reads no module code) and copied into the zoo cache as they are."""

from __future__ import annotations

import importlib.util
import shutil
from collections.abc import Callable
from pathlib import Path


def package_file(package: str, relative: str) -> Path:
    """The path of `relative` inside the installed `package` (not imported: mediapipe's
    and basic-pitch's own imports need numpy<2 / an old TensorFlow)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"{package} is not installed (see benchmarks/zoo/INSTALL.md)")
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing from the installed {package}")
    return path


def wheel_file(package: str, relative: str) -> Callable[[Path], None]:
    """Copy a model file (or SavedModel folder) out of an installed wheel."""

    def build(path: Path) -> None:
        found = package_file(package, relative)
        if found.is_dir():
            shutil.copytree(found, path)
        else:
            shutil.copyfile(found, path)

    return build
