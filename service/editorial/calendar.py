"""Pure calendar rules for scheduling: Dutch public holidays and night hours."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta


def easter_sunday(year: int) -> date:
    """Return Easter Sunday (Gregorian; the Meeus/Jones/Butcher algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    ell = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * ell) // 451
    month = (h + ell - 7 * m + 114) // 31
    day = (h + ell - 7 * m + 114) % 31 + 1
    return date(year, month, day)


def dutch_holidays(year: int) -> dict[date, str]:
    """Return the Dutch public holidays of a year, with their Dutch names."""
    easter = easter_sunday(year)
    kings_day = date(year, 4, 27)
    if kings_day.weekday() == 6:  # on a Sunday it moves to the Saturday before
        kings_day = date(year, 4, 26)
    return {
        date(year, 1, 1): "Nieuwjaarsdag",
        easter - timedelta(days=2): "Goede Vrijdag",
        easter: "Eerste Paasdag",
        easter + timedelta(days=1): "Tweede Paasdag",
        kings_day: "Koningsdag",
        date(year, 5, 5): "Bevrijdingsdag",
        easter + timedelta(days=39): "Hemelvaartsdag",
        easter + timedelta(days=49): "Eerste Pinksterdag",
        easter + timedelta(days=50): "Tweede Pinksterdag",
        date(year, 12, 25): "Eerste Kerstdag",
        date(year, 12, 26): "Tweede Kerstdag",
    }


#: mail sent between these hours lands under a pile by morning
NIGHT_STARTS, NIGHT_ENDS = time(22, 0), time(7, 0)


def holiday_on(day: date) -> str | None:
    """Return the name of the Dutch public holiday on `day`, if any."""
    return dutch_holidays(day.year).get(day)


def is_night(moment: datetime) -> bool:
    """Tell whether a local time falls in the night (22:00–07:00)."""
    clock = moment.time()
    return clock >= NIGHT_STARTS or clock < NIGHT_ENDS
