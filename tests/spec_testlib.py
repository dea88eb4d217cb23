"""Whether a policy spec that lrscope built from a measured value is rounded.

lrscope's rule (:mod:`lrscope.policies.rounding`): a learning rate or factor
computed from a range test, a search or a rescaling is written with three
significant digits, a per-step decay near 1 with three significant digits of
its complement. :func:`unrounded` lists the parameters that break it.
"""

from __future__ import annotations

from lrscope.policies import Policy, parse
from lrscope.policies.rounding import round_decay, round_sig


def _rounded(value: float, digits: int) -> bool:
    if value == round_sig(value, digits):
        return True
    return 0.0 < value < 1.0 and value == round_decay(value, digits)


def unrounded(policy: Policy | str, digits: int = 3) -> dict[str, float]:
    """The float parameters of ``policy`` (pieces included) with more than ``digits``
    significant digits, by name (``"pieces[1].max_lr"`` inside a composition)."""
    chosen = parse(policy) if isinstance(policy, str) else policy
    found: dict[str, float] = {}
    for name, value in chosen.explicit_params().items():
        if name == "pieces" and isinstance(value, tuple):
            for i, piece in enumerate(value):
                inner = unrounded(piece, digits)
                found.update({f"pieces[{i}].{k}": v for k, v in inner.items()})
        elif isinstance(value, float) and not _rounded(value, digits):
            found[name] = value
    return found
