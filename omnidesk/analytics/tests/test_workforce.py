"""Tests for analytics.workforce: the published worked example, edge cases and Erlang C properties."""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omnidesk.analytics.workforce import (
    Staffing,
    agents_needed,
    average_speed_of_answer,
    erlang_c,
    occupancy,
    service_level,
    traffic_intensity,
)

PROPERTY_SETTINGS = settings(max_examples=200, deadline=None)


def closed_form_erlang_c(agents: int, traffic: Fraction) -> float:
    """Textbook Erlang C in exact rational arithmetic, for small agent counts."""
    top = traffic**agents / math.factorial(agents) * agents / (agents - traffic)
    bottom = sum(traffic**k / math.factorial(k) for k in range(agents)) + top
    return float(top / bottom)


def log_space_erlang_c(agents: int, traffic: float) -> float:
    """Erlang C from log-terms (lgamma + log-sum-exp): an independent check for large counts."""
    logs = [k * math.log(traffic) - math.lgamma(k + 1) for k in range(agents)]
    log_top = agents * math.log(traffic) - math.lgamma(agents + 1) + math.log(agents / (agents - traffic))
    peak = max(*logs, log_top)
    total = sum(math.exp(term - peak) for term in logs) + math.exp(log_top - peak)
    return math.exp(log_top - peak) / total


class TestPublishedExample:
    """100 contacts per 30 minutes, 180 s handle time, 80 % answered in 20 s."""

    def test_agents_needed(self) -> None:
        staffing = agents_needed(
            calls=100,
            interval_seconds=1800,
            aht=180,
            target_service_level=0.8,
            target_seconds=20,
            max_occupancy=0.85,
            shrinkage=0.3,
        )
        assert staffing.agents == 14
        assert staffing.scheduled == 20
        assert round(staffing.service_level, 4) == 0.8884
        assert round(staffing.occupancy, 4) == 0.7143
        assert round(staffing.probability_waiting, 4) == 0.1741
        assert round(staffing.asa_seconds, 1) == 7.8
        assert staffing.traffic == 10

    def test_building_blocks(self) -> None:
        assert traffic_intensity(100, 1800, 180) == 10
        assert round(erlang_c(14, 10), 4) == 0.1741
        assert round(service_level(14, 10, 180, 20), 4) == 0.8884
        assert round(occupancy(14, 10), 4) == 0.7143
        assert round(average_speed_of_answer(14, 10, 180), 1) == 7.8
        # One agent fewer misses the target: 13 agents answer 79.56 % in 20 s.
        assert round(service_level(13, 10, 180, 20), 4) == 0.7956

    def test_occupancy_cap_can_be_what_decides(self) -> None:
        staffing = agents_needed(
            100, 1800, 180, target_service_level=0.8, target_seconds=20, max_occupancy=0.6
        )
        assert staffing.agents == 17  # 10 Erlangs at no more than 60 % busy
        assert staffing.occupancy <= 0.6

    def test_decimal_inputs_from_database_aggregates(self) -> None:
        staffing = agents_needed(Decimal(100), 1800, Decimal("180.0"), Decimal("0.8"), 20, 0.85, 0.3)
        assert (staffing.agents, staffing.scheduled) == (14, 20)


class TestEdgeCases:
    def test_no_contacts_need_no_agents(self) -> None:
        assert agents_needed(0, 1800, 180, 0.8, 20, shrinkage=0.3) == Staffing(
            agents=0,
            scheduled=0,
            service_level=1.0,
            occupancy=0.0,
            probability_waiting=0.0,
            asa_seconds=0.0,
            traffic=0.0,
        )

    def test_no_traffic(self) -> None:
        assert erlang_c(0, 0) == 0
        assert service_level(0, 0, 180, 20) == 1
        assert average_speed_of_answer(0, 0, 180) == 0
        assert occupancy(3, 0) == 0

    def test_overloaded_queue(self) -> None:
        # With no more agents than Erlangs the queue never drains.
        assert erlang_c(10, 10) == 1
        assert erlang_c(0, 0.5) == 1
        assert service_level(10, 10.5, 180, 20) == 0
        assert average_speed_of_answer(10, 10, 180) == math.inf
        assert occupancy(5, 10) == 1

    def test_float_noise_does_not_cost_an_agent(self) -> None:
        # 2.1 Erlangs at 70 % is 3 agents (2.1 / 0.7 = 3.0000000000000004 in floats);
        # 3 agents at 80 % shrinkage is 15 scheduled (3 / 0.2 = 15.000000000000004).
        staffing = agents_needed(21, 3600, 360, 0.0, 20, max_occupancy=0.7, shrinkage=0.8)
        assert (staffing.agents, staffing.scheduled) == (3, 15)

    def test_hundreds_of_agents(self) -> None:
        assert erlang_c(500, 480) == pytest.approx(log_space_erlang_c(500, 480), rel=1e-9)
        staffing = agents_needed(10_000, 1800, 300, 0.9, 15, max_occupancy=0.95)
        assert staffing.agents > staffing.traffic > 1666
        assert staffing.service_level >= 0.9
        assert service_level(staffing.agents - 1, staffing.traffic, 300, 15) < 0.9 or (
            occupancy(staffing.agents - 1, staffing.traffic) > 0.95
        )

    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            ({"calls": -1}, "calls must not be negative"),
            ({"calls": math.nan}, "calls must be finite"),
            ({"calls": "100"}, "calls must be a number"),
            ({"interval_seconds": 0}, "interval_seconds must be positive"),
            ({"aht": 0}, "aht_seconds must be positive"),
            ({"aht": math.inf}, "finite"),
            ({"target_service_level": 1}, "below 1"),
            ({"target_service_level": 1.2}, "between 0 and 1"),
            ({"target_seconds": -5}, "target_seconds"),
            ({"max_occupancy": 0}, "above 0"),
            ({"max_occupancy": 1.5}, "between 0 and 1"),
            ({"shrinkage": 1}, "below 1"),
            ({"shrinkage": -0.1}, "between 0 and 1"),
        ],
    )
    def test_agents_needed_rejects_bad_input(self, kwargs: dict[str, object], message: str) -> None:
        arguments: dict[str, object] = {
            "calls": 100,
            "interval_seconds": 1800,
            "aht": 180,
            "target_service_level": 0.8,
            "target_seconds": 20,
        }
        with pytest.raises(ValueError, match=message):
            agents_needed(**(arguments | kwargs))  # type: ignore[arg-type]

    @pytest.mark.parametrize("agents", [-1, 2.5, True, "3", None])
    def test_agents_must_be_a_whole_number(self, agents: object) -> None:
        with pytest.raises(ValueError, match="agents must be a non-negative integer"):
            erlang_c(agents, 1.0)  # type: ignore[arg-type]

    def test_other_functions_validate(self) -> None:
        with pytest.raises(ValueError, match="traffic"):
            occupancy(3, -1)
        with pytest.raises(ValueError, match="aht_seconds"):
            service_level(3, 1, 0, 20)
        with pytest.raises(ValueError, match="target_seconds"):
            service_level(3, 1, 180, -1)
        with pytest.raises(ValueError, match="aht_seconds"):
            average_speed_of_answer(3, 1, -180)


traffics = st.floats(min_value=0.01, max_value=300, allow_nan=False)


@PROPERTY_SETTINGS
@given(st.integers(1, 60), st.fractions(min_value=Fraction(1, 100), max_value=60, max_denominator=100))
def test_matches_closed_form(agents: int, traffic: Fraction) -> None:
    if agents <= traffic:
        assert erlang_c(agents, float(traffic)) == 1
    else:
        assert erlang_c(agents, float(traffic)) == pytest.approx(
            closed_form_erlang_c(agents, traffic), rel=1e-9
        )


@PROPERTY_SETTINGS
@given(traffics, st.integers(0, 20), st.floats(1, 1200), st.floats(0, 300))
def test_more_agents_never_hurt(traffic: float, extra: int, aht: float, target: float) -> None:
    fewer = math.floor(traffic) + 1 + extra
    more = fewer + 1
    assert erlang_c(more, traffic) < erlang_c(fewer, traffic)
    assert service_level(more, traffic, aht, target) >= service_level(fewer, traffic, aht, target)
    assert average_speed_of_answer(more, traffic, aht) < average_speed_of_answer(fewer, traffic, aht)
    assert occupancy(more, traffic) < occupancy(fewer, traffic)
    assert 0 < erlang_c(fewer, traffic) < 1
    assert 0 <= service_level(fewer, traffic, aht, target) <= 1


@PROPERTY_SETTINGS
@given(
    st.floats(0.1, 5000),
    st.floats(60, 7200),
    st.floats(10, 1800),
    st.floats(0.05, 0.99),
    st.floats(0, 120),
    st.floats(0.5, 1),
    st.floats(0, 0.6),
)
def test_agents_needed_is_the_smallest_sufficient_team(
    calls: float,
    interval: float,
    aht: float,
    level: float,
    target: float,
    max_occupancy: float,
    shrinkage: float,
) -> None:
    staffing = agents_needed(calls, interval, aht, level, target, max_occupancy, shrinkage)
    traffic = traffic_intensity(calls, interval, aht)
    assert staffing.traffic == traffic
    assert staffing.agents > traffic
    assert staffing.service_level >= level
    assert staffing.occupancy <= max_occupancy + 1e-9
    assert staffing.scheduled >= staffing.agents
    assert staffing.scheduled == pytest.approx(staffing.agents / (1 - shrinkage), abs=1)
    assert staffing.probability_waiting == pytest.approx(erlang_c(staffing.agents, traffic))
    assert staffing.asa_seconds == pytest.approx(average_speed_of_answer(staffing.agents, traffic, aht))
    fewer = staffing.agents - 1
    assert (
        fewer <= traffic
        or service_level(fewer, traffic, aht, target) < level
        or occupancy(fewer, traffic) > max_occupancy + 1e-9
    )
