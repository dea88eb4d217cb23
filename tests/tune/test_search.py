"""The search rounds: centres first, seeded and replayable, what the sampler is told."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import pytest

from lrscope.errors import LRScopeError, ParameterError
from lrscope.metrics import get_metric
from lrscope.policies import parse
from lrscope.tune.search import Outcome, SearchPoint, run_search
from lrscope.tune.space import FAMILIES, LRBounds, SearchSpace

SPACE = SearchSpace(LRBounds(suggested_lr=0.1, min_lr=0.02, max_lr=0.2, peak_lr=0.3), 960, 32)
TOP1 = get_metric("top1")


def objective(spec: str) -> Outcome:
    """A smooth made-up accuracy: best near a mean lr of 0.12 over the budget."""
    policy = parse(spec)
    lr = sum(policy(t) for t in range(0, 960, 10)) / 96
    return Outcome("done", 0.97 - 0.05 * abs(math.log(lr / 0.12)))


class Trainer:
    """A run_round that remembers what it trained (a store, as tune's is)."""

    def __init__(self, stop_after: int | None = None) -> None:
        self.trained: list[str] = []
        self.stop_after = stop_after

    def __call__(self, specs: Sequence[str]) -> Mapping[str, Outcome]:
        if self.stop_after is not None and len(self.trained) >= self.stop_after:
            raise KeyboardInterrupt
        self.trained.extend(specs)
        return {spec: objective(spec) for spec in specs}


def search(trainer: Trainer, **kwargs: object) -> list[SearchPoint]:
    args: dict[str, object] = {"trials": 40, "round_size": 16, "seed": 0, "metric": TOP1}
    args.update(kwargs)
    return run_search(SPACE, trainer, **args)  # type: ignore[arg-type]


def test_every_family_centre_first_then_one_sampled_point_of_every_family() -> None:
    points = search(Trainer())
    first, second = points[:16], points[16:32]
    assert [p.family for p in first] == list(FAMILIES)
    assert [p.spec for p in first] == [SPACE.build(SPACE.centre(f)).spec for f in FAMILIES]
    assert [p.family for p in second] == list(FAMILIES)
    assert all(p.proposal != SPACE.centre(p.family) for p in second)  # sampled, not centres
    assert [p.round for p in points] == [0] * 16 + [1] * 16 + [2] * 8
    assert [p.number for p in points] == list(range(40))


def test_a_seeded_search_is_the_same_every_time_and_a_resumed_one_replays_it() -> None:
    whole = search(Trainer())
    assert [p.spec for p in search(Trainer())] == [p.spec for p in whole]
    killed = Trainer(stop_after=20)  # killed during the second round
    with pytest.raises(KeyboardInterrupt):
        search(killed)
    stored = set(killed.trained)
    resumed = Trainer()
    points = search(resumed)
    assert [p.spec for p in points] == [p.spec for p in whole]
    assert [p.told for p in points] == [p.told for p in whole]
    assert stored <= set(resumed.trained)  # the store would skip these: same keys


def test_another_seed_or_sampler_searches_elsewhere() -> None:
    base = [p.spec for p in search(Trainer())]
    assert [p.spec for p in search(Trainer(), seed=1)][16:] != base[16:]
    random = search(Trainer(), sampler="random")
    assert [p.spec for p in random][:16] == base[:16]  # the same centres
    assert [p.spec for p in random][16:] != base[16:]
    assert [p.family for p in random][16:32] == list(FAMILIES)  # the same second look


def test_tpe_moves_towards_the_good_region() -> None:
    points = search(Trainer(), trials=80)
    first = [p.told for p in points if p.round == 1 and p.told is not None]
    last = [p.told for p in points if p.round == 4 and p.told is not None]
    assert sum(last) / len(last) > sum(first) / len(first)


def test_a_spec_sampled_twice_trains_once() -> None:
    trainer = Trainer()
    points = search(trainer, trials=48)
    assert len(trainer.trained) == len(set(trainer.trained)) == len({p.spec for p in points})


def test_diverged_points_are_told_the_worst_value_and_failed_ones_fail() -> None:
    def run_round(specs: Sequence[str]) -> dict[str, Outcome]:
        out = {}
        for spec in specs:
            if spec.startswith("sgdr"):
                out[spec] = Outcome("failed", math.nan)
            elif spec.startswith("EXP"):
                out[spec] = Outcome("diverged", 0.99)  # looked good before blowing up
            else:
                out[spec] = objective(spec)
        return out

    points = run_search(SPACE, run_round, trials=16, round_size=16, seed=0, metric=TOP1)
    by_family = {p.family: p for p in points}
    assert by_family["sgdr"].told is None
    worst = min(p.told for p in points if p.told is not None and p.family != "EXP")
    assert by_family["EXP"].told == worst


def test_a_round_where_every_trial_fails_stops_the_search() -> None:
    def broken(specs: Sequence[str]) -> dict[str, Outcome]:
        return {spec: Outcome("failed", math.nan) for spec in specs}

    with pytest.raises(LRScopeError, match="every trial of search round 1 failed"):
        run_search(SPACE, broken, trials=16, round_size=16, seed=0, metric=TOP1)


def test_bad_arguments_are_named() -> None:
    for kwargs, name in (({"trials": 0}, "trials"), ({"round_size": 0}, "round_size"),
                         ({"sampler": "grid"}, "sampler"), ({"seed": -1}, "seed")):  # fmt: skip
        with pytest.raises(ParameterError, match=f"'{name}' parameter of the tune search"):
            search(Trainer(), **kwargs)
