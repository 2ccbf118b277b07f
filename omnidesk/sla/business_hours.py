"""Business time: weekly opening hours, public holidays and closures in a time zone.

Pure Python (no Django) so SLA maths can be tested without settings. See docs/sla.md.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

__all__ = [
    "SEARCH_HORIZON",
    "Schedule",
    "WeeklyHours",
    "add_business_time",
    "business_time_between",
    "is_open",
    "next_close",
    "next_open",
]

# A schedule with no open time for this long is treated as never open: searches raise ValueError
# (or, for next_close, report "never closes") instead of looping forever.
SEARCH_HORIZON = timedelta(days=3660)

_DAY = timedelta(days=1)
_ZERO = timedelta(0)
_WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_CLOCK_RE = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2}))?")
_SCHEDULE_KEYS = frozenset({"tz", "weekly", "holiday_country", "holiday_subdiv", "closed_dates"})

# Local wall times as `time` or "HH:MM" strings; an end of 00:00 or "24:00" is midnight.
WeeklyHours = Mapping[int, Sequence[tuple[time | str, time | str]]]
# Offsets from local midnight, [start, end), with end <= 24h.
_DayOffsets = tuple[tuple[timedelta, timedelta], ...]
_Interval = tuple[datetime, datetime]


@dataclass(frozen=True)
class Schedule:
    """When a team is open: weekly local intervals, a time zone, holidays and closed dates.

    `weekly` maps weekday (0=Monday .. 6=Sunday) to (start, end) local wall times; an end of
    00:00 means midnight at the end of the day (24:00). `time` values or "HH:MM" strings are
    accepted; intervals are sorted and overlapping or touching ones merged. After construction
    `weekly` is a read-only mapping with all seven weekdays and `closed_dates` a frozenset.
    """

    tz: str
    weekly: WeeklyHours
    holiday_country: str | None = None
    holiday_subdiv: str | None = None
    closed_dates: frozenset[date] = frozenset()
    _zone: ZoneInfo = field(init=False, repr=False, compare=False)
    _offsets: tuple[_DayOffsets, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Frozen dataclass: normalised values are written with object.__setattr__.
        object.__setattr__(self, "_zone", _load_zone(self.tz))
        offsets = _normalise_weekly(self.weekly)
        object.__setattr__(self, "_offsets", offsets)
        weekly = {
            weekday: tuple((_offset_to_time(start), _offset_to_time(end)) for start, end in day)
            for weekday, day in enumerate(offsets)
        }
        object.__setattr__(self, "weekly", MappingProxyType(weekly))
        country, subdiv = _normalise_region(self.holiday_country, self.holiday_subdiv)
        object.__setattr__(self, "holiday_country", country)
        object.__setattr__(self, "holiday_subdiv", subdiv)
        object.__setattr__(self, "closed_dates", _normalise_dates(self.closed_dates))

    def __hash__(self) -> int:
        # Explicit because `weekly` is a mapping; hash the normalised form instead.
        return hash((self.tz, self._offsets, self.holiday_country, self.holiday_subdiv, self.closed_dates))

    def __reduce__(self) -> tuple[Any, ...]:
        # A mappingproxy cannot be pickled; rebuild from the JSON form (for caches, deepcopy).
        return (type(self).from_dict, (self.to_dict(),))

    @property
    def zone(self) -> ZoneInfo:
        """The schedule's time zone, e.g. to display results in local time."""
        return self._zone

    def is_closed_on(self, day: date) -> bool:
        """True if the local date is a public holiday or a custom closed date."""
        if day in self.closed_dates:
            return True
        if self.holiday_country is None:
            return False
        return day in _holiday_dates(self.holiday_country, self.holiday_subdiv, day.year)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Schedule:
        """Build from the JSON form produced by `to_dict`; ValueError says what is wrong."""
        if not isinstance(data, Mapping):
            raise ValueError(f"schedule must be an object, not {type(data).__name__}")
        unknown = set(data) - _SCHEDULE_KEYS
        if unknown:
            raise ValueError(f"unknown schedule keys: {', '.join(sorted(map(str, unknown)))}")
        if "tz" not in data:
            raise ValueError("schedule needs a time zone ('tz')")
        weekly = data.get("weekly", {})
        if not isinstance(weekly, Mapping):
            raise ValueError("'weekly' must map weekday numbers to lists of [start, end] pairs")
        closed = data.get("closed_dates") or []
        if isinstance(closed, str) or not isinstance(closed, Iterable):
            raise ValueError("'closed_dates' must be a list of ISO dates")
        return cls(
            tz=data["tz"],
            weekly=weekly,
            holiday_country=data.get("holiday_country"),
            holiday_subdiv=data.get("holiday_subdiv"),
            # Left as given: __post_init__ checks each item and builds the frozenset.
            closed_dates=closed,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form; weekdays without hours are omitted, 24:00 is written out."""
        return {
            "tz": self.tz,
            "weekly": {
                str(weekday): [[_format_offset(start), _format_offset(end)] for start, end in day]
                for weekday, day in enumerate(self._offsets)
                if day
            },
            "holiday_country": self.holiday_country,
            "holiday_subdiv": self.holiday_subdiv,
            "closed_dates": [day.isoformat() for day in sorted(self.closed_dates)],
        }


def is_open(schedule: Schedule, t: datetime) -> bool:
    """True if `t` (aware) falls inside an open interval; intervals are [start, end)."""
    instant = _as_utc(t)
    first = next(_open_intervals(schedule, instant, stop=instant), None)
    return first is not None and first[0] <= instant


def next_open(schedule: Schedule, t: datetime) -> datetime:
    """The first open instant at or after `t` (so `t` itself when open), in UTC."""
    instant = _as_utc(t)
    start, _end = next(_open_intervals(schedule, instant))
    return max(start, instant)


def next_close(schedule: Schedule, t: datetime) -> datetime | None:
    """The first closed instant at or after `t` (so `t` itself when closed), in UTC.

    None when the schedule stays open for all of SEARCH_HORIZON (e.g. 24/7 without holidays).
    """
    instant = _as_utc(t)
    stop = instant + SEARCH_HORIZON
    intervals = _open_intervals(schedule, instant, stop=stop)
    first = next(intervals, None)
    if first is None or first[0] > instant:
        return instant
    closes = first[1]
    # Open stretches continue across midnight (24:00 -> 00:00), so merge touching intervals.
    for start, end in intervals:
        if start > closes:
            return closes
        closes = max(closes, end)
    return None if closes >= stop else closes


def add_business_time(schedule: Schedule, t: datetime, duration: timedelta) -> datetime:
    """The instant, in UTC, at which `duration` of open time has elapsed after `t`.

    Counting starts at the next opening if `t` is closed, so a zero duration returns `t` when
    open and the next opening otherwise. Reaching the end of an interval exactly returns that
    end (e.g. 17:00), not the next opening.
    """
    if duration < _ZERO:
        raise ValueError(f"duration must not be negative, got {duration}")
    instant = _as_utc(t)
    remaining = duration
    for start, end in _open_intervals(schedule, instant):
        start = max(start, instant)
        if remaining <= end - start:
            return start + remaining
        remaining -= end - start
    raise AssertionError("unreachable: an unbounded interval search only ends by raising")  # pragma: no cover


def business_time_between(schedule: Schedule, a: datetime, b: datetime) -> timedelta:
    """Open time in [a, b); zero if b <= a."""
    start_at, end_at = _as_utc(a), _as_utc(b)
    total = _ZERO
    if end_at <= start_at:
        return total
    for start, end in _open_intervals(schedule, start_at, stop=end_at):
        start = max(start, start_at)
        if start >= end_at:
            break
        total += min(end, end_at) - start
    return total


def _open_intervals(schedule: Schedule, after: datetime, stop: datetime | None = None) -> Iterator[_Interval]:
    """Open intervals (UTC) ending after `after`, in order; consecutive ones may touch.

    With `stop`, ends once past it; without, raises ValueError after SEARCH_HORIZON of
    consecutive days without open time. Walks day by day, never minute by minute.
    """
    zone = schedule.zone
    # Intervals of earlier local days end at or before this day's midnight, which is <= after.
    day = after.astimezone(zone).date()
    # One spare day because a fall-back across midnight can repeat part of the previous date.
    last_day = None if stop is None else stop.astimezone(zone).date() + _DAY
    idle_days = 0
    while last_day is None or day <= last_day:
        found = False
        for interval in _day_intervals(schedule, day):
            if interval[1] > after:
                found = True
                yield interval
        idle_days = 0 if found else idle_days + 1
        if stop is None and idle_days > SEARCH_HORIZON.days:
            raise ValueError(f"schedule has no open time within {SEARCH_HORIZON.days} days of {after}")
        day += _DAY


def _day_intervals(schedule: Schedule, day: date) -> list[_Interval]:
    """The open intervals of one local date as UTC instants, empty on holidays and closures."""
    offsets = schedule._offsets[day.weekday()]
    if not offsets or schedule.is_closed_on(day):
        return []
    zone = schedule.zone
    intervals = []
    for start, end in offsets:
        opens, closes = _wall_to_utc(zone, day, start), _wall_to_utc(zone, day, end)
        # An interval lying wholly inside a spring-forward gap never happens.
        if closes > opens:
            intervals.append((opens, closes))
    return intervals


def _wall_to_utc(zone: ZoneInfo, day: date, offset: timedelta) -> datetime:
    """The first instant whose local wall time is at or after `day` + `offset`.

    Ambiguous (repeated) times therefore resolve to their first occurrence (fold=0), and
    non-existent times (in a spring-forward gap) move forward to the transition, which keeps
    the mapping monotonic: a 02:30-03:30 interval on a 02:00->03:00 day opens at 03:00.
    """
    wall = datetime.combine(day, time()) + offset
    instant = wall.replace(tzinfo=zone).astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) == wall:
        return instant
    # In a gap zoneinfo's fold=0 uses the pre-transition offset (past the gap) and fold=1 the
    # post-transition one (before it); the transition lies between the two.
    before = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    return _transition_between(zone, before, instant)


def _transition_between(zone: ZoneInfo, before: datetime, after: datetime) -> datetime:
    """The instant in (before, after] where the UTC offset changes, by bisection to the second.

    zoneinfo exposes no transition list; tz database transitions fall on whole seconds.
    """
    second = timedelta(seconds=1)
    offset_before = before.astimezone(zone).utcoffset()
    low = before.replace(microsecond=0)
    high = after if after.microsecond == 0 else after.replace(microsecond=0) + second
    while high - low > second:
        middle = low + second * ((high - low) // second // 2)
        if middle.astimezone(zone).utcoffset() == offset_before:
            low = middle
        else:
            high = middle
    return high


@functools.lru_cache(maxsize=1024)
def _holiday_dates(country: str, subdiv: str | None, year: int) -> frozenset[date]:
    """Public holidays (including observed days) for one region and year."""
    return frozenset(holidays.country_holidays(country, subdiv=subdiv, years=year))


@functools.lru_cache(maxsize=256)
def _check_region(country: str, subdiv: str | None) -> None:
    try:
        holidays.country_holidays(country, subdiv=subdiv)
    except NotImplementedError as exc:
        where = country if subdiv is None else f"{country}/{subdiv}"
        raise ValueError(f"unknown holiday country or subdivision {where!r}: {exc}") from None


def _as_utc(t: datetime) -> datetime:
    # Work in UTC: arithmetic between datetimes sharing a ZoneInfo is wall-clock arithmetic.
    if not isinstance(t, datetime):
        raise TypeError(f"expected a datetime, got {type(t).__name__}")
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"datetime must be timezone-aware, got naive {t.isoformat()}")
    return t.astimezone(UTC)


def _load_zone(name: object) -> ZoneInfo:
    if not isinstance(name, str) or not name:
        raise ValueError(f"time zone must be an IANA name such as 'Europe/Rome', got {name!r}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}") from None


def _normalise_region(country: object, subdiv: object) -> tuple[str | None, str | None]:
    if country is not None and not isinstance(country, str):
        raise ValueError(f"holiday_country must be a country code such as 'IT', got {country!r}")
    if subdiv is not None and not isinstance(subdiv, str):
        raise ValueError(f"holiday_subdiv must be a region code such as 'CA', got {subdiv!r}")
    # Blank strings (e.g. from a form) mean "no holidays".
    country = (country or "").strip().upper() or None
    subdiv = (subdiv or "").strip() or None
    if country is None:
        if subdiv is not None:
            raise ValueError("holiday_subdiv needs a holiday_country")
        return None, None
    _check_region(country, subdiv)
    return country, subdiv


def _normalise_dates(values: object) -> frozenset[date]:
    if isinstance(values, str) or not isinstance(values, Iterable):
        raise ValueError("closed_dates must be a collection of dates")
    result = set()
    for value in values:
        # datetime is a date subclass but never equals one, so it would silently never match.
        if isinstance(value, date) and not isinstance(value, datetime):
            result.add(value)
        elif isinstance(value, str):
            try:
                result.add(date.fromisoformat(value))
            except ValueError:
                raise ValueError(f"closed date {value!r} is not an ISO date (YYYY-MM-DD)") from None
        else:
            raise ValueError(f"closed date {value!r} is not a date")
    return frozenset(result)


def _normalise_weekly(weekly: object) -> tuple[_DayOffsets, ...]:
    if not isinstance(weekly, Mapping):
        raise ValueError("weekly must map weekday numbers (0=Monday) to lists of (start, end)")
    days: list[list[tuple[timedelta, timedelta]]] = [[] for _ in range(7)]
    for key, intervals in weekly.items():
        weekday = _parse_weekday(key)
        name = _WEEKDAY_NAMES[weekday]
        if isinstance(intervals, str) or not isinstance(intervals, Iterable):
            raise ValueError(f"{name}: expected a list of (start, end) pairs, got {intervals!r}")
        for interval in intervals:
            if isinstance(interval, str) or not isinstance(interval, Sequence) or len(interval) != 2:
                raise ValueError(f"{name}: interval {interval!r} must be a (start, end) pair")
            start = _parse_clock(interval[0], name, is_end=False)
            end = _parse_clock(interval[1], name, is_end=True)
            if end <= start:
                raise ValueError(
                    f"{name}: interval {_format_offset(start)}-{_format_offset(end)} ends before it starts"
                )
            days[weekday].append((start, end))
    return tuple(_merge(day) for day in days)


def _merge(intervals: list[tuple[timedelta, timedelta]]) -> _DayOffsets:
    merged: list[tuple[timedelta, timedelta]] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return tuple(merged)


def _parse_weekday(key: object) -> int:
    # JSON object keys are strings, so "0".."6" is accepted as well as 0..6.
    if isinstance(key, str) and key.strip().isdigit():
        key = int(key)
    if isinstance(key, bool) or not isinstance(key, int) or not 0 <= key <= 6:
        raise ValueError(f"weekday must be 0 (Monday) to 6 (Sunday), got {key!r}")
    return key


def _parse_clock(value: object, day_name: str, *, is_end: bool) -> timedelta:
    """A local wall time as an offset from midnight; 24:00 (or 00:00 as an end) is midnight."""
    if isinstance(value, time):
        if value.tzinfo is not None:
            raise ValueError(f"{day_name}: interval times are local wall times, got aware {value}")
        if value.microsecond:
            raise ValueError(f"{day_name}: interval times must be whole seconds, got {value}")
        offset = timedelta(hours=value.hour, minutes=value.minute, seconds=value.second)
    elif isinstance(value, str) and (match := _CLOCK_RE.fullmatch(value.strip())):
        hours, minutes, seconds = (int(part or 0) for part in match.groups())
        if minutes > 59 or seconds > 59 or hours > 24 or (hours == 24 and (minutes or seconds)):
            raise ValueError(f"{day_name}: {value!r} is not a valid time of day")
        offset = timedelta(hours=hours, minutes=minutes, seconds=seconds)
    else:
        raise ValueError(f"{day_name}: {value!r} is not a time of day (expected 'HH:MM')")
    if is_end and offset == _ZERO:
        return _DAY
    if not is_end and offset == _DAY:
        raise ValueError(f"{day_name}: an interval cannot start at 24:00")
    return offset


def _offset_to_time(offset: timedelta) -> time:
    # 24:00 has no `time` value; as an end, 00:00 stands for it.
    seconds = int(offset.total_seconds()) % 86400
    return time(seconds // 3600, seconds // 60 % 60, seconds % 60)


def _format_offset(offset: timedelta) -> str:
    seconds = int(offset.total_seconds())
    hours, minutes, secs = seconds // 3600, seconds // 60 % 60, seconds % 60
    return f"{hours:02d}:{minutes:02d}" + (f":{secs:02d}" if secs else "")
