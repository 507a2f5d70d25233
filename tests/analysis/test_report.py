"""The HTML report: self-contained (plots embedded), with tables, parameters and sources, and it renders with its
plots in headless Chromium (skipped without Chromium on a developer's machine; an error under CI=true)."""

import base64
import io
import os
import re
import shutil
import subprocess

import matplotlib.image
import pytest

from populace.cli import main
from populace.models.covid_nyc.analysis.report import write_report

CHROMIUM = next((shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome")
                 if shutil.which(name)), None)
IMAGE = re.compile(r'<img alt="[^"]*" src="data:image/png;base64,([A-Za-z0-9+/=]+)">')


def test_the_report_is_one_file_with_the_plots_tables_parameters_and_sources(tiny_run, tmp_path):
    _, out = tiny_run
    assert main(["report", str(out), "--out", str(tmp_path / "r.html")]) == 0
    page = (tmp_path / "r.html").read_text()
    assert page == (out / "report.html").read_text()
    images = IMAGE.findall(page)
    assert len(images) == 5
    for data in images:
        png = base64.b64decode(data)
        assert png.startswith(b"\x89PNG\r\n\x1a\n")
        assert matplotlib.image.imread(io.BytesIO(png)).shape[1] >= 800
    for text in ("Comparison metrics", "infections_averted", "By age band", "75+",
                 "transmission.parametrizations.beta_by_week.original", "Data sources", "lockdown a week earlier",
                 "job_loss_factor"):
        assert text in page, text
    assert "src=\"http" not in page
    assert "<script" not in page
    with pytest.raises(FileNotFoundError, match="is not a finished analysis run"):
        write_report(tmp_path)


def screenshot(html_file, png_file):
    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    "--window-size=1200,2600", f"--screenshot={png_file}", html_file.as_uri()],
                   check=True, capture_output=True, timeout=120)
    pixels = matplotlib.image.imread(png_file)[..., :3]  # [H, W, 3] in [0, 1]
    return float(((pixels.max(-1) - pixels.min(-1)) > 0.1).mean())  # share of coloured (not grey) pixels


def test_the_report_renders_with_its_plots_in_headless_chromium(tiny_run, tmp_path):
    if CHROMIUM is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI needs Chromium to check the report renders: apt-get install -y chromium")
        pytest.skip("needs Chromium (Debian: apt-get install -y chromium) to render the report")
    _, out = tiny_run
    coloured = screenshot(out / "report.html", tmp_path / "report.png")
    broken = tmp_path / "broken.html"  # the same page whose images cannot be decoded: a negative control
    broken.write_text(IMAGE.sub('<img alt="plot" src="data:image/png;base64,AAAA">', (out / "report.html").read_text()))
    without = screenshot(broken, tmp_path / "broken.png")
    assert coloured > 0.01, coloured  # the bands and lines of the plots (about 3.4% of this page)
    assert without < 0.001, without  # text and tables alone are grey (about 0.02%)
