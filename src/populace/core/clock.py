"""`StepLength`: how much calendar time one step of a model is (a day, a week, a month, a year), and its dates."""

from __future__ import annotations

import calendar
import datetime as dt
from enum import Enum

DAYS_PER_WEEK = 7


class StepLength(str, Enum):
    """The calendar length of one step. Step t of a run that starts on date d0 falls on `date(d0, t)`."""

    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    YEAR = "year"

    def date(self, start: dt.date, steps: int) -> dt.date:
        """The date `steps` steps after `start`: days and weeks add days; months and years keep the day of the
        month, clipped to the month's last day (2020-01-31 + 1 month = 2020-02-29; 2020-02-29 + 1 year =
        2021-02-28)."""
        if self is StepLength.DAY:
            return start + dt.timedelta(days=steps)
        if self is StepLength.WEEK:
            return start + dt.timedelta(days=DAYS_PER_WEEK * steps)
        months = start.month - 1 + steps * (12 if self is StepLength.YEAR else 1)
        year, month = start.year + months // 12, months % 12 + 1
        return dt.date(year, month, min(start.day, calendar.monthrange(year, month)[1]))
