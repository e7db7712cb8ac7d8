"""Estimated on-device latency from instruction counts under the target's CPU model.

    from edge_kit.estimate import estimate_from_report, format_estimate
    section = estimate_from_report(profile_report, target, clock_ghz=None)
    print(format_estimate(section, target))   # estimated on Raspberry Pi 4: 17.0 ms (±15%)

The method (a per-operator roofline on counted instructions and spilled bytes), its five
parameters, the published rows each comes from and their leave-one-model-out errors:
docs/estimate.md.
"""

from __future__ import annotations

from edge_kit.estimate.model import METHOD, METHOD_VERSION
from edge_kit.estimate.section import estimate_from_report, format_estimate

__all__ = ["METHOD", "METHOD_VERSION", "estimate_from_report", "format_estimate"]
