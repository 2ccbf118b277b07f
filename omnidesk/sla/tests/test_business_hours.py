"""Tests for sla.business_hours: worked examples plus properties against a brute-force reference."""

from __future__ import annotations

import copy
import dataclasses
import pickle
import time as timer
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omnidesk.sla.business_hours import (
    Schedule,
    WeeklyHours,
    add_business_time,
    business_time_between,
    is_open,
    next_close,
    next_open,
)

ROME = ZoneInfo("Europe/Rome")
NEW_YORK = ZoneInfo("America/New_York")
SYDNEY = ZoneInfo("Australia/Sydney")
LOS_ANGELES = ZoneInfo("America/Los_Angeles")
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
OFFICE_HOURS: WeeklyHours = {weekday: [(time(9), time(17))] for weekday in range(5)}
ALL_DAY: WeeklyHours = {weekday: [("00:00", "24:00")] for weekday in range(7)}

# The reference comparison is the thorough one; the identities are cheaper to check but each
# example walks days of schedule, so they get fewer examples to keep the suite quick.
REFERENCE_SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PROPERTY_SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def local(
    zone: ZoneInfo,
    year: int,
    month: int,
    day: int,
    hour: int = 0,
    minute: int = 0,
    second: int = 0,
    *,
    fold: int = 0,
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=zone, fold=fold)


def office(zone: str = "Europe/Rome", **kwargs: object) -> Schedule:
    return Schedule(zone, OFFICE_HOURS, **kwargs)  # type: ignore[arg-type]  # keyword pass-through


# --- Worked examples -------------------------------------------------------------------------------


class TestAddBusinessTime:
    def test_friday_afternoon_rolls_over_the_weekend(self) -> None:
        result = add_business_time(office(), local(ROME, 2026, 1, 9, 16), 2 * HOUR)
        assert result == local(ROME, 2026, 1, 12, 10)
        assert result.tzinfo is UTC

    def test_reaching_closing_time_exactly_returns_closing_time(self) -> None:
        assert add_business_time(office(), local(ROME, 2026, 1, 9, 15), 2 * HOUR) == local(
            ROME, 2026, 1, 9, 17
        )

    def test_counting_starts_at_the_next_opening_when_closed(self) -> None:
        saturday = local(ROME, 2026, 1, 10, 12)
        assert add_business_time(office(), saturday, 30 * MINUTE) == local(ROME, 2026, 1, 12, 9, 30)

    def test_zero_duration_is_t_when_open_and_the_next_opening_when_closed(self) -> None:
        open_at = local(ROME, 2026, 1, 9, 16, 15)
        assert add_business_time(office(), open_at, timedelta(0)) == open_at
        closing = local(ROME, 2026, 1, 9, 17)
        assert add_business_time(office(), closing, timedelta(0)) == local(ROME, 2026, 1, 12, 9)

    def test_months_ahead_walks_days_not_minutes(self) -> None:
        schedule = office("UTC")
        started = timer.perf_counter()
        # 1000 hours = 125 eight-hour days = 25 weeks, ending on a Friday at closing time.
        result = add_business_time(schedule, datetime(2026, 1, 5, 9, tzinfo=UTC), 1000 * HOUR)
        assert result == datetime(2026, 6, 26, 17, tzinfo=UTC)
        # Five years of office hours in one call: cheap only if the walk is day by day.
        add_business_time(schedule, datetime(2026, 1, 5, 9, tzinfo=UTC), 10_000 * HOUR)
        assert timer.perf_counter() - started < 2

    def test_open_across_midnight_counts_straight_through(self) -> None:
        schedule = Schedule("Europe/Rome", ALL_DAY)
        assert add_business_time(schedule, local(ROME, 2026, 1, 9, 23), 3 * HOUR) == local(
            ROME, 2026, 1, 10, 2
        )

    def test_result_can_be_shown_in_local_time(self) -> None:
        schedule = office("America/New_York")
        result = add_business_time(schedule, local(NEW_YORK, 2026, 1, 9, 16), 2 * HOUR)
        assert result.astimezone(schedule.zone).replace(tzinfo=None) == datetime(2026, 1, 12, 10)

    def test_negative_duration_is_rejected(self) -> None:
        with pytest.raises(ValueError, match="negative"):
            add_business_time(office(), local(ROME, 2026, 1, 9, 16), -MINUTE)

    def test_naive_datetime_is_rejected(self) -> None:
        with pytest.raises(ValueError, match="aware"):
            add_business_time(office(), datetime(2026, 1, 9, 16), HOUR)

    def test_schedule_without_open_time_raises_instead_of_looping(self) -> None:
        never = Schedule("Europe/Rome", {})
        with pytest.raises(ValueError, match="no open time"):
            add_business_time(never, local(ROME, 2026, 1, 9, 16), HOUR)
        with pytest.raises(ValueError, match="no open time"):
            next_open(never, local(ROME, 2026, 1, 9, 16))
        assert not is_open(never, local(ROME, 2026, 1, 9, 16))
        assert business_time_between(never, local(ROME, 2026, 1, 1), local(ROME, 2027, 1, 1)) == timedelta(0)


class TestOpenAndClose:
    def test_intervals_are_half_open(self) -> None:
        assert is_open(office(), local(ROME, 2026, 1, 9, 9))
        assert is_open(office(), local(ROME, 2026, 1, 9, 16, 59, 59))
        assert not is_open(office(), local(ROME, 2026, 1, 9, 17))
        assert not is_open(office(), local(ROME, 2026, 1, 10, 12))

    def test_closed_until_monday_morning(self) -> None:
        assert next_open(office(), local(ROME, 2026, 1, 9, 18)) == local(ROME, 2026, 1, 12, 9)
        assert next_open(office(), local(ROME, 2026, 1, 9, 10)) == local(ROME, 2026, 1, 9, 10)

    def test_next_close_is_closing_time_when_open_and_now_when_closed(self) -> None:
        assert next_close(office(), local(ROME, 2026, 1, 9, 10)) == local(ROME, 2026, 1, 9, 17)
        assert next_close(office(), local(ROME, 2026, 1, 9, 18)) == local(ROME, 2026, 1, 9, 18)

    def test_next_close_follows_open_time_across_midnight(self) -> None:
        schedule = Schedule(
            "Europe/Rome", {0: [("20:00", "24:00")], 1: [("00:00", "02:00"), ("08:00", "12:00")]}
        )
        assert next_close(schedule, local(ROME, 2026, 1, 12, 21)) == local(ROME, 2026, 1, 13, 2)

    def test_always_open_never_closes_unless_a_holiday_intervenes(self) -> None:
        assert next_close(Schedule("Europe/Rome", ALL_DAY), local(ROME, 2026, 1, 9, 10)) is None
        with_holidays = Schedule("Europe/Rome", ALL_DAY, holiday_country="IT")
        assert next_close(with_holidays, local(ROME, 2026, 12, 20, 10)) == local(ROME, 2026, 12, 25)
        assert next_open(with_holidays, local(ROME, 2026, 12, 25, 10)) == local(ROME, 2026, 12, 27)

    def test_business_time_between(self) -> None:
        between = business_time_between(office(), local(ROME, 2026, 1, 9, 16), local(ROME, 2026, 1, 12, 10))
        assert between == 2 * HOUR
        assert business_time_between(
            office(), local(ROME, 2026, 1, 12, 10), local(ROME, 2026, 1, 9)
        ) == timedelta(0)


class TestDaylightSaving:
    """Intervals are local wall-clock times, so DST changes only bite when inside an interval."""

    @pytest.mark.parametrize(
        ("zone", "day", "hours"),
        [
            ("Europe/Rome", date(2026, 3, 29), 23),
            ("Europe/Rome", date(2026, 10, 25), 25),
            ("America/New_York", date(2026, 3, 8), 23),
            ("America/New_York", date(2026, 11, 1), 25),
            ("Australia/Sydney", date(2026, 10, 4), 23),
            ("Australia/Sydney", date(2026, 4, 5), 25),
        ],
    )
    def test_a_whole_day_lasts_23_or_25_hours(self, zone: str, day: date, hours: int) -> None:
        schedule = Schedule(zone, {6: [("00:00", "24:00")]})
        start = datetime.combine(day - timedelta(days=1), time(12), tzinfo=ZoneInfo(zone))
        assert business_time_between(schedule, start, start + timedelta(days=3)) == hours * HOUR

    @pytest.mark.parametrize("zone", ["Europe/Rome", "America/New_York", "Australia/Sydney"])
    def test_office_hours_stay_eight_real_hours(self, zone: str) -> None:
        schedule = Schedule(zone, {6: [("09:00", "17:00")]})
        for day in (
            date(2026, 3, 29),
            date(2026, 10, 25),
            date(2026, 3, 8),
            date(2026, 11, 1),
            date(2026, 10, 4),
        ):
            start = datetime.combine(day, time(0), tzinfo=ZoneInfo(zone))
            assert business_time_between(schedule, start, start + timedelta(hours=20)) == 8 * HOUR

    def test_spring_forward_in_rome(self) -> None:
        # 2026-03-29: at 02:00 CET clocks jump to 03:00 CEST.
        sunday = local(ROME, 2026, 3, 29)
        night = Schedule("Europe/Rome", {6: [("01:00", "04:00")]})
        assert business_time_between(night, sunday, sunday + timedelta(hours=12)) == 2 * HOUR
        assert add_business_time(night, local(ROME, 2026, 3, 29, 1, 30), HOUR) == local(
            ROME, 2026, 3, 29, 3, 30
        )

    def test_time_inside_the_gap_moves_forward_to_the_transition(self) -> None:
        starts_in_gap = Schedule("Europe/Rome", {6: [("02:30", "03:30")]})
        assert next_open(starts_in_gap, local(ROME, 2026, 3, 28, 12)) == local(ROME, 2026, 3, 29, 3)
        assert next_close(starts_in_gap, local(ROME, 2026, 3, 29, 3, 10)) == local(ROME, 2026, 3, 29, 3, 30)
        wholly_in_gap = Schedule("Europe/Rome", {6: [("02:00", "02:30")]})
        # The interval does not exist that Sunday, so the next opening is a week later.
        assert next_open(wholly_in_gap, local(ROME, 2026, 3, 28, 12)) == local(ROME, 2026, 4, 5, 2)

    def test_repeated_times_take_the_first_occurrence(self) -> None:
        # 2026-10-25: at 03:00 CEST clocks go back to 02:00 CET; 02:00-02:59 happens twice.
        sunday = local(ROME, 2026, 10, 25)
        ends_in_fold = Schedule("Europe/Rome", {6: [("01:00", "02:30")]})
        assert business_time_between(ends_in_fold, sunday, sunday + timedelta(hours=12)) == 90 * MINUTE
        # Compare in UTC: Python never finds a repeated local time equal to a time in another zone.
        first_half_past_two = local(ROME, 2026, 10, 25, 2, 30, fold=0).astimezone(UTC)
        assert next_close(ends_in_fold, local(ROME, 2026, 10, 25, 1)) == first_half_past_two
        assert first_half_past_two == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
        spans_fold = Schedule("Europe/Rome", {6: [("01:00", "03:00")]})
        assert business_time_between(spans_fold, sunday, sunday + timedelta(hours=12)) == 3 * HOUR
        assert is_open(spans_fold, local(ROME, 2026, 10, 25, 2, 30, fold=1))


class TestClosures:
    def test_italian_christmas_is_closed(self) -> None:
        schedule = office(holiday_country="IT")
        assert not is_open(schedule, local(ROME, 2026, 12, 25, 10))
        # Thursday 24th 16:00 + 2h: one hour on Thursday, Christmas Friday closed, Monday 10:00.
        assert add_business_time(schedule, local(ROME, 2026, 12, 24, 16), 2 * HOUR) == local(
            ROME, 2026, 12, 28, 10
        )
        assert add_business_time(office(), local(ROME, 2026, 12, 24, 16), 2 * HOUR) == local(
            ROME, 2026, 12, 25, 10
        )

    def test_us_subdivision_adds_regional_holidays(self) -> None:
        # Cesar Chavez Day (Tuesday 2026-03-31) is a California holiday, not a federal one.
        national = office("America/Los_Angeles", holiday_country="US")
        california = office("America/Los_Angeles", holiday_country="US", holiday_subdiv="CA")
        chavez_day = local(LOS_ANGELES, 2026, 3, 31, 10)
        assert is_open(national, chavez_day)
        assert not is_open(california, chavez_day)
        assert next_open(california, chavez_day) == local(LOS_ANGELES, 2026, 4, 1, 9)

    def test_observed_holidays_close_too(self) -> None:
        # Independence Day 2026 is a Saturday; Friday July 3rd is the observed holiday.
        assert not is_open(office("America/New_York", holiday_country="US"), local(NEW_YORK, 2026, 7, 3, 10))

    def test_custom_closed_dates(self) -> None:
        schedule = office(closed_dates={date(2026, 1, 12)})
        assert schedule.is_closed_on(date(2026, 1, 12))
        assert add_business_time(schedule, local(ROME, 2026, 1, 9, 16), 2 * HOUR) == local(
            ROME, 2026, 1, 13, 10
        )


class TestScheduleValidation:
    def test_intervals_are_sorted_and_merged(self) -> None:
        schedule = Schedule(
            "UTC", {0: [("13:00", "17:00"), ("09:00", "12:00"), ("11:00", "13:00"), ("18:00", "19:00")]}
        )
        assert schedule.weekly[0] == ((time(9), time(17)), (time(18), time(19)))
        assert schedule.weekly[3] == ()

    def test_equivalent_inputs_make_equal_hashable_schedules(self) -> None:
        from_strings = Schedule.from_dict(
            {"tz": "Europe/Rome", "weekly": {"0": [["09:00", "24:00"]]}, "holiday_country": "it"}
        )
        from_times = Schedule("Europe/Rome", {0: [(time(9), time(0))]}, holiday_country="IT")
        assert from_strings == from_times
        assert hash(from_strings) == hash(from_times)
        assert from_strings.weekly[0] == ((time(9), time(0)),)

    def test_dict_round_trip(self) -> None:
        schedule = Schedule(
            "America/Los_Angeles",
            {0: [("09:00", "17:30")], 5: [("10:00:30", "24:00")]},
            holiday_country="US",
            holiday_subdiv="CA",
            closed_dates=frozenset({date(2026, 8, 14), date(2026, 1, 2)}),
        )
        data = schedule.to_dict()
        assert data == {
            "tz": "America/Los_Angeles",
            "weekly": {"0": [["09:00", "17:30"]], "5": [["10:00:30", "24:00"]]},
            "holiday_country": "US",
            "holiday_subdiv": "CA",
            "closed_dates": ["2026-01-02", "2026-08-14"],
        }
        assert Schedule.from_dict(data) == schedule

    @pytest.mark.parametrize(
        ("data", "message"),
        [
            ({"tz": "Mars/Olympus", "weekly": {}}, "unknown time zone"),
            ({"tz": "", "weekly": {}}, "IANA"),
            ({"weekly": {}}, "time zone"),
            (
                {"tz": "UTC", "weekly": {"0": [["17:00", "09:00"]]}},
                "Monday: interval 17:00-09:00 ends before it starts",
            ),
            ({"tz": "UTC", "weekly": {"0": [["09:00", "09:00"]]}}, "ends before it starts"),
            ({"tz": "UTC", "weekly": {"7": [["09:00", "17:00"]]}}, "weekday"),
            ({"tz": "UTC", "weekly": {"mon": [["09:00", "17:00"]]}}, "weekday"),
            ({"tz": "UTC", "weekly": {"0": [["9am", "17:00"]]}}, "not a time of day"),
            ({"tz": "UTC", "weekly": {"0": [["09:00", "24:30"]]}}, "not a valid time"),
            ({"tz": "UTC", "weekly": {"0": [["24:00", "24:00"]]}}, "start at 24:00"),
            ({"tz": "UTC", "weekly": {"0": ["09:00-17:00"]}}, "pair"),
            ({"tz": "UTC", "weekly": {"0": "09:00-17:00"}}, "list"),
            ({"tz": "UTC", "weekly": [["09:00", "17:00"]]}, "weekly"),
            ({"tz": "UTC", "weekly": {}, "holiday_country": "XX"}, "unknown holiday country"),
            ({"tz": "UTC", "weekly": {}, "holiday_country": "US", "holiday_subdiv": "ZZ"}, "US/ZZ"),
            ({"tz": "UTC", "weekly": {}, "holiday_subdiv": "CA"}, "needs a holiday_country"),
            ({"tz": "UTC", "weekly": {}, "closed_dates": ["2026-02-30"]}, "ISO date"),
            ({"tz": "UTC", "weekly": {}, "closed_dates": "2026-02-03"}, "list"),
            ({"tz": "UTC", "weekly": {}, "timezone": "UTC"}, "unknown schedule keys: timezone"),
        ],
    )
    def test_bad_input_is_a_clear_value_error(self, data: dict[str, object], message: str) -> None:
        with pytest.raises(ValueError, match=message):
            Schedule.from_dict(data)

    def test_pickles_and_copies(self) -> None:
        schedule = office(holiday_country="IT", closed_dates=frozenset({date(2026, 8, 14)}))
        assert pickle.loads(pickle.dumps(schedule)) == schedule  # noqa: S301  -- our own bytes
        assert copy.deepcopy(schedule) == schedule
        assert dataclasses.replace(schedule, tz="UTC").weekly == schedule.weekly

    def test_datetimes_are_not_closed_dates(self) -> None:
        with pytest.raises(ValueError, match="not a date"):
            Schedule("UTC", {}, closed_dates=frozenset({datetime(2026, 1, 1)}))


# --- Properties against a brute-force reference -------------------------------------------------------

REGIONS: list[tuple[str | None, str | None]] = [
    (None, None),
    ("IT", None),
    ("US", None),
    ("US", "CA"),
    ("AU", "NSW"),
]
# Per zone: its two DST changes, then dates that holidays close.
ZONE_DAYS = {
    "Europe/Rome": [date(2026, 3, 29), date(2026, 10, 25), date(2026, 12, 25), date(2026, 6, 2)],
    "America/New_York": [date(2026, 3, 8), date(2026, 11, 1), date(2026, 7, 3), date(2026, 3, 31)],
    "Australia/Sydney": [date(2026, 10, 4), date(2026, 4, 5), date(2026, 12, 28), date(2026, 1, 26)],
    "UTC": [date(2026, 1, 1), date(2026, 12, 25)],
}
# DST days listed three times, so about half the examples straddle a clock change.
zone_days = st.sampled_from(
    [(zone, day) for zone, days in ZONE_DAYS.items() for day in days]
    + 2 * [(zone, day) for zone, days in ZONE_DAYS.items() for day in days[:2] if zone != "UTC"]
)

# Minute-of-day boundaries; the early hours are where DST gaps and folds are (01:00-03:00 here).
boundaries = st.one_of(
    st.sampled_from([0, 60, 90, 120, 150, 180, 210, 1440]),
    st.integers(0, 48).map(lambda k: 30 * k),
    st.integers(0, 1440),
)
intervals = (
    st.tuples(boundaries, boundaries)
    .filter(lambda pair: pair[0] != pair[1])
    .map(lambda pair: (min(pair), max(pair)))
)
days: st.SearchStrategy[list[tuple[int, int]]] = st.one_of(
    st.just([]), st.just([(0, 1440)]), st.lists(intervals, min_size=1, max_size=3)
)
# For the anchor's weekday: intervals starting or ending in the early hours, where the DST gaps
# and folds of these zones are (01:00-03:00 local).
early = st.sampled_from(range(0, 241, 15)) | st.integers(0, 240)
early_intervals = (
    st.tuples(early, early | boundaries)
    .filter(lambda pair: pair[0] != pair[1])
    .map(lambda pair: (min(pair), max(pair)))
)
anchor_days = st.integers(0, 3).flatmap(
    lambda k: st.lists(early_intervals, min_size=1, max_size=3) if k else days
)


@dataclass(frozen=True)
class Spec:
    """A schedule in plain minutes, so the reference shares no code with the module."""

    tz: str
    weekly: dict[int, list[tuple[int, int]]]
    country: str | None
    subdiv: str | None
    closed: frozenset[date]
    anchor: date  # the interesting date (DST change, holiday) the test is built around

    def build(self) -> Schedule:
        weekly = {
            day: [(clock(start), clock(end)) for start, end in spans] for day, spans in self.weekly.items()
        }
        return Schedule(self.tz, weekly, self.country, self.subdiv, self.closed)


def clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


class Reference:
    """Minute-by-minute open/closed flags over a window, by brute force.

    An interval [s, e) of local day D covers instant u when the highest wall time shown so far,
    W(u) = max(wall(v) for v <= u), lies in [D+s, D+e). That is the module's rule read from the
    other side: a boundary maps to the first instant whose wall time reaches it (fold=0 for
    repeated times, the transition for skipped ones).
    """

    def __init__(self, spec: Spec, start: datetime, end: datetime) -> None:
        zone = ZoneInfo(spec.tz)
        self.start = start
        self.flags: list[bool] = []
        closed_days: dict[date, bool] = {}
        warm_up = start - timedelta(days=1)  # W(u) depends on the past, e.g. inside a fold
        highest = warm_up.astimezone(zone).replace(tzinfo=None)
        u = warm_up
        while u < end:
            highest = max(highest, u.astimezone(zone).replace(tzinfo=None))
            day = highest.date()
            if day not in closed_days:
                holiday = spec.country is not None and day in holidays.country_holidays(
                    spec.country, subdiv=spec.subdiv, years=day.year
                )
                closed_days[day] = holiday or day in spec.closed
            minute = highest.hour * 60 + highest.minute
            flag = not closed_days[day] and any(
                s <= minute < e for s, e in spec.weekly.get(day.weekday(), [])
            )
            if u >= start:
                self.flags.append(flag)
            u += MINUTE

    def index(self, t: datetime) -> int:
        return (t - self.start) // MINUTE

    def instant(self, index: int) -> datetime:
        return self.start + index * MINUTE

    def between(self, a: datetime, b: datetime) -> timedelta:
        return sum(self.flags[self.index(a) : self.index(b)]) * MINUTE

    def first(self, a: datetime, want: bool) -> datetime | None:
        for i in range(self.index(a), len(self.flags)):
            if self.flags[i] is want:
                return self.instant(i)
        return None

    def add(self, a: datetime, minutes: int) -> datetime | None:
        if minutes == 0:
            return self.first(a, True)
        for i in range(self.index(a), len(self.flags)):
            minutes -= self.flags[i]
            if minutes == 0:
                return self.instant(i + 1)
        return None


@st.composite
def specs(draw: st.DrawFn) -> Spec:
    """A schedule in one of the zones, built around one of its interesting dates."""
    zone, anchor = draw(zone_days)
    country, subdiv = draw(st.sampled_from(REGIONS))
    closed = draw(st.sets(st.integers(-6, 12).map(lambda n: anchor + timedelta(days=n)), max_size=3))
    weekly = {weekday: draw(days) for weekday in range(7)}
    weekly[anchor.weekday()] = draw(anchor_days)
    return Spec(zone, weekly, country, subdiv, frozenset(closed), anchor)


@st.composite
def windows(draw: st.DrawFn) -> tuple[Spec, datetime, datetime]:
    """A spec and a minute-aligned window of at most 10 days, usually covering the anchor day."""
    spec = draw(specs())
    lead = draw(st.integers(0, 3 * 1440))
    start = datetime.combine(spec.anchor, time(), tzinfo=UTC) - lead * MINUTE
    length = draw(st.one_of(st.integers(60, 10 * 1440), st.integers(lead + 1440, 10 * 1440)))
    return spec, start, start + length * MINUTE


@REFERENCE_SETTINGS
@given(windows(), st.data())
def test_matches_minute_by_minute_reference(
    window: tuple[Spec, datetime, datetime], data: st.DataObject
) -> None:
    spec, start, end = window
    schedule = spec.build()
    reference = Reference(spec, start, end)
    changes = [i for i in range(1, len(reference.flags)) if reference.flags[i] != reference.flags[i - 1]]
    # Query instants: any minute, or right at an opening or closing.
    minutes = st.integers(0, len(reference.flags) - 1).map(reference.instant)
    if changes:
        minutes |= st.sampled_from(changes).map(reference.instant)

    # is_open right at every change of state and at a random minute.
    probes = {i for change in changes for i in (change - 1, change)} | {reference.index(data.draw(minutes))}
    for i in sorted(probes):
        assert is_open(schedule, reference.instant(i)) is reference.flags[i], reference.instant(i)

    a, b = sorted((data.draw(minutes), data.draw(minutes)))
    assert business_time_between(schedule, a, b) == reference.between(a, b)
    assert business_time_between(schedule, start, end) == reference.between(start, end)

    # Any duration the window can answer, or exactly the open time up to a closing.
    available = reference.between(a, end) // MINUTE
    to_closings = [
        reference.between(a, reference.instant(i)) // MINUTE for i in changes if not reference.flags[i]
    ]
    duration = data.draw(st.sampled_from([*to_closings, available]) | st.integers(0, available))
    expected = reference.add(a, duration)
    if expected is not None:
        assert add_business_time(schedule, a, duration * MINUTE) == expected

    if (opening := reference.first(a, True)) is not None:
        assert next_open(schedule, a) == opening
    if (closing := reference.first(a, False)) is not None:
        assert next_close(schedule, a) == closing


def open_schedules() -> st.SearchStrategy[Schedule]:
    return specs().filter(lambda spec: any(spec.weekly.values())).map(Spec.build)


instants = st.builds(
    lambda anchor, offset: datetime.combine(anchor, time(), tzinfo=UTC) + offset,
    st.sampled_from(sorted({day for days in ZONE_DAYS.values() for day in days})),
    st.timedeltas(min_value=timedelta(days=-5), max_value=timedelta(days=5)),
)
durations = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=4))


@PROPERTY_SETTINGS
@given(open_schedules(), instants, durations)
def test_between_inverts_add(schedule: Schedule, t: datetime, duration: timedelta) -> None:
    done = add_business_time(schedule, t, duration)
    assert done >= t
    assert business_time_between(schedule, t, done) == duration


@PROPERTY_SETTINGS
@given(open_schedules(), instants, durations, durations.filter(bool))
def test_add_is_additive(schedule: Schedule, t: datetime, first: timedelta, second: timedelta) -> None:
    # Needs second > 0: adding zero at closing time moves on to the next opening.
    assert add_business_time(schedule, add_business_time(schedule, t, first), second) == add_business_time(
        schedule, t, first + second
    )


@PROPERTY_SETTINGS
@given(open_schedules(), instants, instants, durations, durations)
def test_add_is_monotonic(
    schedule: Schedule, t1: datetime, t2: datetime, d1: timedelta, d2: timedelta
) -> None:
    t1, t2 = sorted((t1, t2))
    d1, d2 = sorted((d1, d2))
    assert add_business_time(schedule, t1, d1) <= add_business_time(schedule, t2, d1)
    assert add_business_time(schedule, t1, d1) <= add_business_time(schedule, t1, d2)


@PROPERTY_SETTINGS
@given(open_schedules(), instants, instants, instants)
def test_between_is_additive_and_bounded(
    schedule: Schedule, t1: datetime, t2: datetime, t3: datetime
) -> None:
    a, b, c = sorted((t1, t2, t3))
    ab, bc = business_time_between(schedule, a, b), business_time_between(schedule, b, c)
    assert ab + bc == business_time_between(schedule, a, c)
    assert timedelta(0) <= ab <= b - a
    if ab:  # with nothing to add from a closed instant, add() jumps ahead to the next opening
        assert add_business_time(schedule, a, ab) <= b


@PROPERTY_SETTINGS
@given(open_schedules(), instants)
def test_open_and_close_helpers_agree(schedule: Schedule, t: datetime) -> None:
    opening = next_open(schedule, t)
    assert opening == add_business_time(schedule, t, timedelta(0))
    assert is_open(schedule, opening)
    assert business_time_between(schedule, t, opening) == timedelta(0)
    closing = next_close(schedule, t)
    if closing is None:
        return
    assert not is_open(schedule, closing)
    assert business_time_between(schedule, t, closing) == closing - t
    assert (closing > t) is is_open(schedule, t)
