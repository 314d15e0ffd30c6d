"""Read an earlier markdown report back, so a new report can carry the rows whose run folders are not at hand.

A published report outlives the run folders that made it (they stay on the machine that trained them; only the
report and its plots are committed). ``dlfrontier report RUNS --previous docs/results.md`` therefore rebuilds the
rows it has run folders for and keeps every other row of the earlier report as it was: its cells, its section's
plots and tables, and the appendix sections the new run folders do not produce. Only the format
:func:`dlfrontier.report.render.markdown` writes is read; anything else is an error naming the file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dlfrontier.errors import DLFrontierError

CARRIED = "carried from the previous report"  # appended to a carried row's seeds cell (once)

_PLOT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$")
_IMAGE = re.compile(r"^!\[([^\]]*)\]\(([^)]*)\)$")


@dataclass
class CarriedRow:
    """One experiment/budget row of an earlier report: its cells as written, its section's plots and tables."""

    experiment: str
    budget: str
    cells: dict[str, str]
    plots: list[str] = field(default_factory=list)
    tables: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Previous:
    """What an earlier report holds: rows (in its order), appendix sections, plot name -> PNG bytes."""

    path: Path
    rows: list[CarriedRow]
    appendix: list[dict[str, Any]]
    images: dict[str, bytes]


def _cells(line: str) -> list[str]:
    """A table line's cells (the writer replaces ``|`` inside a cell, so every ``|`` separates); ``&lt;`` undone."""
    s = line.strip()
    if not (s.startswith("|") and s.endswith("|")) or len(s) < 2:
        raise ValueError(f"not a table line: {line[:60]!r}")
    return [c.strip().replace("&lt;", "<") for c in s[1:-1].split("|")]


def _is_rule(line: str) -> bool:
    return bool(re.fullmatch(r"\|(---\|)+", line.strip()))


def _table(lines: list[str], i: int) -> tuple[dict[str, Any], int]:
    """The ``**title**`` table starting at line ``i``; returns it and the index after it."""
    title = lines[i].strip()[2:-2]
    j = i + 1
    while j < len(lines) and not lines[j].strip():
        j += 1
    columns = _cells(lines[j])
    if j + 1 >= len(lines) or not _is_rule(lines[j + 1]):
        raise ValueError(f"table {title!r} has no header rule")
    rows = []
    j += 2
    while j < len(lines) and lines[j].strip().startswith("|"):
        row = _cells(lines[j])
        if len(row) != len(columns):
            raise ValueError(f"table {title!r}: a row has {len(row)} cells, the header {len(columns)}")
        rows.append(row)
        j += 1
    return {"title": title.replace("&lt;", "<"), "columns": columns, "rows": rows}, j


def _blocks(lines: list[str]) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    """The tables and the images (name, path) of one section's lines, in order; other lines are prose."""
    tables, images = [], []
    i = 0
    while i < len(lines):
        s = lines[i].strip()
        m = _IMAGE.match(s)
        if m:
            images.append((m.group(1), m.group(2)))
            i += 1
        elif s.startswith("**") and s.endswith("**") and len(s) > 4:
            t, i = _table(lines, i)
            tables.append(t)
        else:
            i += 1
    return tables, images


def _split_sections(lines: list[str]) -> list[tuple[str, list[str]]]:
    out: list[tuple[str, list[str]]] = []
    for line in lines:
        if line.startswith("### "):
            out.append((line[4:].strip(), []))
        elif out:
            out[-1][1].append(line)
    return out


def _plot(md_dir: Path, name: str, target: str, plot_dir: str) -> bytes | None:
    """The PNG an image line names, if it is a plain file ``<plot_dir>/<name>.png`` beside the report."""
    if not _PLOT_NAME.match(name) or target != f"{plot_dir}/{name}.png":
        return None
    path = md_dir / plot_dir / f"{name}.png"
    if path.is_symlink() or not path.is_file():
        return None
    data = path.read_bytes()
    return data if data.startswith(b"\x89PNG\r\n\x1a\n") else None


def read_previous(path: str | Path, columns: list[str]) -> tuple[Previous, list[str]]:
    """Parse the markdown report at ``path`` (written by this version's :func:`markdown`, summary columns
    ``columns``). Returns it and one warning per plot that could not be read (the row is kept without it).

    Raises:
        DLFrontierError: no such file, or not a dlfrontier markdown report.
    """
    path = Path(path)
    if not path.is_file():
        raise DLFrontierError(f"previous report {path} does not exist; name the markdown file an earlier "
                              "`dlfrontier report` wrote (e.g. docs/results.md)")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise DLFrontierError(f"cannot read the previous report {path}: {e}") from None
    lines = text.splitlines()
    if not lines or lines[0].strip() != "# dlfrontier results":
        raise DLFrontierError(f"{path} is not a markdown report written by `dlfrontier report` (its first line "
                              "is not '# dlfrontier results'); name that file or leave --previous out")
    try:
        head = next(i for i, line in enumerate(lines) if line.startswith("| experiment | budget |"))
        found = _cells(lines[head])
        if found != columns:
            raise ValueError(f"its summary columns {found} differ from this version's {columns}")
        rows: list[CarriedRow] = []
        i = head + 2
        while i < len(lines) and lines[i].startswith("|"):
            cells = _cells(lines[i])
            if len(cells) != len(columns):
                raise ValueError(f"summary line {i + 1} has {len(cells)} cells, not {len(columns)}")
            d = dict(zip(columns, cells, strict=True))
            rows.append(CarriedRow(d["experiment"], d["budget"], d))
            i += 1
        try:
            by_exp = lines.index("## Results by experiment and budget")
        except ValueError:
            by_exp = len(lines)
        try:
            stats = lines.index("## Statistics across runs: sweeps and aggregates")
        except ValueError:
            stats = len(lines)
        plot_dir = f"{path.stem}_plots"
        warnings: list[str] = []
        images: dict[str, bytes] = {}

        def keep(pairs: list[tuple[str, str]]) -> list[str]:
            names = []
            for name, target in pairs:
                data = _plot(path.parent, name, target, plot_dir)
                if data is None:
                    warnings.append(f"plot {target!r} of the previous report is not a PNG file beside it; dropped")
                    continue
                images[name] = data
                names.append(name)
            return names

        index = {f"{r.experiment}-{r.budget}": r for r in rows}
        for name, body in _split_sections(lines[by_exp:stats]):
            if name not in index:
                raise ValueError(f"section {name!r} has no row in the summary table")
            tables, pairs = _blocks(body)
            index[name].tables = tables
            index[name].plots = keep(pairs)
        appendix = []
        for title, body in _split_sections(lines[stats:]):
            prose = [s.strip() for s in body if s.strip() and not _IMAGE.match(s.strip())]
            tables, pairs = _blocks(body)
            text = prose[0] if prose and not prose[0].startswith(("**", "|")) else ""
            appendix.append({"title": title, "text": text.replace("&lt;", "<"), "tables": tables,
                             "plots": keep(pairs)})
    except (ValueError, StopIteration, IndexError) as e:
        why = str(e) or "no summary table"
        raise DLFrontierError(f"{path} is not a readable `dlfrontier report` markdown file ({why}); name the "
                              "file an earlier report wrote or leave --previous out") from None
    return Previous(path, rows, appendix, images), warnings


def carried_cells(row: CarriedRow) -> dict[str, str]:
    """The row's cells, its seeds cell saying (once) that it was carried."""
    cells = dict(row.cells)
    if CARRIED not in cells.get("seeds", ""):
        cells["seeds"] = f"{cells.get('seeds', '')}; {CARRIED}"
    return cells
