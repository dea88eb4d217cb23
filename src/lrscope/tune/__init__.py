"""Automatic tuning: range test -> candidates -> pruned cheap trials -> full trials -> ranking."""

from __future__ import annotations

from lrscope.tune.candidates import LRBounds, candidate_policies, cycle_step_size
from lrscope.tune.pipeline import DEFAULT_MAX_EPOCHS, CandidateOutcome, TuneResult, tune
from lrscope.tune.select import DEFAULT_TIE, TimeToAccuracy, Winner, pick_winner, time_to_accuracy

__all__ = [
    "DEFAULT_MAX_EPOCHS",
    "DEFAULT_TIE",
    "CandidateOutcome",
    "LRBounds",
    "TimeToAccuracy",
    "TuneResult",
    "Winner",
    "candidate_policies",
    "cycle_step_size",
    "pick_winner",
    "time_to_accuracy",
    "tune",
]
