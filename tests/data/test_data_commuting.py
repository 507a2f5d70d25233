"""ACS 2009-2013 county-to-county commuting flows of NYC residents: the published totals, the full-length table of
every US county, and the malformed files the loader refuses."""

import csv

import numpy as np
import pandas as pd
import pytest

from populace.data import BOROUGHS, DataFileError, acs_commuting_flows, commuting_shares, data_dir
from populace.data.commuting import COMMUTING_FILE, OUTSIDE_NYC

pytestmark = pytest.mark.needs_data

HEADER = "h_state_fips,h_county_fips,w_state_fips,w_county_fips,flow,moe\n"


@pytest.fixture(scope="module")
def flows():
    return acs_commuting_flows()


@pytest.fixture(scope="module")
def raw_lines():
    return (data_dir() / COMMUTING_FILE).read_text().splitlines(keepends=True)


def test_thirty_cells_whose_shares_sum_to_one_per_home_borough(flows):
    assert len(flows) == 5 * 6
    assert list(flows["work_borough"].cat.categories) == [*BOROUGHS, OUTSIDE_NYC]
    shares = commuting_shares(flows)
    assert shares.shape == (5, 6)
    np.testing.assert_allclose(shares.sum(1), 1.0, rtol=1e-12)
    assert flows["workers"].dtype == "int32"
    assert flows["moe"].dtype == "int32"


def test_totals_are_the_published_ones(flows):
    # SOURCES.md: 3,700,288 NYC-resident workers, 3,405,865 of them working in NYC; two flows named there
    assert flows["workers"].sum() == 3_700_288
    assert flows.loc[flows["work_borough"] != OUTSIDE_NYC, "workers"].sum() == 3_405_865
    cell = flows.set_index(["home_borough", "work_borough"])["workers"]
    assert cell["Brooklyn", "Manhattan"] == 402_684
    assert cell["Queens", "Manhattan"] == 368_049


def test_outside_nyc_is_every_other_workplace_including_abroad_and_no_code(flows):
    # independent of the loader: the csv module over the raw rows
    with (data_dir() / COMMUTING_FILE).open(newline="") as stream:
        rows = [r for r in csv.DictReader(stream) if r["h_county_fips"] == "085"]
    inside = {"005", "047", "061", "081", "085"}
    outside = sum(int(r["flow"]) for r in rows if not (r["w_state_fips"] == "036" and r["w_county_fips"] in inside))
    abroad_or_none = sum(int(r["flow"]) for r in rows if r["w_county_fips"] == "NA")
    assert abroad_or_none == 12 + 39  # Staten Island: 12 workers abroad (301), 39 without a workplace code
    cell = flows.set_index(["home_borough", "work_borough"])
    assert cell.loc[("Staten Island", OUTSIDE_NYC), "workers"] == outside == 16_845
    # margins of error of a sum: sqrt of the sum of squares
    moe = np.sqrt(sum(int(r["moe"]) ** 2 for r in rows if r["w_state_fips"] == "036" and r["w_county_fips"] == "061"))
    assert cell.loc[("Staten Island", "Manhattan"), "moe"] == round(moe)


def _write(tmp_path, text: str):
    file = tmp_path / COMMUTING_FILE
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(text)
    return tmp_path


def test_the_full_length_table_of_every_county_gives_the_same_flows(tmp_path, flows, raw_lines):
    # the publisher's table lists every US residence county: same 2-digit state codes, NYC among them
    others = ["01,001,001,001,9845,1148\n",     # Alabama
              "06,005,006,005,10519,1196\n",    # Amador County, California: county 005 but not state 36
              "36,059,036,061,121203,3037\n",   # Nassau County, New York: state 36 but not an NYC county
              "34,017,036,061,101000,3000\n",   # Hudson County, NJ, working in Manhattan: not a resident
              "72,127,301,NA,55,40\n"]          # Puerto Rico, abroad
    text = HEADER + "".join(others[:3]) + "".join(raw_lines[1:]) + "".join(others[3:])
    pd.testing.assert_frame_equal(acs_commuting_flows(_write(tmp_path, text)), flows)


def test_malformed_tables_are_refused(tmp_path, raw_lines):
    body = "".join(raw_lines[1:])
    with pytest.raises(FileNotFoundError, match=r"commuting/jtw2009_2013_nyc_origin\.csv not found"):
        acs_commuting_flows(tmp_path)
    with pytest.raises(DataFileError, match=r"missing column\(s\) \['moe'\]"):
        acs_commuting_flows(_write(tmp_path, "h_state_fips,h_county_fips,w_state_fips,w_county_fips,flow\n1,2,3,4,5\n"))
    with pytest.raises(DataFileError, match=r"column 'h_state_fips' must hold FIPS codes \(digits\), found 'NY'"):
        acs_commuting_flows(_write(tmp_path, HEADER + "NY,061,036,061,10,5\n" + body))
    with pytest.raises(DataFileError, match=r"column 'flow' must hold whole numbers >= 0, found 'NA'"):
        acs_commuting_flows(_write(tmp_path, HEADER + body.replace("36,005,NA,NA,91,90", "36,005,NA,NA,NA,90")))
    with pytest.raises(DataFileError, match=r"workplace state '036' with county 'NA': a county is NA exactly when"):
        acs_commuting_flows(_write(tmp_path, HEADER + "36,061,036,NA,10,5\n" + body))
    with pytest.raises(DataFileError, match=r"residence 36-047 to workplace 036-061 appears twice"):
        acs_commuting_flows(_write(tmp_path, HEADER + "36,047,036,61,10,5\n" + body))
    no_island = "".join(line for line in raw_lines[1:] if not line.startswith("36,085,"))
    with pytest.raises(DataFileError, match=r"no rows with residence state 36 and county \['085'\] \(\['Staten"):
        acs_commuting_flows(_write(tmp_path, HEADER + no_island))
