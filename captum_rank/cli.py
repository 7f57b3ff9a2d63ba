r"""The ``captum-rank`` command line: ``demo``, ``audit`` and ``explain``.

A thin layer over :mod:`captum_rank.demo` and :mod:`captum_rank.audit`: it parses
arguments, calls them, and turns user errors (unknown models, missing data, unreadable
images, bad rank lists) into a one-line message on standard error and exit status 2,
without a traceback.

Examples:
    >>> main(["audit", "--model", "no-such-model", "--data", "sample"])  # doctest: +SKIP
    captum-rank: error: unknown model 'no-such-model': not a zoo model (...)
    2
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import torch
from matplotlib.figure import Figure
from torch import nn

from captum_rank import __version__

__all__ = ["main"]

PROG = "captum-rank"


class _UsageError(Exception):
    """Raised by the parser instead of exiting, so that main() controls the exit status."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise _UsageError(f"{message} (see `{self.prog} --help`)")


def _fail(message: str, code: int = 2) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return code


def _progress_default() -> bool:
    return sys.stderr.isatty()


def _add_model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--model", action="append", required=True, metavar="NAME_OR_PY_PATH",
        help="a zoo model (fmnist-natural, fmnist-robust) or user code as "
             "path/to/file.py:ClassName or package.module:ClassName; repeat to compare models",
    )
    p.add_argument(
        "--weights", action="append", default=None, metavar="FILE",
        help="state_dict file for the model; with several --model, give one --weights per "
             "model in the same order ('none' for a model that needs none)",
    )


def _add_threads_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--threads", type=int, default=None, metavar="N",
                   help="torch CPU threads (default: torch's choice); on a busy machine 1 is "
                        "often faster")


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="Rank Integrated Gradients and the rank audit.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    demo = sub.add_parser(
        "demo", help="natural vs robust zoo models on the bundled sample (under a minute)",
        description="Run the zoo's natural and robust models on the bundled sample and write "
                    "IG/RIG maps, rank spectra, accuracy-against-rank curves, a rank path "
                    "figure, summary.json and index.html.")
    demo.add_argument("--out", default="demo-out", metavar="DIR",
                      help="output folder (default: ./demo-out)")
    demo.add_argument("--n-steps", type=int, default=32, help="path steps (default: 32)")
    demo.add_argument("--per-class", type=int, default=10,
                      help="images per class for the rank spectra (default: 10)")
    demo.add_argument("--ranks", default=None, metavar="K,K,...",
                      help="ranks of the accuracy curves (default: 0-8, then sparser to 28)")
    _add_threads_arg(demo)
    demo.add_argument("--progress", action=argparse.BooleanOptionalAction,
                      default=None, help="progress bars (default: when on a terminal)")

    audit = sub.add_parser(
        "audit", help="accuracy against rank and rank spectra over a data set",
        description="Audit models: accuracy on low-rank approximations and high-rank "
                    "residuals, and RIG/IG rank spectra; writes report.json, PNG figures "
                    "and index.html. Runs sharded under torchrun.")
    _add_model_args(audit)
    audit.add_argument("--data", default="fashion-mnist", metavar="fashion-mnist|sample|DIR",
                       help="the data (default: fashion-mnist, the Debian package's files)")
    audit.add_argument("--split", default="test", choices=["test", "train"])
    audit.add_argument("--ranks", default=None, metavar="K,K,...",
                       help="comma-separated ranks in [0, min(H, W)] (default: 0-8, then "
                            "sparser up to the full rank)")
    audit.add_argument("--limit", type=int, default=None, metavar="N",
                       help="only the first N images")
    audit.add_argument("--spectrum-limit", type=int, default=200, metavar="N",
                       help="images for the rank spectra, the first N of the (limited) data; "
                            "0 skips them (default: 200)")
    audit.add_argument("--n-steps", type=int, default=32, help="path steps (default: 32)")
    audit.add_argument("--batch-size", type=int, default=250)
    audit.add_argument("--out", default="audit-out", metavar="DIR",
                       help="output folder (default: ./audit-out)")
    audit.add_argument("--checkpoint", default=None, metavar="FILE",
                       help="resume file: FILE for the accuracy audit, FILE.spectrum for the "
                            "spectra; rerun the same command after an interruption")
    audit.add_argument("--device", default=None, help="e.g. cuda (default: the model's)")
    _add_threads_arg(audit)
    audit.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                       help="progress bars (default: when on a terminal)")

    explain = sub.add_parser(
        "explain", help="RIG and IG maps and rank spectra for image files",
        description="Attribute image files (PNG, JPEG, ...) with RIG and IG; images are "
                    "converted to grey and resized to the model's input (28x28 for the zoo).")
    _add_model_args(explain)
    explain.add_argument("images", nargs="+", metavar="IMAGE")
    explain.add_argument("--target", type=int, default=None,
                         help="class to explain (default: each model's prediction)")
    explain.add_argument("--size", default="28x28", metavar="HxW",
                         help="input size after resizing (default: 28x28)")
    explain.add_argument("--channels", type=int, default=1, choices=[1, 3])
    explain.add_argument("--n-steps", type=int, default=64, help="path steps (default: 64)")
    _add_threads_arg(explain)
    explain.add_argument("--out", default="explain-out", metavar="DIR",
                         help="output folder (default: ./explain-out)")
    return parser


def _models(args: argparse.Namespace) -> dict[str, nn.Module]:
    from captum_rank.audit import AuditInputError, load_model

    specs: list[str] = args.model
    weights: list[str | None] = [None] * len(specs)
    if args.weights:
        if len(args.weights) != len(specs):
            raise AuditInputError(
                f"{len(args.weights)} --weights for {len(specs)} --model; give one per model "
                "in the same order ('none' for a model without a weights file)."
            )
        weights = [None if w.lower() == "none" else w for w in args.weights]
    models: dict[str, nn.Module] = {}
    for spec, weight in zip(specs, weights, strict=True):
        name, model = load_model(spec, weight)
        while name in models:
            name += "'"
        models[name] = model
    return models


def _check_positive(value: int | None, flag: str, allow_zero: bool = False) -> None:
    from captum_rank.audit import AuditInputError

    if value is not None and (value < 0 or (value == 0 and not allow_zero)):
        raise AuditInputError(f"{flag} must be a positive integer, got {value}.")


def _cmd_demo(args: argparse.Namespace) -> int:
    from captum_rank.audit import check_ranks, parse_ranks
    from captum_rank.demo import format_summary, run_demo

    _check_positive(args.n_steps, "--n-steps")
    _check_positive(args.per_class, "--per-class")
    ranks = check_ranks(parse_ranks(args.ranks), 28) if args.ranks is not None else None
    progress = _progress_default() if args.progress is None else args.progress
    summary = run_demo(args.out, n_steps=args.n_steps, attribution_per_class=args.per_class,
                       ranks=ranks, progress=progress)
    print(format_summary(summary))
    print(f"wrote {len(summary['files'])} files to {summary['out_dir']} "
          f"(open index.html) in {summary['seconds']:.1f} s")
    return 0


def _cmd_audit(args: argparse.Namespace) -> int:
    from captum_rank.audit import (
        check_ranks,
        current_shard,
        default_ranks,
        init_from_env,
        load_data,
        parse_ranks,
    )

    for value, flag in ((args.limit, "--limit"), (args.n_steps, "--n-steps"),
                        (args.batch_size, "--batch-size")):
        _check_positive(value, flag)
    _check_positive(args.spectrum_limit, "--spectrum-limit", allow_zero=True)
    requested = parse_ranks(args.ranks) if args.ranks is not None else None
    models = _models(args)
    (images, labels), description = load_data(args.data, args.split, args.limit)
    r = int(min(images.shape[-2:]))
    ranks = check_ranks(requested, r) if requested is not None else default_ranks(r)
    import torch.distributed as dist

    own_group = dist.is_available() and not dist.is_initialized() and init_from_env()
    try:
        return _audit_run(args, models, images, labels, description, ranks, current_shard())
    finally:
        if own_group:
            dist.destroy_process_group()


def _audit_run(args: argparse.Namespace, models: dict[str, nn.Module], images: torch.Tensor,
               labels: torch.Tensor, description: str, ranks: list[int], shard: Any) -> int:
    from captum_rank.audit import (
        AuditReport,
        format_table,
        rank_accuracy,
        rank_spectrum,
        write_report,
    )
    from captum_rank.data import CLASSES

    progress = _progress_default() if args.progress is None else args.progress
    if args.device is not None:
        try:
            device = torch.device(args.device)
            torch.empty(0, device=device)
        except RuntimeError as err:
            from captum_rank.audit import AuditInputError

            raise AuditInputError(f"--device {args.device!r} is not usable: {err}") from None
        if device.type == "cuda" and device.index is None and shard.world_size > 1:
            # One GPU per process under torchrun.
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        for model in models.values():
            model.to(device)
        args.device = device
    meta: dict[str, Any] = {
        "command": " ".join([PROG, *args.argv]),
        "data": description, "models": list(models), "processes": shard.world_size,
    }
    accuracy = rank_accuracy(models, (images, labels), ranks, batch_size=args.batch_size,
                             device=args.device, checkpoint=args.checkpoint,
                             progress=progress, meta=meta)
    spectrum = None
    if args.spectrum_limit:
        n = min(args.spectrum_limit, images.shape[0])
        spectrum = rank_spectrum(
            models, (images[:n], labels[:n]), n_steps=args.n_steps,
            batch_size=min(50, args.batch_size), device=args.device,
            checkpoint=f"{args.checkpoint}.spectrum" if args.checkpoint else None,
            progress=progress, meta={**meta, "spectrum images": n},
        )
    if not shard.is_main:
        return 0
    report = AuditReport(accuracy, spectrum, meta)
    names = CLASSES if spectrum is not None and spectrum.num_classes == len(CLASSES) else None
    written = write_report(args.out, report, title=f"rank audit: {', '.join(models)}",
                           class_names=names)
    print(format_table(report.rows()))
    print(f"wrote {len(written)} files to {args.out} (open index.html)")
    return 0


def _parse_size(text: str) -> tuple[int, int]:
    from captum_rank.audit import AuditInputError

    parts = text.lower().replace(",", "x").split("x")
    try:
        values = [int(p) for p in parts]
    except ValueError:
        values = []
    if len(values) == 1:
        values = values * 2
    if len(values) != 2 or min(values) < 1:
        raise AuditInputError(f"--size must be HxW or one number, e.g. 28x28, got {text!r}.")
    return values[0], values[1]


def _cmd_explain(args: argparse.Namespace) -> int:
    from captum.attr import IntegratedGradients

    from captum_rank.attr import RankIntegratedGradients
    from captum_rank.audit import AuditInputError, load_images, rank_for_share
    from captum_rank.visualization import plot_comparison_grid, plot_rank_spectrum

    _check_positive(args.n_steps, "--n-steps")
    size = _parse_size(args.size)
    models = _models(args)
    x = load_images(args.images, size=size, channels=args.channels)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows: dict[str, dict[str, Any]] = {}
    spectra: dict[str, Any] = {}
    results: dict[str, Any] = {"images": [str(p) for p in args.images], "models": {}}
    for name, model in models.items():
        with torch.no_grad():
            try:
                logits = model(x)
            except RuntimeError as err:
                raise AuditInputError(
                    f"model {name} cannot take {tuple(x.shape)} inputs ({err}); set --size "
                    "and --channels to its input."
                ) from err
        probs = logits.softmax(dim=1)
        if args.target is not None and not 0 <= args.target < logits.shape[1]:
            raise AuditInputError(
                f"--target {args.target} is out of range; {name} has {logits.shape[1]} classes."
            )
        target = (torch.full((x.shape[0],), args.target, dtype=torch.int64)
                  if args.target is not None else logits.argmax(dim=1))
        ig, ig_delta = IntegratedGradients(model).attribute(
            x, target=target, n_steps=args.n_steps, return_convergence_delta=True)
        rig, ranks, rig_delta = RankIntegratedGradients(model).attribute_with_ranks(
            x, target=target, n_steps=args.n_steps, return_convergence_delta=True)
        rows[name] = {"ig": ig.detach(), "rig": rig.detach(), "ranks": ranks.detach()}
        spectra[name] = ranks.detach()
        per_image = []
        for i, path in enumerate(args.images):
            spectrum = ranks[i].detach().sum(dim=0).double().numpy()
            per_image.append({
                "image": str(path),
                "prediction": int(logits[i].argmax()),
                "target": int(target[i]),
                "probability": float(probs[i, target[i]]),
                "rig_rank_50": rank_for_share(spectrum, 0.5),
                "rig_rank_90": rank_for_share(spectrum, 0.9),
                "rig_delta": float(rig_delta[i]),
                "ig_delta": float(ig_delta[i]),
                "rig_spectrum": spectrum.tolist(),
            })
        results["models"][name] = per_image
    titles = [Path(p).name for p in args.images]
    n_cols = 2 + 2 * len(rows)
    fig, _ = plot_comparison_grid(x, rows, image_titles=titles, use_pyplot=False,
                                  title=f"IG and RIG, {args.n_steps} steps",
                                  fig_size=(1.9 * n_cols + 0.6, 1.9 * x.shape[0] + 1.8))
    root = fig if isinstance(fig, Figure) else fig.figure  # a SubFigure's .figure is the root
    root.savefig(out / "explain_grid.png", dpi=100)
    fig, _ = plot_rank_spectrum(spectra, normalize="abs", use_pyplot=False,
                                title=f"RIG rank spectrum, mean of {x.shape[0]} image(s)")
    fig.savefig(out / "rank_spectrum.png", dpi=100)
    (out / "explain.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    for name, per_image in results["models"].items():
        for item in per_image:
            print(f"{name}  {item['image']}: target {item['target']} "
                  f"(p={item['probability']:.3f}), RIG k50={item['rig_rank_50']} "
                  f"k90={item['rig_rank_90']}, |delta| RIG {abs(item['rig_delta']):.3g} "
                  f"IG {abs(item['ig_delta']):.3g}")
    print(f"wrote explain_grid.png, rank_spectrum.png and explain.json to {out}")
    return 0


_COMMANDS = {"demo": _cmd_demo, "audit": _cmd_audit, "explain": _cmd_explain}


def main(argv: Sequence[str] | None = None) -> int:
    r"""Run the command line; returns the exit status (0 success, 2 user error).

    Args:
        argv: the arguments without the program name (default: ``sys.argv[1:]``).

    Returns:
        The exit status: 0 on success, 2 for bad arguments or inputs (with a one-line
        message on standard error), 130 after Ctrl-C.

    Examples:
        >>> main(["--version"])  # doctest: +SKIP
        captum-rank 0.1.0
    """
    from captum_rank.audit import AuditInputError

    parser = _build_parser()
    try:
        args = parser.parse_args(list(argv) if argv is not None else None)
    except _UsageError as err:
        return _fail(str(err))
    args.argv = list(argv) if argv is not None else sys.argv[1:]
    if args.command is None:
        parser.print_help()
        return 2
    try:
        if args.threads is not None:
            if args.threads < 1:
                raise AuditInputError(f"--threads must be a positive integer, got {args.threads}.")
            torch.set_num_threads(args.threads)
        return _COMMANDS[args.command](args)
    except AuditInputError as err:
        return _fail(str(err))
    except KeyboardInterrupt:
        hint = " rerun the same command to resume" if getattr(args, "checkpoint", None) else ""
        return _fail(f"interrupted.{hint}", 130)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
