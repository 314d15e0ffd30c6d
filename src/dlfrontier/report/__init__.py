"""Run folders -> tables and plots -> one self-contained HTML page and a markdown table."""

from dlfrontier.report.render import write_report
from dlfrontier.stats import bootstrap_ci, iqm, stratified_bootstrap_ci

__all__ = ["write_report", "iqm", "bootstrap_ci", "stratified_bootstrap_ci"]
