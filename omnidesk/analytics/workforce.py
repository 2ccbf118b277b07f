"""Erlang C staffing maths: agents needed, service level and expected waits.

Pure Python (no Django). Model: Poisson arrivals, exponential handle times, infinite patience
(M/M/N). See docs/workforce.md.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass
from decimal import Decimal

__all__ = [
    "Number",
    "Staffing",
    "agents_needed",
    "average_speed_of_answer",
    "erlang_c",
    "occupancy",
    "service_level",
    "traffic_intensity",
]


# Inputs may come straight from database aggregates, which are Decimal.
Number = float | Decimal


@dataclass(frozen=True)
class Staffing:
    """Result of `agents_needed`; rates are fractions in [0, 1], times in seconds."""

    agents: int  # on the phones at once, before shrinkage
    scheduled: int  # agents / (1 - shrinkage), rounded up
    service_level: float
    occupancy: float
    probability_waiting: float
    asa_seconds: float
    traffic: float  # Erlangs


def traffic_intensity(calls: Number, interval_seconds: Number, aht_seconds: Number) -> float:
    """Offered load in Erlangs: calls * AHT / interval length."""
    count = _non_negative("calls", calls)
    interval = _positive("interval_seconds", interval_seconds)
    handle = _positive("aht_seconds", aht_seconds)
    return count * handle / interval


def erlang_c(agents: int, traffic: Number) -> float:
    """Probability that a contact has to wait (Erlang C).

    1.0 when agents <= traffic (the queue grows without bound) and 0.0 without traffic.
    """
    servers, load = _load(agents, traffic)
    if load == 0:
        return 0.0
    if servers <= load:
        return 1.0
    return _erlang_c_from_b(servers, load, _erlang_b(servers, load))


def service_level(agents: int, traffic: Number, aht_seconds: Number, target_seconds: Number) -> float:
    """Fraction of contacts answered within `target_seconds`; 0 when agents <= traffic."""
    servers, load = _load(agents, traffic)
    handle = _positive("aht_seconds", aht_seconds)
    target = _non_negative("target_seconds", target_seconds)
    if load == 0:
        return 1.0
    if servers <= load:
        return 0.0
    return _service_level(servers, load, erlang_c(servers, load), handle, target)


def average_speed_of_answer(agents: int, traffic: Number, aht_seconds: Number) -> float:
    """Mean wait in seconds over all contacts (ASA); infinite when agents <= traffic."""
    servers, load = _load(agents, traffic)
    handle = _positive("aht_seconds", aht_seconds)
    if load == 0:
        return 0.0
    if servers <= load:
        return math.inf
    return erlang_c(servers, load) * handle / (servers - load)


def occupancy(agents: int, traffic: Number) -> float:
    """Fraction of agent time spent handling contacts, traffic / agents, capped at 1."""
    servers, load = _load(agents, traffic)
    if load == 0:
        return 0.0
    # Past 100 % agents cannot get busier; the queue grows instead.
    return 1.0 if servers <= load else load / servers


def agents_needed(
    calls: Number,
    interval_seconds: Number,
    aht: Number,
    target_service_level: Number,
    target_seconds: Number,
    max_occupancy: Number = 1.0,
    shrinkage: Number = 0.0,
) -> Staffing:
    """The fewest agents meeting the service level target without exceeding `max_occupancy`.

    `aht` is in seconds; `shrinkage` is the fraction of paid time off the phones (breaks,
    training). Zero calls need zero agents.
    """
    traffic = traffic_intensity(calls, interval_seconds, aht)
    handle = float(aht)
    target = _non_negative("target_seconds", target_seconds)
    level_wanted = _fraction("target_service_level", target_service_level)
    if level_wanted == 1:
        # Erlang C never reaches 100 %: every contact has some chance to wait.
        raise ValueError("target_service_level must be below 1")
    occupancy_cap = _fraction("max_occupancy", max_occupancy)
    if occupancy_cap == 0:
        raise ValueError("max_occupancy must be above 0")
    off_phone = _fraction("shrinkage", shrinkage)
    if off_phone == 1:
        raise ValueError("shrinkage must be below 1")
    if traffic == 0:
        return Staffing(
            agents=0,
            scheduled=0,
            service_level=1.0,
            occupancy=0.0,
            probability_waiting=0.0,
            asa_seconds=0.0,
            traffic=0.0,
        )

    # Start at the first stable size that respects the occupancy cap. Rounding before ceil
    # (here and for `scheduled`) stops float noise such as 4.2 / 0.7 = 6.000000000000001
    # from costing an agent.
    agents = max(math.floor(traffic) + 1, math.ceil(round(traffic / occupancy_cap, 9)))
    blocking = _erlang_b(agents, traffic)
    while True:
        waiting = _erlang_c_from_b(agents, traffic, blocking)
        level = _service_level(agents, traffic, waiting, handle, target)
        if level >= level_wanted:
            break
        # Service level rises with every agent and tends to 1, so this terminates.
        agents += 1
        blocking = _erlang_b_step(agents, traffic, blocking)
    return Staffing(
        agents=agents,
        scheduled=math.ceil(round(agents / (1 - off_phone), 9)),
        service_level=level,
        occupancy=traffic / agents,
        probability_waiting=waiting,
        asa_seconds=waiting * handle / (agents - traffic),
        traffic=traffic,
    )


def _erlang_b(agents: int, traffic: float) -> float:
    # The recurrence B(n) = A·B(n-1) / (n + A·B(n-1)) avoids the factorials and powers of the
    # closed form, which overflow long before hundreds of agents.
    blocking = 1.0
    for n in range(1, agents + 1):
        blocking = _erlang_b_step(n, traffic, blocking)
    return blocking


def _erlang_b_step(agents: int, traffic: float, previous: float) -> float:
    return traffic * previous / (agents + traffic * previous)


def _erlang_c_from_b(agents: int, traffic: float, blocking: float) -> float:
    # Standard identity C = N·B / (N - A·(1 - B)), valid for N > A.
    return agents * blocking / (agents - traffic * (1 - blocking))


def _service_level(agents: int, traffic: float, waiting: float, aht: float, target: float) -> float:
    level = 1 - waiting * math.exp(-(agents - traffic) * target / aht)
    return min(1.0, max(0.0, level))


def _load(agents: int, traffic: Number) -> tuple[int, float]:
    return _check_agents(agents), _non_negative("traffic", traffic)


def _check_agents(agents: int) -> int:
    # operator.index accepts int-like values (numpy integers) but not floats such as 12.5.
    try:
        count = operator.index(agents)
    except TypeError:
        raise ValueError(f"agents must be a non-negative integer, got {agents!r}") from None
    if isinstance(agents, bool) or count < 0:
        raise ValueError(f"agents must be a non-negative integer, got {agents!r}")
    return count


def _number(name: str, value: Number) -> float:
    # Database aggregates arrive as Decimal; strings and booleans are mistakes, not numbers.
    if isinstance(value, bool | str | bytes):
        raise ValueError(f"{name} must be a number, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return number


def _non_negative(name: str, value: Number) -> float:
    number = _number(name, value)
    if number < 0:
        raise ValueError(f"{name} must not be negative, got {value!r}")
    return number


def _positive(name: str, value: Number) -> float:
    number = _number(name, value)
    if number <= 0:
        raise ValueError(f"{name} must be positive, got {value!r}")
    return number


def _fraction(name: str, value: Number) -> float:
    number = _number(name, value)
    if not 0 <= number <= 1:
        raise ValueError(f"{name} must be between 0 and 1, got {value!r}")
    return number
