"""Automatic tuning: range test -> candidates -> pruned cheap trials -> full trials -> ranking."""

from __future__ import annotations

from lrscope.tune.candidates import LRBounds, candidate_policies, cycle_step_size
from lrscope.tune.pipeline import (
    CandidateOutcome,
    TimeToAccuracy,
    TuneResult,
    time_to_accuracy,
    tune,
)

__all__ = [
    "CandidateOutcome",
    "LRBounds",
    "TimeToAccuracy",
    "TuneResult",
    "candidate_policies",
    "cycle_step_size",
    "time_to_accuracy",
    "tune",
]
