"""One self-contained HTML report of a run folder: plots (PNG embedded as base64), tables, parameters, data sources.

`write_report(run_dir)` reads what `analyze` wrote (`scenario.json`, `tables/`, `plots/`, the first member's
`parameters.json`, `manifest.json`) and writes `report.html`, which needs no other file and no network to display.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

import pandas as pd

from populace.analysis.ensemble import MEMBERS_DIR, PARAMETERS_FILE
from populace.manifest import MANIFEST_NAME
from populace.models.covid_nyc.analysis.ensemble import SCENARIO_FILE
from populace.models.covid_nyc.analysis.plots import PLOTS
from populace.models.covid_nyc.analysis.scenario import Scenario
from populace.models.covid_nyc.analysis.tables import summary

REPORT_NAME = "report.html"
STYLE = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222;padding:0 1em}
table{border-collapse:collapse;margin:1em 0;font-size:0.9em}td,th{border:1px solid #ccc;padding:3px 8px;
text-align:right}th{background:#f2f2f2}td:first-child,th:first-child{text-align:left}img{max-width:100%;
display:block;margin:0.5em 0}figure{margin:1.5em 0}figcaption{font-size:0.9em;color:#555}code{background:#f4f4f4}"""


def _table(frame: pd.DataFrame, digits: int = 1) -> str:
    return frame.to_html(index=False, border=0, float_format=lambda x: f"{x:,.{digits}f}", escape=True)


def _image(path: Path, caption: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


def write_report(run_dir: str | Path, out: str | Path | None = None) -> Path:
    """Write the HTML report of a finished run folder (default `run_dir/report.html`); returns its path."""
    run_dir = Path(run_dir)
    if not (run_dir / SCENARIO_FILE).is_file() or not (run_dir / "tables" / "metrics.parquet").is_file():
        raise FileNotFoundError(f"{run_dir} is not a finished analysis run (no {SCENARIO_FILE} or tables/); run "
                                "`populace analyze SCENARIO.yaml --out DIR` first")
    scenario = Scenario.model_validate_json((run_dir / SCENARIO_FILE).read_text())
    metrics = pd.read_parquet(run_dir / "tables" / "metrics.parquet")
    ages = pd.read_parquet(run_dir / "tables" / "age_bands.parquet")
    manifest_path = run_dir / MANIFEST_NAME
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
    first = sorted((run_dir / MEMBERS_DIR).glob(f"m*/{PARAMETERS_FILE}"))
    parameters = json.loads(first[0].read_text()) if first else {"values": {}}
    parts = [f"<h1>{html.escape(scenario.name)}</h1>",
             f"<p>{html.escape(scenario.kind)} analysis, {scenario.start} to {scenario.last_day} "
             f"({scenario.days} days; data up to {scenario.end}), {scenario.ensemble.seeds} run(s) per policy "
             f"(seeds {scenario.ensemble.first_seed} to {scenario.ensemble.first_seed + scenario.ensemble.seeds - 1}"
             f"). Counts are at the size of the city (the sample's counts divided by its scale). Bands: 50% and 90% "
             "of the runs; averted = baseline minus policy, member by member (same seed).</p>"]
    parts.append("<h2>Summary</h2>")
    parts.append("<p>Median [90% interval] over runs, city scale; every metric and quantile is in the table of "
                 "comparison metrics below.</p>")
    parts.append(_table(summary(metrics)))
    parts.append("<h2>Plots</h2>")
    for name, caption in PLOTS.items():
        path = run_dir / "plots" / name
        if path.is_file():
            parts.append(_image(path, caption))
    parts.append("<h2>Comparison metrics (quantiles over runs)</h2>")
    parts.append(_table(metrics.drop(columns="members")))
    parts.append("<h2>By age band (quantiles over runs)</h2>")
    parts.append(_table(ages))
    parts.append("<h2>Policies</h2><ul>")
    for policy in scenario.policies:
        changes = policy.model_dump(mode="json", by_alias=True, exclude_none=True)
        parts.append(f"<li><b>{html.escape(policy.name)}</b>: <code>{html.escape(json.dumps(changes))}</code></li>")
    parts.append("</ul>" if scenario.policies else "<li>none (baseline only)</li></ul>")
    parts.append("<h2>Parameters</h2><p>Baseline model and observation model of the first run, in stored units (log "
                 f"rates, logits); parameter draw: {parameters.get('draw')} (none: defaults or single values; "
                 f"parameter draws used: {scenario.ensemble.parameter_draws}).</p>")
    rows = pd.DataFrame([(k, ", ".join(f"{x:.4g}" for x in v[:13]) + (" ..." if len(v) > 13 else ""))
                         for k, v in parameters["values"].items()], columns=["parameter", "values"])
    parts.append(rows.to_html(index=False, border=0, escape=True))
    parts.append("<h2>Scenario file</h2><pre>" + html.escape((run_dir / SCENARIO_FILE).read_text()) + "</pre>")
    parts.append("<h2>Data sources</h2>" + _sources(manifest))
    body = "\n".join(parts)
    page = (f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>{html.escape(scenario.name)}</title>"
            f"<style>{STYLE}</style></head><body>{body}</body></html>\n")
    path = Path(out) if out is not None else run_dir / REPORT_NAME
    path.write_text(page)
    return path


def _sources(manifest: dict) -> str:
    inputs = manifest.get("inputs", [])
    text = ("<p>Real data: DOHMH daily COVID-19 cases and deaths by borough (NYC Health, nyc-data), NYS DOL Local "
            "Area Unemployment Statistics by borough; the synthetic population from the Census and City Planning "
            "tables (see the data directory's SOURCES.md).</p>")
    if not inputs:
        return text + "<p>No data files were read (a synthetic population, no overlay).</p>"
    rows = pd.DataFrame([(i["path"], i["bytes"], i["sha256"][:16]) for i in inputs],
                        columns=["file", "bytes", "sha256 (first 16)"])
    return text + rows.to_html(index=False, border=0, escape=True)
