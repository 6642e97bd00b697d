"""The pumping simulation, short and seeded: the default policy meets the goal figures."""

from __future__ import annotations

import pytest

from benchmarks.guard_simulation import GOALS, LEGIT_REFUSED_GOAL, SCENARIOS, simulate


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_the_simulation_meets_its_goals(scenario: str) -> None:
    """2,000 users and a tenth of the attack (the slow one whole): the goals hold."""
    figures = simulate(scenario, "default", seed=1, scale=0.1)
    assert figures.attack_refused_share >= GOALS[scenario]
    assert figures.legit_refused_share <= LEGIT_REFUSED_GOAL
