r"""The one report writer: results as JSON, figures as PNG, and an HTML page with both.

An :class:`AuditReport` bundles what one audit found (accuracy against rank, rank
spectra, an explanation of a few images) with the class names and a description; the
audit, ``captum-rank explain`` and the demo all write their folders with
:func:`write_report`, which draws every figure from the results (plots never run a
model) and marks rank summaries whose completeness error is above the stated reliability_tolerance
as unreliable, in the JSON and the HTML. :func:`summary_rows` and :func:`format_table`
give the plain-text table the command line prints, with one column group per attribution
of the result (nothing assumes the attributions are called ``ig`` and ``rig``).
"""

from __future__ import annotations

import hashlib
import html
import io
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from captum_rank._files import write_bytes
from captum_rank.audit import _jsonio
from captum_rank.audit.accuracy import RankAccuracyResult
from captum_rank.audit.explain import ExplainResult
from captum_rank.audit.settings import attribution_label
from captum_rank.audit.spectrum import RankSpectrumResult
from captum_rank.bands import describe_steps
from captum_rank.checks import one_of

__all__ = ["AuditReport", "format_table", "summary_rows", "write_report"]

_KIND = "rank-audit"
_SET_KIND = "rank-audit-set"
_UNRELIABLE = "*"


def _rank_cell(value: int | None, reliable: bool) -> Any:
    return value if reliable or value is None else f"{value}{_UNRELIABLE}"


def summary_rows(
    accuracy: RankAccuracyResult | None,
    spectrum: RankSpectrumResult | None,
    table_ranks: Sequence[int] = (1, 2, 4, 8),
) -> list[dict[str, Any]]:
    r"""One row per model: accuracy, completeness, evidence ranks per attribution, rank accuracies.

    Rank summaries whose relative completeness error exceeds the result's reliability_tolerance are
    printed with a ``*`` (unreliable).

    Args:
        accuracy: the accuracy-against-rank result (or None).
        spectrum: the rank-spectrum result (or None).
        table_ranks: the ranks shown as columns (those that were audited).

    Returns:
        A list of dicts with the keys ``model``, ``accuracy`` and, where available, per
        attribution ``<attribution> rel.err``, ``<attribution> k50``, ``<attribution> k90``,
        then ``low@k``, ``high@k``.

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
            for attribution, values in summary.items():
                row[f"{attribution} rel.err"] = values["relative_error"]
            for attribution, values in summary.items():
                row[f"{attribution} k50"] = _rank_cell(values["rank_50"], values["reliable"])
                row[f"{attribution} k90"] = _rank_cell(values["rank_90"], values["reliable"])
        if accuracy is not None:
            shown = [k for k in table_ranks if k in accuracy.ranks]
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
    r"""What one audit found: accuracy against rank, rank spectra, explained images.

    Attributes:
        accuracy: the accuracy-against-rank result, or None.
        spectrum: the rank-spectrum result, or None.
        meta: description (data, command, ...).
        explanation: a few images explained (:func:`~captum_rank.audit.explain.explain`),
            or None.
        class_names: the classes' names (index ``i`` is class ``i``), or None.
        title: a heading for the report's section of the page.

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
    explanation: ExplainResult | None = None
    class_names: list[str] | None = None
    title: str | None = None

    def rows(self, table_ranks: Sequence[int] = (1, 2, 4, 8)) -> list[dict[str, Any]]:
        r"""The summary table's rows (:func:`summary_rows`)."""
        return summary_rows(self.accuracy, self.spectrum, table_ranks)

    def to_dict(self) -> dict[str, Any]:
        r"""Plain JSON-able data: every result and the summary rows."""
        return {
            "kind": _KIND,
            "title": self.title,
            "meta": self.meta,
            "summary": self.rows(),
            "accuracy": self.accuracy.to_dict() if self.accuracy is not None else None,
            "spectrum": self.spectrum.to_dict() if self.spectrum is not None else None,
            "explanation": (self.explanation.to_dict()
                            if self.explanation is not None else None),
            "class_names": self.class_names,
        }

    def to_json(self, path: str | os.PathLike[str] | None = None) -> str:
        r"""JSON text, also written (atomically) to ``path`` when given."""
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
            explanation=ExplainResult.from_json(data["explanation"])
            if data.get("explanation") else None,
            class_names=data.get("class_names"),
            title=data.get("title"),
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
    # The wrapper scrolls a wide table sideways instead of widening the page (phones).
    return (f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}'
            "</tbody></table></div>")


_STYLE = """
body { font-family: sans-serif; max-width: 1200px; margin: 2em auto; padding: 0 0.8em;
       color: #222; overflow-wrap: anywhere; }
.scroll { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; overflow-wrap: normal; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
img { max-width: 100%; height: auto; border: 1px solid #eee; margin: 0.5em 0; }
code, pre { background: #f5f5f5; padding: 0.1em 0.3em; }
.warn { color: #a40; }
"""


def _slug(name: str) -> str:
    slug = "".join(c if c.isalnum() or c in "-_" else "_" for c in name)
    # File names are capped (255 bytes on most file systems); a hash keeps long names apart.
    if len(slug) > 60:
        slug = f"{slug[:48]}-{hashlib.sha256(name.encode()).hexdigest()[:10]}"
    return slug


def _plain(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)


def _img(name: str, alt: str) -> str:
    return f'<img src="{html.escape(name)}" alt="{html.escape(alt)}">'


def _save(fig: Any, path: Path) -> None:
    # Rendered in memory, then written like every other output (atomic, no symlink
    # followed, umask mode): a full disk leaves no partial PNG behind.
    root = getattr(fig, "figure", fig) if not hasattr(fig, "savefig") else fig
    buffer = io.BytesIO()
    root.savefig(buffer, format="png", dpi=100)
    write_bytes(path, buffer.getvalue())


def _reliability_note(reliability_tolerance: float) -> str:
    return (
        f"Relative completeness error: |delta| / |F(x) - F(x')| with delta = "
        f"sum(R) - (F(x) - F(x')); above {reliability_tolerance:g} the quadrature has not "
        f"converged and the rank summaries (k50, k90, shares) are marked {_UNRELIABLE} unreliable: "
        "raise n_steps."
    )


def _accuracy_section(acc: RankAccuracyResult, report: AuditReport, prefix: str, out: Path,
                      written: dict[str, Path]) -> str:
    from captum_rank.visualization import plot_accuracy_vs_rank

    n_classes = report.spectrum.num_classes if report.spectrum is not None else (
        len(report.class_names) if report.class_names else None)
    curves = {m: {"low_rank": acc.low_rank_accuracy()[m],
                  "high_rank": acc.high_rank_accuracy()[m]} for m in acc.models}
    fig, _ = plot_accuracy_vs_rank(
        acc.ranks, curves, chance=1.0 / n_classes if n_classes else None,
        title=f"accuracy against rank ({acc.n_images} images)", use_pyplot=False)
    name = f"{prefix}accuracy_vs_rank.png"
    _save(fig, out / name)
    written[f"{prefix}accuracy_png"] = out / name
    rows = []
    for m in acc.models:
        for kind, values in (("low rank x_k", acc.low_rank_accuracy()[m]),
                             ("residual x - x_k", acc.high_rank_accuracy()[m])):
            rows.append({"model": m, "kind": kind,
                         **{str(k): v for k, v in zip(acc.ranks, values, strict=True)}})
    cost = acc.svd_cost()
    unlabelled = (f" {acc.n_unlabelled} of them unlabelled: judged against each model's own "
                  "prediction on the image." if acc.n_unlabelled else "")
    return (
        "<h3>Accuracy against rank</h3>"
        f"<p>{acc.n_images} images.{unlabelled} Solid: rank-k approximations, dashed: "
        "high-rank residuals x - x<sub>k</sub>. Columns are ranks k.</p>"
        + _img(name, f"Accuracy of {', '.join(acc.models)} against rank k: on the rank-k "
                     "approximations (solid lines) and on the high-rank residuals (dashed)")
        + _html_table(rows)
        + f"<p>SVD of every image once: {cost['svd_s']:.3f} s; clean forward passes: "
        f"{cost['clean_forward_s']:.3f} s; reconstructions {cost['reconstruct_s']:.3f} s.</p>"
    )


def _spectrum_section(spec: RankSpectrumResult, report: AuditReport, prefix: str, out: Path,
                      written: dict[str, Path]) -> str:
    from captum_rank.visualization import plot_rank_spectrum

    curves = {f"{m} {attribution_label(attribution, spec.attributions[attribution])}":
              spec.mean_spectrum(m, attribution)
              for attribution in spec.attributions for m in spec.models}
    fig, _ = plot_rank_spectrum(curves, normalize="abs", use_pyplot=False,
                                title=f"mean rank spectra, {spec.n_images} images")
    name = f"{prefix}rank_spectrum.png"
    _save(fig, out / name)
    written[f"{prefix}spectrum_png"] = out / name
    parts = [_img(name, f"Mean rank spectra of {spec.n_images} images, per model and "
                        "attribution: the attribution of each singular component and the "
                        "cumulative share of the output")]
    names = report.class_names
    for m in spec.models:
        counts = spec.class_counts.get(m, {})
        first = next(iter(spec.attributions))
        if not counts or not spec.class_sums.get(first, {}).get(m):
            continue
        by_class = {(names[c] if names and c < len(names) else f"class {c}"):
                    spec.mean_spectrum(m, first, c) for c in sorted(counts)}
        fig, _ = plot_rank_spectrum(
            by_class, normalize="abs", use_pyplot=False,
            title=f"{m}: {attribution_label(first, spec.attributions[first])} rank spectrum "
                  "by class")
        file = f"{prefix}rank_spectrum_{_slug(m)}_by_class.png"
        _save(fig, out / file)
        written[f"{prefix}spectrum_by_class_png:{m}"] = out / file
        parts.append(_img(file, f"Mean rank spectrum of {m} for each class"))
    rows = [{"model": m, "attribution": attribution_label(attribution, vals["schedule"]),
             "k50": _rank_cell(vals["rank_50"], vals["reliable"]),
             "k90": _rank_cell(vals["rank_90"], vals["reliable"]),
             "mean |delta|": vals["mean_abs_delta"], "relative error": vals["relative_error"],
             f"images > {spec.reliability_tolerance:g}": vals["over_reliability_tolerance"],
             "reliable": "yes" if vals["reliable"] else "NO"}
            for m, per in spec.summary().items() for attribution, vals in per.items()]
    return (
        "<h3>Rank spectra</h3>"
        f"<p>{spec.n_images} images, each attributed to its label (unlabelled: the model's "
        f"prediction), {spec.n_steps} steps ({spec.method}), baseline {spec.baseline:g}. "
        "k50 / k90: the smallest k whose first k singular components carry 50% / 90% of "
        f"the mean attribution. {html.escape(_reliability_note(spec.reliability_tolerance))}</p>"
        + _html_table(rows) + "".join(parts)
    )


def _explain_section(ex: ExplainResult, report: AuditReport, prefix: str, out: Path,
                     written: dict[str, Path], view: str, share: str) -> str:
    from captum_rank.audit.explain_figures import explained_image_alt, plot_explained_image
    from captum_rank.visualization import plot_rank_path_arrays, plot_rank_spectrum

    parts: list[str] = []
    if ex.images is not None and ex.maps:
        # One figure per image, so that every map pixel gets at least one screen pixel and
        # the maps are drawn over the photo; a map that did not converge is not drawn.
        for i, image in enumerate(ex.image_names):
            figure, _ = plot_explained_image(ex, i, view=view, share=share, use_pyplot=False)
            name = f"{prefix}explain_{i:02d}_{_slug(image)}.png"
            _save(figure, out / name)
            written[f"{prefix}explain_png:{image}"] = out / name
            parts.append(_img(name, explained_image_alt(ex, i, view=view, share=share)))
    fig: Any
    curves = {}
    for attribution in ex.attributions:
        for m, rows_ in ex.spectra(attribution).items():
            label = attribution_label(attribution, ex.attributions[attribution])
            curves[f"{m} {label}"] = rows_.mean(axis=0)
    for m, rows_ in ex.exact_spectra().items():
        curves[f"{m} exact (rank-k curve)"] = rows_.mean(axis=0)
    fig, _ = plot_rank_spectrum(curves, normalize="abs", use_pyplot=False,
                                title=f"rank spectra, mean of {len(ex.image_names)} image(s)")
    name = f"{prefix}explain_spectrum.png"
    _save(fig, out / name)
    written[f"{prefix}explain_spectrum_png"] = out / name
    parts.append(_img(name, f"Rank spectra of the {len(ex.image_names)} explained image(s), "
                            "mean per model and attribution, and the cumulative share"))
    approx = ex.path_images.get("approximations")
    if approx is not None:
        for m, walk in ex.path.items():
            cls = walk["target_name"] or f"class {walk['target']}"
            fig, _ = plot_rank_path_arrays(
                approx, walk["probabilities"], walk["ranks"], score_label=f"p({cls})",
                title=f"{m}: {ex.image_names[walk['image']]} along the rank path, "
                      f"probability of {cls}", use_pyplot=False)
            name = f"{prefix}rank_path_{_slug(m)}.png"
            _save(fig, out / name)
            written[f"{prefix}rank_path_png:{m}"] = out / name
            parts.append(_img(name, f"{ex.image_names[walk['image']]} along the rank path "
                                    f"(its rank-k approximations) with {m}'s probability "
                                    f"of {cls} at each k"))
    table = []
    for m in ex.models:
        for item in ex.items[m]:
            row: dict[str, Any] = {
                "model": m, "image": item["image"],
                "prediction": f"{item['prediction_name'] or item['prediction']}",
                "p": item["probability"],
                "target": f"{item['target_name'] or item['target']}",
            }
            for attribution, vals in item["attributions"].items():
                label = attribution_label(attribution, ex.attributions[attribution])
                row[f"{label} rel.err"] = vals["relative_error"]
                if "map_error" in vals:
                    row[f"{label} map err"] = _map_cell(vals)
                    row[f"{label} evals"] = vals["evaluations"]
                row[f"{label} k50"] = _rank_cell(vals["rank_50"], vals["reliable"])
                row[f"{label} k90"] = _rank_cell(vals["rank_90"], vals["reliable"])
            if "exact" in item:
                row["exact k50"] = item["exact"]["rank_50"]
                row["exact k90"] = item["exact"]["rank_90"]
            table.append(row)
    notes = sorted({item["note"] for items in ex.items.values() for item in items
                    if item.get("note")})
    warn = "".join(f'<p class="warn">Warning: {html.escape(n)}</p>' for n in notes)
    return (
        "<h3>Explained images</h3>" + warn
        + f"<p>{html.escape(_reliability_note(ex.reliability_tolerance))} "
        + html.escape(_map_note(ex.map_tolerance))
        + (html.escape(" exact k50/k90: from the exact rank spectrum of the rank-k curve, "
                       "F(x_k) - F(x_{k-1}) (r + 1 forward passes, no quadrature error).")
           if ex.exact_spectra() else "")
        + (html.escape(" Further RIG options for every map: " + ", ".join(
            f"{k}={v!r}" for k, v in ex.rig_options.items()) + ".") if ex.rig_options else "")
        + "</p>"
        + _html_table(table)
        + (f"<p>{html.escape(_figure_note(view, share))}</p>" if ex.maps else "")
        + "".join(parts)
    )


def _figure_note(view: str, share: str) -> str:
    words = {"blended": "drawn over the grey photo (Captum's blended heat map)",
             "signed": "drawn as signed heat maps", "absolute": "drawn as |attribution|"}
    scales = {"attribution": "each map on its own colour scale (compare where the evidence lies, "
                        "not brightness across columns)",
              "all": "one colour scale for all maps (brightness compares across columns)",
              "both": "the first row with each map's own colour scale (where the evidence "
                      "lies), the second with one shared scale (how much: brightness "
                      "compares across columns)"}
    return (f"One figure per image: its maps {words[view]}, green for the target and red "
            f"against (or |attribution|), {scales[share]}; each figure states its scale "
            "values. Every map pixel is at least one pixel of the figure.")


def _map_cell(values: dict[str, Any]) -> Any:
    error = float(values["map_error"])
    return error if values.get("map_converged", True) else f"{error:.3g}{_UNRELIABLE}"


def _map_note(map_tolerance: float) -> str:
    return (
        "map err: the map's estimated relative L2 error ||A_n - A_{n/2}|| / ||A_n|| (the "
        "map on all evaluations against the map on every other one); above "
        f"{map_tolerance:g} the map has not converged, is marked {_UNRELIABLE} and is not "
        "drawn; evals: model evaluations the map took."
    )


def write_report(
    out_dir: str | os.PathLike[str],
    reports: AuditReport | Sequence[AuditReport],
    title: str = "captum-rank audit",
    class_names: Sequence[str] | None = None,
    *,
    view: str = "blended",
    share: str = "both",
) -> dict[str, Path]:
    r"""Write ``report.json``, the figures and ``index.html`` into ``out_dir``.

    Args:
        out_dir: the folder (created if needed).
        reports: one report, or several (one section each, e.g. the demo's
            Fashion-MNIST and ImageNet parts; their figure names get the section's
            slug as prefix and ``report.json`` holds ``{"kind": "rank-audit-set",
            "reports": [...]}``).
        title: the page title.
        class_names: class names for reports that hold none (index ``i`` is class ``i``).
        view: how the explained images' maps are drawn: ``"blended"`` (over the grey
            photo, Captum's ``blended_heat_map``), ``"signed"`` or ``"absolute"`` heat maps
            (:func:`~captum_rank.audit.explain_figures.plot_explained_image`, one figure per
            image, every map pixel at least one screen pixel).
        share: their colour scales: ``"attribution"`` (each map its own), ``"all"`` (one
            shared scale) or ``"both"`` (two rows); the rule is written on each figure.

    Returns:
        ``{role: path}`` of every file written (``json``, ``html``, ``accuracy_png``,
        ``spectrum_png``, ``explain_png:<image>``, ... with the section prefix).

    Examples:
        >>> import tempfile
        >>> acc = RankAccuracyResult(["m"], [0, 2], 2, 4, {"m": 3}, {"m": [1, 3]},
        ...                          {"m": [3, 0]})
        >>> paths = write_report(tempfile.mkdtemp(), AuditReport(acc))
        >>> sorted(paths)
        ['accuracy_png', 'html', 'json']
    """
    from captum_rank.visualization import SHARES, VIEWS

    one_of(view, "view", tuple(VIEWS))
    one_of(share, "share", SHARES)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    several = not isinstance(reports, AuditReport)
    items: list[AuditReport] = list(reports) if several else [reports]  # type: ignore[list-item, arg-type]
    written: dict[str, Path] = {}
    sections: list[str] = []
    if class_names is not None:
        items = [r if r.class_names is not None else replace(r, class_names=list(class_names))
                 for r in items]
    for index, report in enumerate(items):
        prefix = f"{_slug(report.title or f'part{index}')}_" if several else ""
        body: list[str] = []
        if report.title and several:
            body.append(f"<h2>{html.escape(report.title)}</h2>")
        meta = "".join(
            f"<li><b>{html.escape(str(k))}</b>: <code>{html.escape(_plain(v))}</code></li>"
            for k, v in report.meta.items())
        body.append(f"<ul>{meta}</ul>")
        rows = report.rows()
        if rows:
            body.append("<h3>Summary</h3>" + _html_table(rows))
        if report.explanation is not None:
            body.append(_explain_section(report.explanation, report, prefix, out, written,
                                         view, share))
            body.append(_bands_section(report.explanation, prefix, out, written))
        if report.accuracy is not None:
            body.append(_accuracy_section(report.accuracy, report, prefix, out, written))
        if report.spectrum is not None:
            body.append(_spectrum_section(report.spectrum, report, prefix, out, written))
        sections.append("".join(body))
    if several:
        blob: dict[str, Any] = {"kind": _SET_KIND, "title": title,
                                "reports": [r.to_dict() for r in items]}
    else:
        blob = items[0].to_dict()
    written["json"] = _jsonio.write_json(out / "report.json", blob)
    page = (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        # No icon file: without this line browsers ask for /favicon.ico and log a 404.
        "<link rel='icon' href='data:,'>"
        f"<title>{html.escape(title)}"
        f"</title><style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>"
        + "".join(sections)
        + '<p>Raw numbers: <a href="report.json">report.json</a>.</p></body></html>\n'
    )
    written["html"] = _jsonio.write_text(out / "index.html", page)
    return written


def _bands_section(ex: ExplainResult, prefix: str, out: Path,
                   written: dict[str, Path]) -> str:
    """Rank-band maps of every model on each image, when :func:`explain` made them."""
    if not ex.band_maps or ex.images is None:
        return ""
    from captum_rank.visualization import plot_rank_bands

    parts = []
    for m, maps in ex.band_maps.items():
        for i, image in enumerate(ex.image_names):
            summary = ex.items[m][i]["bands"]
            notes = [f"sum {t:+.3g} = exact R\n(quadrature alone {e:+.3g})" for t, e in
                     zip(summary["totals"], summary["estimated_totals"], strict=True)]
            notes.append(f"sum {sum(summary['totals']):+.3g} = F(x) - F(x')")
            shares = ", ".join(f"{label} {share:.0%}" for label, share
                               in zip(summary["labels"], summary["shares"], strict=True))
            fig, _ = plot_rank_bands(
                dict(zip(summary["labels"], maps[:, i], strict=True)), ex.images[i],
                share="band", notes=notes, use_pyplot=False,
                title=f"{m}: {image}, rank bands (shares of |map|: {shares})")
            name = f"{prefix}bands_{_slug(m)}_{i}.png"
            _save(fig, out / name)
            written[f"{prefix}bands_png:{m}:{i}"] = out / name
            parts.append(_img(name, f"rank bands of {image} for {m}"))
    first = next(iter(ex.band_maps))
    steps = ex.items[first][0]["bands"]["segment_steps"]
    return (
        "<h3>Where the low-rank and the high-rank evidence lies</h3><p>"
        + html.escape(
            "RIG's map on the rank-k curve split by rank band: each panel is the part of the "
            "map made while that band's singular components entered (c_i * mean gradient "
            "over component i's segment), the panels sum to the last one, and each band's "
            "sum is the exact R over the band, F(x_k) - F(x_{k-1}) summed (shown under it). "
            f"{describe_steps(steps)}, each component's part "
            "calibrated to its exact R_i; the shares are of the map's |attribution|. Each "
            "panel has its own colour scale (written under it), so that a weak band still "
            "shows where its evidence lies; the shares say how much it carries. The sums "
            "are exact; the maps keep the quadrature's own error, which is not estimated "
            "here (measured against converged references in the convergence docs: on "
            "224 x 224 photos the first components need many more gradients than the "
            "rest)."
        ) + "</p>" + "".join(parts)
    )

