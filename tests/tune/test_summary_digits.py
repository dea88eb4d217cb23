"""The tune summary writes a mean and its spread with the same number of decimals."""

from __future__ import annotations

import pytest

from lrscope.tune.result import _mean_std


@pytest.mark.parametrize(
    ("mean", "std", "expected"),
    [
        (0.0149, 0.0009144, "0.0149 ± 0.0009"),
        (0.9560, 0.01234, "0.9560 ± 0.0123"),
        (1.234e-05, 9.1e-07, "1.234e-05 ± 9.100e-07"),
        (0.5, float("nan"), "0.5000 ± nan"),
    ],
)
def test_mean_and_spread_share_their_decimals(mean: float, std: float, expected: str) -> None:
    assert _mean_std(mean, std) == expected
