"""SMS pumping against the verification guard: a seeded, fake-clock simulation of a day.

``python -m benchmarks.guard_simulation`` (``--scale 0.1`` for a short run,
``--seed N``) plays 24 hours of traffic against `FakeTextFlow` with a
`VerificationGuard` in front, for each scenario and three set-ups: the default
policy, the v1 policy (the rules the guard had before prefix, country,
conversion and growing-cooldown rules) and no guard. Nothing sleeps: the
guard, the store and the fake share one clock the simulation moves.

Traffic:

- legitimate users across 12 countries (weighted), each asking once (15 %
  twice, 40 to 120 s apart); 90 % type the latest code 10 to 120 s later;
  one IP each;
- (a) ``prefix``: a bot asks for codes to random numbers in 3 premium prefixes
  (the last 4 digits vary), from a new IP each time, never verifying;
- (b) ``country``: a bot asks for codes to random numbers all over one small
  country (+686), from a new IP each time;
- (c) ``slow``: a bot asks for 8 codes an hour, for 24 hours, spread over 5
  prefixes of one range: under every per-hour limit.

Printed per scenario and set-up: attack codes sent / attempted, legitimate
users refused (and why), money spent on attack codes (0.15 a code, TextFlow's
US price). The goals (defaults, no tuning per scenario): at least 95 % of
attack sends refused in (a) and (b), 80 % in (c), at most 1 % of legitimate
users refused. ``run()`` returns the figures; the tests run a short form.
"""

from __future__ import annotations

import argparse
import collections
import heapq
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Callable, Optional

from textflow.guard import GuardPolicy, MemoryStore, VerificationGuard, VerificationRefused
from textflow.guard._policy import Velocity
from textflow.testing import FakeTextFlow, NoCodeError

DAY = 86_400.0
START = 1_700_000_000.0
PRICE = Decimal("0.15")
SCENARIOS = ("prefix", "country", "slow")
SETUPS = ("default", "v1", "none")
GOALS = {"prefix": 0.95, "country": 0.95, "slow": 0.80}
LEGIT_REFUSED_GOAL = 0.01

# calling code, national digits, share of legitimate users
COUNTRIES = [
    ("1", 10, 30),
    ("44", 10, 12),
    ("49", 11, 10),
    ("33", 9, 8),
    ("91", 10, 10),
    ("55", 11, 8),
    ("234", 10, 5),
    ("381", 9, 3),
    ("62", 10, 6),
    ("52", 10, 5),
    ("63", 10, 3),
    ("686", 8, 0.2),  # small: the country the bot of scenario (b) pumps
]

V1 = GuardPolicy(
    cooldown_growth=1,
    velocity=Velocity(prefix_per_hour=None, prefix_per_day=None),
    prefix_conversion=None,
    country_conversion=None,
)


@dataclass
class Figures:
    """One scenario under one set-up."""

    attack_attempted: int = 0
    attack_sent: int = 0
    legit_users: int = 0
    legit_refused: int = 0
    legit_reasons: collections.Counter[str] = field(default_factory=collections.Counter)

    @property
    def attack_refused_share(self) -> float:
        return 1 - self.attack_sent / self.attack_attempted if self.attack_attempted else 0.0

    @property
    def legit_refused_share(self) -> float:
        return self.legit_refused / self.legit_users if self.legit_users else 0.0

    @property
    def attack_money(self) -> Decimal:
        return self.attack_sent * PRICE


class _Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


def _number(rng: random.Random, code: str, digits: int) -> str:
    first = str(rng.randint(2, 9))
    return "+" + code + first + "".join(str(rng.randint(0, 9)) for _ in range(digits - 1))


def _attack(scenario: str, rng: random.Random, scale: float) -> Iterator[tuple[float, str]]:
    """(time, number) of each attack request."""
    if scenario == "prefix":
        prefixes = ["+4470090012", "+4470090013", "+4470090077"]
        start, count = 3 * 3600.0, int(6000 * scale)
        for i in range(count):
            yield start + i * 7200 / count, rng.choice(prefixes) + f"{rng.randint(0, 9999):04d}"
    elif scenario == "country":
        start, count = 5 * 3600.0, int(6000 * scale)
        for i in range(count):
            yield start + i * 6 * 3600 / count, _number(rng, "686", 8)
    else:
        prefixes = [f"+4470090{n:03d}" for n in (101, 102, 103, 104, 105)]
        for i in range(192):  # 8 an hour all day, whatever the scale
            yield (
                i * 450.0 + rng.uniform(0, 60),
                rng.choice(prefixes) + f"{rng.randint(0, 9999):04d}",
            )


def simulate(scenario: str, setup: str, *, seed: int = 1, scale: float = 1.0) -> Figures:
    """One scenario under one set-up: ``"default"``, ``"v1"`` or ``"none"``."""
    rng = random.Random(f"{seed}:{scenario}")  # the same traffic for every set-up
    clock = _Clock()
    fake = FakeTextFlow(credits=Decimal("1e12"), clock=clock)
    figures = Figures()
    events: list[tuple[float, int, Callable[[], None]]] = []
    order = iter(range(10**9))

    def at(when: float, action: Callable[[], None]) -> None:
        heapq.heappush(events, (START + when, next(order), action))

    with fake.client(max_retries=0) as client:
        guard: Optional[VerificationGuard] = None
        if setup != "none":
            policy = GuardPolicy() if setup == "default" else V1
            guard = VerificationGuard(
                client, policy=policy, store=MemoryStore(), secret="simulation", clock=clock
            )

        def send(number: str, ip: str) -> Optional[str]:
            """The refusal's reason, or None when the code was sent."""
            try:
                if guard is None:
                    client.send_verification_sms(number, "Acme")
                else:
                    guard.send_code(number, service_name="Acme", client_key=ip)
            except VerificationRefused as exc:
                return exc.reason
            return None

        def check(number: str, ip: str) -> Optional[str]:
            try:
                code = fake.last_code(number)
            except NoCodeError:  # none live: the user types what they remember
                code = "0000"
            try:
                if guard is None:
                    client.verify_code(number, code)
                else:
                    guard.check_code(number, code, client_key=ip)
            except VerificationRefused as exc:
                return exc.reason
            return None

        weights = [share for _, _, share in COUNTRIES]
        users = int(20_000 * scale)
        figures.legit_users = users
        for user in range(users):
            code, digits, _ = rng.choices(COUNTRIES, weights)[0]
            number, ip = (
                _number(rng, code, digits),
                f"10.{user >> 16}.{(user >> 8) & 255}.{user & 255}",
            )
            begin = rng.uniform(0, DAY - 600)
            twice, verifies = rng.random() < 0.15, rng.random() < 0.9
            second = begin + rng.uniform(40, 120)
            typed = (second if twice else begin) + rng.uniform(10, 120)
            outcome: list[str] = []

            def step(number: str = number, ip: str = ip, outcome: list[str] = outcome) -> None:
                reason = send(number, ip)
                if reason is not None:
                    outcome.append(reason)

            def verify(number: str = number, ip: str = ip, outcome: list[str] = outcome) -> None:
                reason = check(number, ip)
                if reason is not None:
                    outcome.append(reason)
                if outcome:
                    figures.legit_refused += 1
                    figures.legit_reasons[outcome[0]] += 1

            def tally(outcome: list[str] = outcome) -> None:
                if outcome:
                    figures.legit_refused += 1
                    figures.legit_reasons[outcome[0]] += 1

            at(begin, step)
            if twice:
                at(second, step)
            at(typed, verify if verifies else tally)
        for when, number in _attack(scenario, rng, scale):
            ip = ".".join(str(rng.randint(1, 254)) for _ in range(4))

            def pump(number: str = number, ip: str = ip) -> None:
                figures.attack_attempted += 1
                if send(number, ip) is None:
                    figures.attack_sent += 1

            at(when, pump)
        while events:
            when, _, action = heapq.heappop(events)
            clock.now = when
            action()
    return figures


def run(*, seed: int = 1, scale: float = 1.0) -> dict[tuple[str, str], Figures]:
    """Every scenario under every set-up."""
    return {
        (scenario, setup): simulate(scenario, setup, seed=seed, scale=scale)
        for scenario in SCENARIOS
        for setup in SETUPS
    }


def table(results: dict[tuple[str, str], Figures]) -> str:
    """The results as a Markdown table."""
    lines = [
        "| scenario | guard | attack codes sent / attempted | attack sends refused "
        "| legitimate users refused | money spent on attacks |",
        "|---|---|---|---|---|---|",
    ]
    for (scenario, setup), f in results.items():
        reasons = ", ".join(f"{r} {n}" for r, n in f.legit_reasons.most_common())
        lines.append(
            f"| {scenario} | {setup} | {f.attack_sent:,} / {f.attack_attempted:,} "
            f"| {f.attack_refused_share:.1%} | {f.legit_refused} of {f.legit_users:,} "
            f"({f.legit_refused_share:.2%}){': ' + reasons if reasons else ''} "
            f"| {f.attack_money:,.2f} |"
        )
    return "\n".join(lines)


def goals_met(results: dict[tuple[str, str], Figures]) -> list[str]:
    """The goals the default policy misses (empty when all are met)."""
    missed = []
    for scenario in SCENARIOS:
        f = results[(scenario, "default")]
        if f.attack_refused_share < GOALS[scenario]:
            missed.append(f"{scenario}: {f.attack_refused_share:.1%} of attack sends refused")
        if f.legit_refused_share > LEGIT_REFUSED_GOAL:
            missed.append(f"{scenario}: {f.legit_refused_share:.2%} of legitimate users refused")
    return missed


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--scale", type=float, default=1.0, help="traffic; 1 = 20,000 users")
    args = parser.parse_args(argv)
    results = run(seed=args.seed, scale=args.scale)
    print(table(results))
    missed = goals_met(results)
    print("\nGoals: " + ("all met" if not missed else "missed: " + "; ".join(missed)))
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
