"""`golddiff report`: one self-contained HTML page from run dirs and evaluations, and the plot and HTML
helpers the simulator's page is built with too.

- `build`: `build_report`, the run report (training curves, sync vs pipeline, held-out results);
- `runs`: reading run dirs and evaluations into the series and means the figures are made of;
- `sections`: the run report's summary tables and held-out examples;
- `plots`: matplotlib figures as base64 PNG text;
- `html`: page layout, figure cards (a plot inlined as a data URI), tables.
"""

from golddiff.report.build import build_report
from golddiff.report.runs import load_eval, load_run

__all__ = ["build_report", "load_eval", "load_run"]
