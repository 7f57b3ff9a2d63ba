r"""The audit report: results as JSON, figures as PNG, and an HTML page with both.

:func:`summary_rows` and :func:`format_table` give the plain-text table that the command
line prints; :func:`write_report` writes a folder that a browser opens as ``index.html``.
"""

from __future__ import annotations

import html
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from captum_rank.audit import _jsonio
from captum_rank.audit.accuracy import RankAccuracyResult
from captum_rank.audit.spectrum import RankSpectrumResult

__all__ = ["AuditReport", "format_table", "summary_rows", "write_report"]

_KIND = "rank-audit"


def _closest(ranks: Sequence[int], wanted: Sequence[int]) -> list[int]:
    return [k for k in wanted if k in ranks]


def summary_rows(
    accuracy: RankAccuracyResult | None,
    spectrum: RankSpectrumResult | None,
    table_ranks: Sequence[int] = (1, 2, 4, 8),
) -> list[dict[str, Any]]:
    r"""One row per model: accuracy, completeness, evidence ranks, rank accuracies.

    Args:
        accuracy: the accuracy-against-rank result (or ``None``).
        spectrum: the rank-spectrum result (or ``None``).
        table_ranks: the ranks shown as columns (those that were audited).

    Returns:
        A list of dicts with the keys ``model``, ``accuracy`` and, where available,
        ``ig |delta|``, ``rig |delta|``, ``RIG k50``, ``RIG k90``, ``low@k``, ``high@k``.

    Examples:
        >>> acc = RankAccuracyResult(["m"], [0, 2], 2, 4, {"m": 3}, {"m": [1, 3]},
        ...                          {"m": [3, 0]})
        >>> summary_rows(acc, None, table_ranks=[2])
        [{'model': 'm', 'accuracy': 0.75, 'low@2': 0.75, 'high@2': 0.0}]
    """
    models = accuracy.models if accuracy is not None else (
        spectrum.models if spectrum is not None else [])
    rows: list[dict[str, Any]] = []
    for model in models:
        row: dict[str, Any] = {"model": model}
        if accuracy is not None:
            row["accuracy"] = accuracy.clean_accuracy()[model]
        if spectrum is not None and model in spectrum.models:
            summary = spectrum.summary()[model]
            for method in ("ig", "rig"):
                if method in summary:
                    row[f"{method} |delta|"] = summary[method]["mean_abs_delta"]
            for method in ("rig", "ig"):
                if method in summary:
                    row[f"{method.upper()} k50"] = summary[method]["rank_50"]
                    row[f"{method.upper()} k90"] = summary[method]["rank_90"]
        if accuracy is not None:
            shown = _closest(accuracy.ranks, table_ranks)
            for k in shown:
                row[f"low@{k}"] = accuracy.accuracy_at(model, k, "low_rank")
            for k in shown:
                row[f"high@{k}"] = accuracy.accuracy_at(model, k, "high_rank")
        rows.append(row)
    return rows


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def format_table(rows: Sequence[Mapping[str, Any]], markdown: bool = False) -> str:
    r"""Rows of dicts as an aligned plain-text (or markdown) table.

    Args:
        rows: dicts with the same keys (the first row's keys are the columns).
        markdown: a GitHub markdown table instead of aligned text.

    Returns:
        The table, one line per row plus a header.

    Examples:
        >>> print(format_table([{"model": "a", "acc": 0.5}, {"model": "bb", "acc": 1.0}]))
        model  acc
        a      0.500
        bb     1.000
    """
    if not rows:
        return ""
    columns = list(rows[0])
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    if markdown:
        lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
        lines += ["| " + " | ".join(r) + " |" for r in cells]
        return "\n".join(lines)
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip()
              for r in cells]
    return "\n".join(lines)


@dataclass
class AuditReport:
    r"""An accuracy-against-rank result and an optional rank-spectrum result, together.

    Examples:
        >>> acc = RankAccuracyResult(["m"], [0, 2], 2, 4, {"m": 3}, {"m": [1, 3]},
        ...                          {"m": [3, 0]})
        >>> report = AuditReport(acc, None, {"data": "toy"})
        >>> AuditReport.from_json(report.to_json()) == report
        True
    """

    accuracy: RankAccuracyResult | None
    spectrum: RankSpectrumResult | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def rows(self, table_ranks: Sequence[int] = (1, 2, 4, 8)) -> list[dict[str, Any]]:
        r"""The summary table's rows (see :func:`summary_rows`)."""
        return summary_rows(self.accuracy, self.spectrum, table_ranks)

    def to_dict(self) -> dict[str, Any]:
        r"""Plain JSON-able data."""
        return {
            "kind": _KIND,
            "meta": self.meta,
            "summary": self.rows(),
            "accuracy": self.accuracy.to_dict() if self.accuracy is not None else None,
            "spectrum": self.spectrum.to_dict() if self.spectrum is not None else None,
        }

    def to_json(self, path: str | os.PathLike[str] | None = None) -> str:
        r"""JSON text, also written to ``path`` when given."""
        return _jsonio.dump(self.to_dict(), path)

    @classmethod
    def from_json(cls, source: str | os.PathLike[str] | dict[str, Any]) -> AuditReport:
        r"""Read a report written by :meth:`to_json`.

        Raises:
            ValueError: the JSON is not an audit report.
        """
        data = _jsonio.load(source)
        if data.get("kind") != _KIND:
            raise ValueError(f"not an audit report (kind {data.get('kind')!r}).")
        return cls(
            accuracy=RankAccuracyResult.from_json(data["accuracy"])
            if data.get("accuracy") else None,
            spectrum=RankSpectrumResult.from_json(data["spectrum"])
            if data.get("spectrum") else None,
            meta=dict(data.get("meta", {})),
        )


def _html_table(rows: Sequence[Mapping[str, Any]]) -> str:
    if not rows:
        return ""
    columns = list(rows[0])
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_cell(row.get(c)))}</td>" for c in columns) + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


_STYLE = """
body { font-family: sans-serif; max-width: 1100px; margin: 2em auto; color: #222; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
img { max-width: 100%; border: 1px solid #eee; margin: 0.5em 0; }
code, pre { background: #f5f5f5; padding: 0.1em 0.3em; }
"""


def write_report(
    out_dir: str | os.PathLike[str],
    report: AuditReport,
    title: str = "captum-rank audit",
    figures: Mapping[str, str] | None = None,
    class_names: Sequence[str] | None = None,
) -> dict[str, Path]:
    r"""Write ``report.json``, the figures and ``index.html`` into ``out_dir``.

    Args:
        out_dir: the folder (created if needed).
        report: the results.
        title: the page title.
        figures: extra PNG files already in ``out_dir`` to show, ``{file name: caption}``.
        class_names: class labels for the per-class spectrum figure.

    Returns:
        ``{role: path}`` of every file written (``json``, ``html``, ``accuracy_png``,
        ``spectrum_png``, ``spectrum_by_class_png`` where applicable).

    Examples:
        >>> import tempfile
        >>> acc = RankAccuracyResult(["m"], [0, 2], 2, 4, {"m": 3}, {"m": [1, 3]},
        ...                          {"m": [3, 0]})
        >>> paths = write_report(tempfile.mkdtemp(), AuditReport(acc))
        >>> sorted(paths)
        ['accuracy_png', 'html', 'json']
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    report.to_json(out / "report.json")
    written["json"] = out / "report.json"
    sections: list[str] = []
    if report.accuracy is not None:
        acc = report.accuracy
        chance = 1.0 / report.spectrum.num_classes if report.spectrum is not None else None
        fig, _ = acc.plot(chance=chance, use_pyplot=False)
        fig.savefig(out / "accuracy_vs_rank.png", dpi=110)
        written["accuracy_png"] = out / "accuracy_vs_rank.png"
        curve_rows = []
        for m in acc.models:
            curve_rows.append({"model": m, "kind": "low rank x_k",
                               **{str(k): v for k, v in zip(acc.ranks, acc.low_rank_accuracy()[m],
                                                            strict=True)}})
            curve_rows.append({"model": m, "kind": "residual x - x_k",
                               **{str(k): v for k, v in zip(acc.ranks, acc.high_rank_accuracy()[m],
                                                            strict=True)}})
        cost = acc.svd_cost()
        sections.append(
            "<h2>Accuracy against rank</h2>"
            f"<p>{acc.n_images} images; solid: rank-k approximations, dashed: high-rank "
            "residuals x - x<sub>k</sub>. Columns are ranks k.</p>"
            '<img src="accuracy_vs_rank.png" alt="accuracy against rank">'
            + _html_table(curve_rows)
            + f"<p>SVD of every image once: {cost['svd_s']:.3f} s; clean forward passes of "
            f"all models: {cost['clean_forward_s']:.3f} s (ratio "
            f"{cost['svd_per_forward']:.2f}); reconstructions {cost['reconstruct_s']:.3f} s.</p>"
        )
    if report.spectrum is not None:
        spec = report.spectrum
        fig, _ = spec.plot(method=None, use_pyplot=False)
        fig.savefig(out / "rank_spectrum.png", dpi=110)
        written["spectrum_png"] = out / "rank_spectrum.png"
        by_class = []
        for m in spec.models:
            fig, _ = spec.plot(method="rig", model=m, class_names=class_names,
                               use_pyplot=False)
            name = f"rank_spectrum_{_slug(m)}_by_class.png"
            fig.savefig(out / name, dpi=110)
            written[f"spectrum_by_class_png:{m}"] = out / name
            by_class.append(f'<img src="{html.escape(name)}" alt="per-class spectrum of '
                            f'{html.escape(m)}">')
        summary_rows_ = [
            {"model": m, "method": meth.upper(), **vals}
            for m, per in spec.summary().items() for meth, vals in per.items()
        ]
        sections.append(
            "<h2>Rank spectra</h2>"
            f"<p>{spec.n_images} images, each attributed to its true label, {spec.n_steps} "
            f"steps ({spec.quadrature}), baseline {spec.baseline}. rank_50 / rank_90: the "
            "smallest k whose first k singular components carry 50% / 90% of the mean "
            "attribution (cumsum(R)[:k] / sum(R)). mean_abs_delta: mean |completeness "
            "error| in output units.</p>"
            '<img src="rank_spectrum.png" alt="rank spectra">'
            + _html_table(summary_rows_) + "".join(by_class)
        )
    for name, caption in (figures or {}).items():
        sections.append(f"<h2>{html.escape(caption)}</h2>"
                        f'<img src="{html.escape(name)}" alt="{html.escape(caption)}">')
    meta = "".join(f"<li><b>{html.escape(str(k))}</b>: <code>{html.escape(_plain(v))}</code></li>"
                   for k, v in report.meta.items())
    page = (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
        f"</title><style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>"
        f"<ul>{meta}</ul><h2>Summary</h2>{_html_table(report.rows())}"
        + "".join(sections)
        + '<p>Raw numbers: <a href="report.json">report.json</a>.</p></body></html>\n'
    )
    (out / "index.html").write_text(page, encoding="utf-8")
    written["html"] = out / "index.html"
    return written


def _plain(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name)
