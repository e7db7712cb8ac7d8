"""PT2E helpers: the activation observers a recipe's calibration_method picks."""

import numpy as np
import pytest
import torch

from edge_kit.quant.pt2e import with_activation_calibration
from edge_kit.recipes import get_recipe


def _config():
    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import get_symmetric_quantization_config

    return get_symmetric_quantization_config(is_per_channel=True)


def _observed_range(config, data: torch.Tensor) -> tuple[float, float]:
    """The float range an output-activation observer built from `config` settles on."""
    spec = config.output_activation  # built the way prepare_pt2e builds it from the spec
    observer = spec.observer_or_fake_quant_ctr(
        dtype=spec.dtype, quant_min=spec.quant_min, quant_max=spec.quant_max, qscheme=spec.qscheme
    )
    for chunk in data.split(10_000):
        observer(chunk)
    scale, zero = observer.calculate_qparams()
    return float((spec.quant_min - zero) * scale), float((spec.quant_max - zero) * scale)


@pytest.fixture(scope="module")
def data() -> torch.Tensor:
    """100,000 standard normal values and 5 outliers at +50."""
    values = torch.from_numpy(np.random.default_rng(0).standard_normal(100_000).astype(np.float32))
    return torch.cat([values[:50_000], torch.full((5,), 50.0), values[50_000:]])


def test_percentile_keeps_the_central_values_and_cuts_outliers(data: torch.Tensor):
    recipe = get_recipe("xnnpack_pt2e_int8_static_per_channel").model_copy(
        update={"calibration_method": "percentile", "percentile": 99.99}
    )
    low, high = _observed_range(with_activation_calibration(_config(), recipe), data)
    # 0.005 % of 100,005 values on each side: 5 values, i.e. the outliers above, ~ -3.9 below
    assert -4.5 < low < -3.5 and 3.5 < high < 5.0
    minmax = recipe.model_copy(update={"calibration_method": "minmax"})
    low, high = _observed_range(with_activation_calibration(_config(), minmax), data)
    assert high == pytest.approx(50.0, rel=0.01) and low == pytest.approx(float(data.min()), rel=0.01)


def test_a_wider_percentile_keeps_a_wider_range(data: torch.Tensor):
    recipe = get_recipe("xnnpack_pt2e_int8_static_per_channel").model_copy(update={"calibration_method": "percentile"})
    widths = [
        _observed_range(with_activation_calibration(_config(), recipe.model_copy(update={"percentile": p})), data)
        for p in (99.0, 99.99, 100.0)
    ]
    assert widths[0][1] < widths[1][1] < widths[2][1] == pytest.approx(50.0, rel=0.01)


def test_histogram_leaves_the_quantizers_own_observers():
    config = _config()
    assert with_activation_calibration(config, get_recipe("xnnpack_pt2e_int8_static_per_channel")) is config
