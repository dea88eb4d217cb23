"""The search of :func:`lrscope.tune.tune`: ask a sampler for a round of points, train
the round together, tell the sampler, repeat.

The space is :class:`lrscope.tune.space.SearchSpace` (every family around the
range test). The points are asked in this order:

1. the centre of every family (the range test's own candidate), so the first
   round measures what the range test alone would give;
2. one sampled point of every family (the family fixed, its parameters
   sampled): one seed's result is noisy (on MNIST-1D the final top-1 of one
   policy varies by about 0.005 from seed to seed, as much as the best
   families differ), and a sampler left free after the first round follows
   whichever family was luckiest there; a second look at every family makes
   the search robust to that;
3. then the sampler alone, over the families and their parameters.

Each round asks ``round_size`` points at once, before any is told: those
trials train together (in groups of K, :mod:`lrscope.batched`, on every
worker), which is what makes a search of 50 full-budget trials affordable.
The sampler is Optuna's TPE (Bergstra et al. 2011) with

- ``multivariate=True, group=True``: the parameters that appear together
  (one family's) are modelled jointly, and the conditional space (a
  family, then its parameters) is split into those groups;
- ``constant_liar=True``: points asked while others of the round are still
  running are kept away from them (the running ones count as bad), so one
  round does not ask the same region sixteen times.

``benchmarks/sampler_choice.py`` measures this choice against random
sampling of the same space on seeds the search never saw (its results are
in ``benchmarks/results/sampler_choice.md``).

Determinism: the sampler is seeded and a round's points depend only on the
values told before it. A resumed tune asks the same points in the same
order, finds their trials stored and tells the same values, so it replays the
interrupted search exactly and goes on from where it stopped.

The objective is the trial's final value of the ranking metric on the search
seed, in the metric's direction. A diverged trial is told the worst value of
the search so far, its own round included (its last evaluation before
blowing up can look good, and the sampler must learn to stay away); a failed
trial is told as failed.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lrscope.errors import LRScopeError, ParameterError
from lrscope.validation import COUNT, SEED, Choice, check

if TYPE_CHECKING:  # pragma: no cover
    import optuna

    from lrscope.metrics import Metric
    from lrscope.tune.space import Proposal, SearchSpace

__all__ = ["SAMPLERS", "Outcome", "SearchPoint", "make_sampler", "run_search"]

log = logging.getLogger(__name__)

SAMPLERS = ("tpe", "random")
"""``tpe``: the default (see the module docstring); ``random``: what it is measured against."""


@dataclass(frozen=True)
class Outcome:
    """A trained point: ``status`` ``done``, ``diverged`` or ``failed``, and its final
    metric ``value`` (NaN when failed)."""

    status: str
    value: float


@dataclass(frozen=True)
class SearchPoint:
    """One point of the search, in ask order: its ``number``, the sampled ``proposal``,
    the ``spec`` trained, the trial's ``outcome`` and the ``told`` value (None: failed)."""

    number: int
    round: int
    proposal: Proposal
    spec: str
    outcome: Outcome
    told: float | None

    @property
    def family(self) -> str:
        return self.proposal.family

    def to_dict(self) -> dict[str, Any]:
        value = self.outcome.value
        return {
            "number": self.number,
            "round": self.round,
            "family": self.family,
            "params": dict(self.proposal.params),
            "spec": self.spec,
            "status": self.outcome.status,
            "value": value if math.isfinite(value) else None,
            "told": self.told,
        }


RunRound = Callable[[Sequence[str]], Mapping[str, Outcome]]
"""Trains the given specs (new ones only) and returns each one's :class:`Outcome`."""
RoundFn = Callable[[int, int, Sequence["SearchPoint"]], None]
"""Called after every round: ``(round number, rounds planned, points so far)``."""


def make_sampler(name: str, seed: int) -> optuna.samplers.BaseSampler:
    """The seeded sampler called ``name`` (:data:`SAMPLERS`)."""
    import optuna

    name = check("the tune search", "sampler", name, Choice(SAMPLERS))
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    with warnings.catch_warnings():  # multivariate and group are marked experimental
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.TPESampler(
            seed=seed, multivariate=True, group=True, constant_liar=True
        )


def _told(outcome: Outcome, finite: Sequence[float], metric: Metric) -> float | None:
    """What the sampler is told: the value, or for a diverged trial the worst told so far."""
    if outcome.status == "done" and math.isfinite(outcome.value):
        return outcome.value
    candidates = [*finite, outcome.value] if math.isfinite(outcome.value) else list(finite)
    if outcome.status != "diverged" or not candidates:
        return None
    return min(candidates) if metric.higher_is_better else max(candidates)


def run_search(
    space: SearchSpace,
    run_round: RunRound,
    *,
    trials: int,
    round_size: int,
    seed: int,
    metric: Metric,
    sampler: str = "tpe",
    on_round: RoundFn | None = None,
) -> list[SearchPoint]:
    """Sample ``trials`` points of ``space`` in rounds of ``round_size``; see the module.

    ``run_round`` trains a round's new specs (a spec sampled twice trains
    once; both points are told its value). Returns every point in ask order.

    Raises:
        ParameterError: ``trials`` or ``round_size`` < 1, a bad ``seed`` or ``sampler``.
    """
    import optuna

    owner = "the tune search"
    trials = check(owner, "trials", trials, COUNT)
    round_size = check(owner, "round_size", round_size, COUNT)
    seed = check(owner, "seed", seed, SEED)
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # failed trials are reported by tune
    study = optuna.create_study(
        direction="maximize" if metric.higher_is_better else "minimize",
        sampler=make_sampler(sampler, seed),
    )
    for family in space.families:
        study.enqueue_trial({"family": family, **space.centre(family).params})
    for family in space.families:
        study.enqueue_trial({"family": family})
    points: list[SearchPoint] = []
    known: dict[str, Outcome] = {}
    rounds = math.ceil(trials / round_size)
    for index in range(rounds):
        asked = [study.ask() for _ in range(min(round_size, trials - len(points)))]
        proposals = [space.suggest(trial) for trial in asked]
        specs = [space.build(proposal).spec for proposal in proposals]
        new = [spec for spec in dict.fromkeys(specs) if spec not in known]
        if new:
            outcomes = run_round(new)
            missing = [spec for spec in new if spec not in outcomes]
            if missing:
                raise ParameterError(owner, "run_round", "an outcome for every spec", missing)
            known.update({spec: outcomes[spec] for spec in new})
            if len(new) > 1 and all(known[spec].status == "failed" for spec in new):
                raise LRScopeError(
                    f"every trial of search round {index + 1} failed ({len(new)} trials); "
                    "their errors are stored (lrscope db info, the report)"
                )
        finite = [p.told for p in points if p.told is not None]
        finite += [known[s].value for s in specs if known[s].status == "done"]
        finite = [v for v in finite if math.isfinite(v)]
        for trial, proposal, spec in zip(asked, proposals, specs, strict=True):
            told = _told(known[spec], finite, metric)
            if told is None:
                study.tell(trial, state=optuna.trial.TrialState.FAIL)
            else:
                study.tell(trial, told)
            points.append(SearchPoint(len(points), index, proposal, spec, known[spec], told))
        if on_round is not None:
            on_round(index + 1, rounds, points)
    return points
