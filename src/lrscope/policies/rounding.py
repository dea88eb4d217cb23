"""Rounding policy parameters so that specs stay readable.

A rate read off a range test or sampled by a search carries about three
significant digits of information; printing more (``gamma=0.9995204098124498``)
only makes specs long. Per-step decay factors sit just below 1 and are rounded
by their complement, or three digits would round them to 1 (no decay).
"""

from __future__ import annotations

__all__ = ["round_decay", "round_sig"]


def round_sig(value: float, digits: int = 3) -> float:
    """``value`` rounded to ``digits`` significant digits (``0.171234`` -> ``0.171``)."""
    return float(f"{value:.{digits}g}")


def round_decay(gamma: float, digits: int = 3) -> float:
    """A per-step factor near 1, rounded by its complement: ``0.9990403`` -> ``0.99904``.

    Rounding ``gamma`` itself to 3 digits would give 1.0 (no decay at all);
    ``1 - gamma`` carries the information.
    """
    complement = round_sig(1.0 - gamma, digits)
    return float(f"{1.0 - complement:.12g}")
