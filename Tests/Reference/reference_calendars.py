"""Prints, as JSON, what two independent Python packages say of the Vietnamese calendar.

- lunar-vn: the solar date of every lunar month start of lunar years 2000-2100 (UTC+7), found by
  converting every solar day and keeping the first days of months.
- python-holidays: its own Vietnamese lunar table (Tết and Hùng Kings day, 2000-2100) and the
  Vietnam holidays of 2020-2030, each date with its name.

Run by Tests/Reference/run, which installs the pinned packages first.
"""

import datetime as dt
import json
import sys
from importlib.metadata import version

import holidays
import lunar_vn
from holidays.calendars.chinese import VIETNAMESE_CALENDAR, _ChineseLunisolar

FIRST_LUNAR_YEAR, LAST_LUNAR_YEAR = 2000, 2100
FIRST_HOLIDAY_YEAR, LAST_HOLIDAY_YEAR = 2020, 2030


def lunar_month_starts():
    # lunar-vn covers solar dates up to 2100-12-31: the last months of lunar year 2100 are past it.
    day = dt.date(FIRST_LUNAR_YEAR - 1, 12, 1)
    end = dt.date(2100, 12, 31)
    starts = []
    while day <= end:
        lunar = lunar_vn.solar_to_lunar(day)
        if lunar.day == 1 and FIRST_LUNAR_YEAR <= lunar.year <= LAST_LUNAR_YEAR:
            starts.append(
                {"year": lunar.year, "month": lunar.month, "leap": bool(lunar.leap), "date": day.isoformat()}
            )
        day += dt.timedelta(days=1)
    return starts


def holidays_lunar_table():
    table = _ChineseLunisolar(VIETNAMESE_CALENDAR)
    result = {"tet": {}, "hung_kings": {}}
    for year in range(FIRST_LUNAR_YEAR, LAST_LUNAR_YEAR + 1):
        result["tet"][str(year)] = table.lunar_new_year_date(year)[0].isoformat()
        result["hung_kings"][str(year)] = table.hung_kings_date(year)[0].isoformat()
    return result


def days_off():
    calendar = holidays.country_holidays(
        "VN", years=range(FIRST_HOLIDAY_YEAR, LAST_HOLIDAY_YEAR + 1), language="vi"
    )
    return {day.isoformat(): name for day, name in sorted(calendar.items())}


json.dump(
    {
        "versions": {"holidays": version("holidays"), "lunar-vn": version("lunar-vn")},
        "lunar_month_starts": lunar_month_starts(),
        "holidays_lunar": holidays_lunar_table(),
        "holidays_days_off": days_off(),
    },
    sys.stdout,
    ensure_ascii=False,
)
