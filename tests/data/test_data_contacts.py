"""Prem 2021 contact matrices: 5 settings x 16 x 16, all = home + school + work + other, the published means."""

import numpy as np
import pytest

from populace.data import DataFileError, contact_matrix, prem2021_contacts
from populace.data.contacts import SETTINGS, URBAN_FILE

pytestmark = pytest.mark.needs_data


@pytest.fixture(scope="module")
def urban():
    return prem2021_contacts()


def test_all_settings_is_the_sum_of_the_four(urban):
    assert len(urban) == 5 * 16 * 16
    matrices = {setting: contact_matrix(urban, setting) for setting in SETTINGS}
    assert matrices["all"].shape == (16, 16)
    parts = matrices["home"] + matrices["school"] + matrices["work"] + matrices["other"]
    np.testing.assert_allclose(matrices["all"], parts, atol=5e-5)  # each value printed to 5 decimals


def test_mean_daily_contacts_are_the_published_ones(urban):
    # Mean over the 16 bands of the all-settings row sums: 14.86 urban, 13.73 national (data SOURCES.md).
    assert contact_matrix(urban, "all").sum(axis=1).mean() == pytest.approx(14.86, abs=0.005)
    national = prem2021_contacts(urban=False)
    assert contact_matrix(national, "all").sum(axis=1).mean() == pytest.approx(13.73, abs=0.005)
    # Rows are the contactor's band: 5-9 year olds have most of their school contacts with 5-9 year olds.
    school = contact_matrix(urban, "school")
    assert school[1].argmax() == 1
    with pytest.raises(ValueError, match=r"setting must be one of \['home', .*got 'transit'"):
        contact_matrix(urban, "transit")


def test_missing_file_unknown_setting_and_missing_cells(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"prem2021_usa_urban_contacts\.csv not found in .*POPULACE_DATA"):
        prem2021_contacts(tmp_path)
    file = tmp_path / URBAN_FILE
    file.parent.mkdir(parents=True)
    file.write_text("setting,age_from,age_to,contacts_per_day\nhome,0-4,0-4,0.58\n")
    with pytest.raises(DataFileError, match=r"expected one row per setting x age_from x age_to \(1280\), found 1 rows"):
        prem2021_contacts(tmp_path)
    file.write_text("setting,age_from,age_to,contacts_per_day\nothers,0-4,0-4,0.58\n")
    with pytest.raises(DataFileError, match=r"unknown setting value\(s\) \['others'\]"):
        prem2021_contacts(tmp_path)
    file.write_text("setting,age_from,age_to,contacts_per_day\nhome,0-4,0-4,-1\n")
    with pytest.raises(DataFileError, match=r"contacts_per_day must be a number >= 0, found '-1'"):
        prem2021_contacts(tmp_path)
