"""Plots: bands of smoothed runs, and the real data overlaid (DOHMH citywide cases, NYS DOL citywide unemployment)."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from populace.models.covid_nyc.analysis.plots import (
    daily_plot,
    observed_citywide,
    observed_unemployment,
    smoothed_bands,
)


def runs_frame() -> pd.DataFrame:
    dates = pd.date_range("2020-03-01", periods=20)
    rows = [{"policy": "baseline", "member": m, "date": d, "region": "all", "infections": float(m * 10 + (i % 2))}
            for m in range(3) for i, d in enumerate(dates)]
    return pd.DataFrame(rows)


def test_bands_are_taken_over_runs_after_a_7_day_mean():
    table = smoothed_bands(runs_frame(), "infections")
    middle = table.iloc[10]  # days 7..13: member m's mean is 10 m + 4/7 (four odd days of seven)
    assert middle[["q05", "median", "q95"]].tolist() == pytest.approx([1 + 4 / 7, 10 + 4 / 7, 19 + 4 / 7])
    assert table.iloc[0]["median"] == pytest.approx(10 + 2 / 4)  # days 0..3 only: a shorter window at the edge


@pytest.mark.needs_data
def test_the_overlays_are_the_citywide_data():
    from populace.data.dohmh import dohmh_daily
    from populace.data.nysdol import nysdol_unemployment

    cases = observed_citywide("cases")
    city = dohmh_daily(by_borough=False).set_index("date")["cases"]
    boroughs = dohmh_daily(by_borough=True).groupby("date")["cases"].sum()
    assert (boroughs <= city).all()  # the citywide row also counts cases without a borough
    day = pd.Timestamp("2020-04-06")
    window = city.loc[day - pd.Timedelta(days=3):day + pd.Timedelta(days=3)]
    assert cases.set_index("date").loc[day, "observed"] == pytest.approx(window.mean())
    assert window.mean() > 4000  # NYC's first wave peaked near 5,000 confirmed cases a day in early April 2020
    figure = daily_plot(runs_frame(), "infections", ["baseline"], "t", "y", cases, "DOHMH")
    (line,) = [ln for ln in figure.axes[0].lines if ln.get_label() == "DOHMH"]
    assert len(line.get_xdata()) == 20  # clipped to the simulated dates
    np.testing.assert_allclose(line.get_ydata(), cases.set_index("date").loc["2020-03-01":"2020-03-20", "observed"])
    plt.close(figure)
    rates = observed_unemployment().set_index("month")["observed"]
    table = nysdol_unemployment()
    april = table[table["month"] == pd.Timestamp("2020-04-01")]
    assert len(april) == 5
    assert april["unemployment_rate"].min() <= rates.loc["2020-04-01"] <= april["unemployment_rate"].max()
