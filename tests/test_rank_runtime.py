"""lrscope.rank and the runtime: a ranking row holds the trials of one runtime only.

Precision and gradient accumulation change the numbers a trial produces
(:attr:`lrscope.engine.Runtime.identity`), so a bf16 or accumulated trial of
a spec is never averaged in as one more seed of its fp32 trials: the runtime
is part of a group's identity, the ranked runtime is chosen like the ranked
budget, the others are shown apart, and ``runtime=`` keeps one runtime's
trials (what ``lrscope tune`` ranks of its own and ``lrscope rank
--precision/--grad-accum`` asks for).
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lrscope.errors import ParameterError
from lrscope.ladder import stored_ladder
from lrscope.rank import (
    TrialLike,
    aggregate,
    group_key,
    on_runtime,
    rank_trials,
    runtime_label,
    trial_runtime,
)
from lrscope.rank_table import RankingTable

RUNTIMES = ("", "accum=2", "bf16", "fp16,accum=4")


@dataclasses.dataclass(frozen=True)
class Trial:
    """A stored trial as the ranking reads it, with the identity of its runtime."""

    spec: str
    seed: int
    top1: float
    runtime: str = ""
    task: str = "t"
    steps: int = 100
    eval_every: int = 10
    status: str = "done"
    n_params: int = 1
    best_top1: float = 0.9
    best_iter: int = 10

    @property
    def diverged(self) -> bool:
        return self.status == "diverged"


@dataclasses.dataclass(frozen=True)
class Untagged:
    """A record without a ``runtime`` attribute: one of the default runtime."""

    spec: str
    seed: int
    top1: float
    task: str = "t"
    steps: int = 100
    eval_every: int = 10
    n_params: int = 1
    diverged: bool = False


def _bench_three_runtimes() -> list[Trial]:
    """FIX on seeds 0 and 1, three times: fp32, accumulation 2, bf16 (the reviewer's case)."""
    values = {"": (0.80, 0.84), "accum=2": (0.70, 0.72), "bf16": (0.60, 0.66)}
    return [
        Trial("FIX(k0=0.05)", seed, top1, runtime)
        for runtime, pair in values.items()
        for seed, top1 in enumerate(pair)
    ]


def test_trials_of_other_runtimes_are_never_more_seeds() -> None:
    rows = aggregate(_bench_three_runtimes())
    assert [(r.runtime, r.n, r.seeds) for r in rows] == [
        ("", 2, (0, 1)),
        ("accum=2", 2, (0, 1)),
        ("bf16", 2, (0, 1)),
    ]
    means = {r.runtime: r.mean["top1"] for r in rows}
    assert means == pytest.approx({"": 0.82, "accum=2": 0.71, "bf16": 0.63})
    assert rows[0].std["top1"] == pytest.approx(statistics.stdev([0.80, 0.84]))


def test_the_default_runtime_is_ranked_and_the_others_shown_apart() -> None:
    ranking = rank_trials(_bench_three_runtimes())
    assert ranking.runtime == ""
    assert [(r.spec, r.runtime, r.rank, r.n) for r in ranking.rows] == [("FIX(k0=0.05)", "", 1, 2)]
    assert [(r.runtime, r.apart, r.n) for r in ranking.apart] == [
        ("accum=2", "other runtime", 2),
        ("bf16", "other runtime", 2),
    ]
    assert not any(r.pareto for r in ranking.apart)


def test_the_runtime_of_the_most_groups_is_ranked_like_the_budget() -> None:
    records = [
        *(Trial(spec, s, 0.9 - i / 10, "bf16") for i, spec in enumerate("ABC") for s in (0, 1)),
        *(Trial("A", s, 0.99) for s in (0, 1)),  # fp32: one policy only
    ]
    ranking = rank_trials(records)
    assert ranking.runtime == "bf16"
    assert [r.spec for r in ranking.rows] == ["A", "B", "C"]
    assert {r.runtime for r in ranking.rows} == {"bf16"}
    assert [(r.spec, r.runtime, r.apart) for r in ranking.apart] == [("A", "", "other runtime")]


def test_a_given_runtime_keeps_only_its_trials() -> None:
    ranking = rank_trials(_bench_three_runtimes(), runtime="bf16")
    assert ranking.runtime == "bf16"
    assert [(r.runtime, r.n) for r in ranking.rows] == [("bf16", 2)]
    assert ranking.rows[0].mean["top1"] == pytest.approx(0.63)
    assert ranking.apart == ()
    empty = rank_trials(_bench_three_runtimes(), runtime="fp16")
    assert (empty.rows, empty.apart) == ((), ())


@pytest.mark.parametrize("bad", ["fp32", "accum=1", "fp8", "bf16,accum=0", "accum=2,bf16"])
def test_a_runtime_that_is_no_runtime_identity_is_a_parameter_error(bad: str) -> None:
    with pytest.raises(ParameterError, match="identity"):
        rank_trials(_bench_three_runtimes(), runtime=bad)


def test_the_runtime_shows_in_every_export() -> None:
    ranking = rank_trials(_bench_three_runtimes())
    columns = [(d["precision"], d["grad_accum"], d["apart"]) for d in ranking.to_dicts()]
    assert columns == [
        ("fp32", 1, None),
        ("fp32", 2, "other runtime"),
        ("bf16", 1, "other runtime"),
    ]
    header = ranking.to_csv().splitlines()[0].split(",")
    assert header[:7] == ["rank", "task", "spec", "steps", "eval_every", "precision", "grad_accum"]


def _lines(renderable: object, width: int) -> list[str]:
    from rich.console import Console

    console = Console(width=width, record=True)
    console.print(renderable)
    return console.export_text().splitlines()


def test_the_table_names_a_runtime_only_when_it_tells_something() -> None:
    one = [Trial(spec, s, 0.9) for spec in ("A", "B") for s in (0, 1)]
    plain = "\n".join(_lines(RankingTable(rank_trials(one)), 80))
    assert "runtime" not in plain
    assert "fp32" not in plain
    lines = _lines(RankingTable(rank_trials(_bench_three_runtimes())), 80)
    assert max(len(line) for line in lines) <= 80
    assert "bf16" not in lines[0]  # fp32 ranked: the title does not say so
    assert any("runtime" in line for line in lines)  # the column of the rows apart
    assert any("accum=2" in line and "other runtime" in line for line in lines)
    assert any("│ bf16 " in line for line in lines)
    bf16 = _lines(RankingTable(rank_trials(_bench_three_runtimes(), runtime="bf16")), 80)
    assert "100 steps, bf16," in bf16[0]


def test_a_record_without_a_runtime_is_of_the_default_runtime() -> None:
    records: list[TrialLike] = [
        Untagged("A", 0, 0.8),
        Untagged("A", 1, 0.9),
        Trial("A", 2, 0.5, "bf16"),
    ]
    assert [trial_runtime(r) for r in records] == ["", "", "bf16"]
    assert on_runtime(records, "") == records[:2]
    assert on_runtime(records, None) == records
    assert group_key(records[0]) == ("t", "A", 100, 10, "", False)
    (row,) = rank_trials(records).rows
    assert (row.runtime, row.n) == ("", 2)
    assert row.holds(records[0])
    assert not row.holds(records[2])
    assert [runtime_label(r) for r in RUNTIMES] == ["fp32", "accum=2", "bf16", "fp16,accum=4"]


def test_a_ladder_is_read_on_the_ranked_runtime_only() -> None:
    """FIX's shorter budgets stored on bf16 only: no ladder for the fp32 ranking."""
    full = [Trial(spec, s, 0.9, steps=800, eval_every=80)
            for spec in ("FIX(k0=0.1)", "SIN(k0=0.01, k1=0.1, l=80)") for s in (1, 2)]  # fmt: skip
    shorter = [Trial("FIX(k0=0.1)", s, 0.8, "bf16", steps=n, eval_every=n)
               for n in (100, 200, 400) for s in (1, 2)]  # fmt: skip
    assert stored_ladder(full + shorter, rank_trials(full + shorter)) is None
    same = [dataclasses.replace(t, runtime="") for t in shorter]
    tta = stored_ladder(full + same, rank_trials(full + same))
    assert tta is not None
    assert [r.steps for r in tta.rungs] == [100, 200, 400, 800]


keys = st.lists(
    st.tuples(st.sampled_from("AB"), st.integers(0, 3), st.sampled_from(RUNTIMES)),
    unique=True,
    max_size=24,
)


@settings(max_examples=60, deadline=None)
@given(keys=keys, values=st.lists(st.floats(0, 1), min_size=24, max_size=24))
def test_every_row_is_one_runtime_with_each_seed_once(
    keys: list[tuple[str, int, str]], values: list[float]
) -> None:
    """Stored keys are unique, so a row that held two runtimes would repeat a seed."""
    records = [Trial(spec, seed, v, rt) for (spec, seed, rt), v in zip(keys, values, strict=False)]
    rows = aggregate(records)
    assert sum(r.n for r in rows) == len(records)
    for row in rows:
        members = [r for r in records if row.holds(r)]
        assert {m.runtime for m in members} == {row.runtime}
        assert Counter(row.seeds) == Counter(m.seed for m in members)
        assert len(set(row.seeds)) == row.n
        assert math.isclose(row.mean["top1"], statistics.fmean(m.top1 for m in members))
