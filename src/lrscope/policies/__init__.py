"""Learning-rate policies: pure functions of the optimizer step, no torch.

Every policy of docs/policies.md is an immutable, hashable
:class:`Policy` with one canonical spec string::

    >>> from lrscope.policies import TRI2, parse
    >>> p = TRI2(k0=0.001, k1=0.006, l=2000)
    >>> p.spec
    'TRI2(k0=0.001, k1=0.006, l=2000)'
    >>> parse(p.spec) == p, p(2000), p.n_params
    (True, 0.006, 3)

Families: the 13 LRBench functions (:mod:`.lrbench`), Smith's CLR names
(:mod:`.clr`), one-cycle (:mod:`.onecycle`), SGDR (:mod:`.sgdr`), the
warmup-then-decay schedules of transformer training (:mod:`.warmup`:
warmup_cosine, linear_decay, poly_decay, wsd, inverse_sqrt), ramps
(:mod:`.ramps`) and piecewise composition (:mod:`.compose`).
"""

from __future__ import annotations

# Import order = registration order = the order of docs/policies.md.
# isort: off
from lrscope.policies.base import Policy, policy_names, registry
from lrscope.policies.lrbench import (
    COS,
    EXP,
    FIX,
    INV,
    NSTEP,
    POLY,
    SIN,
    SIN2,
    SINEXP,
    STEP,
    TRI,
    TRI2,
    TRIEXP,
)
from lrscope.policies.clr import (
    Decay,
    ExpRange,
    Triangular,
    Triangular2,
    decay,
    exp_range,
    triangular,
    triangular2,
)
from lrscope.policies.onecycle import (
    OneCycle,
    OneCycleFastai,
    OneCycleSmith,
    onecycle,
    onecycle_fastai,
    onecycle_smith,
)
from lrscope.policies.sgdr import SGDR, sgdr
from lrscope.policies.warmup import (
    WSD,
    InverseSqrt,
    LinearDecay,
    PolyDecay,
    WarmupCosine,
    inverse_sqrt,
    linear_decay,
    poly_decay,
    warmup_cosine,
    wsd,
)
from lrscope.policies.ramps import ExpRamp, LinearRamp, exp_ramp, linear_ramp
from lrscope.policies.compose import Piecewise, piecewise
from lrscope.policies.spec import parse

# isort: on

__all__ = [
    "COS",
    "EXP",
    "FIX",
    "INV",
    "NSTEP",
    "POLY",
    "SGDR",
    "SIN",
    "SIN2",
    "SINEXP",
    "STEP",
    "TRI",
    "TRI2",
    "TRIEXP",
    "WSD",
    "Decay",
    "ExpRamp",
    "ExpRange",
    "InverseSqrt",
    "LinearDecay",
    "LinearRamp",
    "OneCycle",
    "OneCycleFastai",
    "OneCycleSmith",
    "Piecewise",
    "Policy",
    "PolyDecay",
    "Triangular",
    "Triangular2",
    "WarmupCosine",
    "decay",
    "exp_ramp",
    "exp_range",
    "inverse_sqrt",
    "linear_decay",
    "linear_ramp",
    "onecycle",
    "onecycle_fastai",
    "onecycle_smith",
    "parse",
    "piecewise",
    "policy_names",
    "poly_decay",
    "registry",
    "sgdr",
    "triangular",
    "triangular2",
    "warmup_cosine",
    "wsd",
]
