"""`edgekit package`: ship an exported artifact into an Android app, an iOS app or a Linux board.

    from edge_kit.packager import PackageRequest, package
    result = package(PackageRequest(artifact=Path("digits.tflite"), platform="linux"))

One module per platform (android, ios, linux) behind `base.Platform`; `metadata`
builds the JSON every bundle carries, `archive` writes reproducible zip/tar.gz bytes.
"""

from edge_kit.packager.core import PLATFORMS, PackageRequest, PackageResult, get_platform, package
from edge_kit.packager.metadata import Normalization

__all__ = ["PLATFORMS", "Normalization", "PackageRequest", "PackageResult", "get_platform", "package"]
