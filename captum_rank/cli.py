r"""The ``captum-rank`` command line: ``demo``, ``audit`` and ``explain``.

A thin layer over :func:`captum_rank.demo.run_demo`, :func:`captum_rank.audit.audit` and
:func:`captum_rank.audit.explain`: it parses arguments, checks the output paths before
any work, calls the library, and turns every :class:`captum_rank.checks.UserInputError`
(unknown models, missing data, unreadable images, models that do not fit the data, bad
rank lists, unwritable folders) into a one-line message on standard error and exit
status 2, without a traceback. Heavy modules (torch, the audit) are imported only when a
command runs, so ``captum-rank --help`` and ``--version`` answer at once.

Examples:
    >>> main(["audit", "--model", "no-such-model", "--data", "sample"])  # doctest: +SKIP
    captum-rank: error: unknown model 'no-such-model': not a zoo model (...)
    2
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from captum_rank import __version__
from captum_rank.checks import (
    UserInputError,
    non_negative_int,
    one_of,
    output_dir,
    output_file,
    positive_int,
    real,
)
from captum_rank.defaults import (
    AUDIT_N_STEPS,
    DEFAULT_SCHEDULE,
    MAP_TOLERANCE,
    PHOTO_BAND_STEPS,
    PHOTO_N_STEPS,
    RELIABILITY_TOLERANCE,
    check_n_steps,
)

if TYPE_CHECKING:
    from torch import nn

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


def _show_warning(message: Warning | str, category: type[Warning], filename: str,
                  lineno: int, file: Any = None, line: str | None = None) -> None:
    # A user of the command reads "captum-rank: warning: ...", not a source file and line.
    print(f"{PROG}: warning: {' '.join(str(message).split())}", file=sys.stderr)


def _progress_default() -> bool:
    return sys.stderr.isatty()


def _add_model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--model", action="append", required=True, metavar="NAME_OR_PY_PATH",
        help="a zoo model (fmnist-natural, fmnist-robust, imagenet-efficientnet-lite0) or "
             "user code as path/to/file.py:ClassName or package.module:ClassName (a class, "
             "a function returning the model, or a module); repeat to compare models",
    )
    p.add_argument(
        "--weights", action="append", default=None, metavar="FILE",
        help="state_dict file for the model (torch.save(model.state_dict(), FILE)); with "
             "several --model, one --weights per model in order ('none' for a model that "
             "needs none)",
    )
    p.add_argument(
        "--input-shape", default=None, metavar="CxHxW",
        help="input of a user model that has no `input_shape` attribute, e.g. 3x224x224, "
             "to fit images to (default: the zoo's shape, else 1x28x28 for explain and "
             "3x224x224 for image folders)",
    )


def _add_view_args(p: argparse.ArgumentParser) -> None:
    # Names kept literal so that `--help` does not import matplotlib; tests/test_cli.py
    # pins them to captum_rank.visualization.VIEWS and SHARES.
    p.add_argument("--view", default="blended", metavar="VIEW",
                   help="how each image's maps are drawn: blended (over the grey photo), "
                        "signed or absolute heat maps (default: blended)")
    p.add_argument("--scale", default="both", metavar="RULE",
                   help="colour scales of the maps: attribution (each map its own), all "
                        "(one shared scale) or both (two rows; default); written on each figure")


def _check_view_args(args: argparse.Namespace) -> None:
    from captum_rank.visualization import SHARES, VIEWS

    one_of(args.view, "--view", tuple(VIEWS))
    one_of(args.scale, "--scale", SHARES)


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--threads", type=int, default=None, metavar="N",
                   help="torch CPU threads (default: torch's choice); on a busy machine 1 is "
                        "often faster")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bars (default: when on a terminal)")
    p.add_argument("--reliability-tolerance", type=float, default=RELIABILITY_TOLERANCE,
                   metavar="FRACTION",
                   help="relative completeness error |delta| / |F(x) - F(x')| above which "
                        "rank summaries are marked unreliable (default: %(default)s)")


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="Rank Integrated Gradients and the rank audit.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    demo = sub.add_parser(
        "demo", help="natural vs robust Fashion-MNIST models, and an ImageNet model on photos",
        description="The audit with fixed arguments: the zoo's natural and robust "
                    "Fashion-MNIST models on the bundled sample, and the ImageNet model on "
                    "real photos. Writes IG/RIG maps, rank spectra, rank paths, accuracy "
                    "against rank, report.json and index.html.")
    demo.add_argument("--out", default="demo-out", metavar="DIR",
                      help="output folder (default: ./demo-out)")
    demo.add_argument("--n-steps", type=int, default=AUDIT_N_STEPS,
                      help="path steps on Fashion-MNIST (default: %(default)s)")
    demo.add_argument("--photo-n-steps", type=int, default=PHOTO_N_STEPS, metavar="N",
                      help="budget of model evaluations per photo map; each stops once its "
                           "estimated error is within --map-tolerance (default: %(default)s)")
    demo.add_argument("--map-tolerance", type=float, default=MAP_TOLERANCE, metavar="FRACTION",
                      help="estimated relative L2 error to which every map is refined; a "
                           "map that misses it is not drawn (default: %(default)s)")
    demo.add_argument("--per-class", type=int, default=10,
                      help="Fashion-MNIST images per class for the rank spectra (default: 10)")
    demo.add_argument("--ranks", default=None, metavar="K,K,...",
                      help="ranks of the Fashion-MNIST accuracy curves (default: 0-8, then "
                           "sparser to 28)")
    demo.add_argument("--photos", type=int, default=4, metavar="N",
                      help="photos explained with the ImageNet model (default: 4; 0 leaves "
                           "the ImageNet part out)")
    demo.add_argument("--accuracy-photos", type=int, default=None, metavar="N",
                      help="photos in the ImageNet accuracy curves, a stratified subset "
                           "(default: all)")
    demo.add_argument("--photo-band-steps", default=_format_band_steps(PHOTO_BAND_STEPS),
                      metavar="N[,N...]|none",
                      help="Gauss-Legendre gradients per component for the photos' rank-band "
                           "maps, as --band-steps of explain; 'none' leaves them out "
                           "(default: %(default)s)")
    _add_view_args(demo)
    _add_common(demo)

    audit = sub.add_parser(
        "audit", help="accuracy against rank and rank spectra over a data set",
        description="Audit models: accuracy on low-rank approximations and high-rank "
                    "residuals, and RIG/IG rank spectra with their completeness error; "
                    "writes report.json, PNG figures and index.html. Runs sharded under "
                    "torchrun.")
    _add_model_args(audit)
    audit.add_argument("--data", default="fashion-mnist",
                       metavar="fashion-mnist|sample|photos|DIR",
                       help="the data (default: fashion-mnist, the Debian package's files); "
                            "DIR holds Fashion-MNIST IDX files, or images: class sub-folders "
                            "are labels, a flat folder is judged against each model's own "
                            "predictions")
    audit.add_argument("--split", default="test", choices=["test", "train"])
    audit.add_argument("--ranks", default=None, metavar="K,K,...",
                       help="comma-separated ranks in [0, min(H, W)] (default: dense at low "
                            "ranks, sparser up to the full rank)")
    audit.add_argument("--limit", type=int, default=None, metavar="N",
                       help="audit a stratified random subset of N images (seed --seed)")
    audit.add_argument("--seed", type=int, default=0, help="seed of the subsets (default: 0)")
    audit.add_argument("--spectrum-limit", type=int, default=200, metavar="N",
                       help="images for the rank spectra, a stratified random subset of the "
                            "(limited) data; 0 skips them (default: 200)")
    audit.add_argument("--n-steps", type=int, default=AUDIT_N_STEPS,
                       help="path steps (default: %(default)s)")
    audit.add_argument("--batch-size", type=int, default=250)
    audit.add_argument("--internal-batch-size", type=int, default=None, metavar="N",
                       help="path points per forward pass (bounds memory; default: all)")
    audit.add_argument("--out", default="audit-out", metavar="DIR",
                       help="output folder (default: ./audit-out)")
    audit.add_argument("--checkpoint", default=None, metavar="FILE",
                       help="resume file: FILE for the accuracy audit, FILE.spectrum for the "
                            "spectra; rerun the same command after an interruption")
    audit.add_argument("--device", default=None, help="e.g. cuda (default: the model's)")
    audit.add_argument("--skip-bad-images", action="store_true",
                       help="for a folder of images: read every file once up front and "
                            "leave out those that cannot be read, listing them on standard "
                            "error and in report.json (default: an unreadable file stops "
                            "the audit)")
    _add_common(audit)

    explain = sub.add_parser(
        "explain", help="IG and RIG maps, rank spectra and rank paths for image files",
        description="Attribute image files (PNG, JPEG, ...) with RIG and IG. Each image is "
                    "resized, centre-cropped and converted to each model's input; a warning "
                    "says when an image is far from a model's domain.")
    _add_model_args(explain)
    explain.add_argument("images", nargs="+", metavar="IMAGE")
    explain.add_argument("--target", type=int, default=None,
                         help="class to explain (default: each model's prediction)")
    explain.add_argument("--schedule", default=None, metavar="NAME",
                         help=f"RIG's schedule (default: {_PHOTO_SCHEDULE!r} for photos, "
                              f"i.e. 3-channel inputs at least {_PHOTO_SIZE} pixels a side, "
                              "whose maps converge in about 100 evaluations; the "
                              f"library's default {_LIBRARY_SCHEDULE!r} otherwise, e.g. for "
                              "the Fashion-MNIST models)")
    explain.add_argument("--n-steps", type=int, default=PHOTO_N_STEPS,
                         help="budget of model evaluations per map; each stops once its "
                              "estimated error is within --map-tolerance (default: %(default)s)")
    explain.add_argument("--map-tolerance", type=float, default=MAP_TOLERANCE,
                         metavar="FRACTION",
                         help="estimated relative L2 error to which every map is refined; "
                              "a map that misses it is not drawn (default: %(default)s)")
    explain.add_argument("--internal-batch-size", type=int, default=32, metavar="N",
                         help="path points per forward pass (bounds memory; default: 32)")
    explain.add_argument("--out", default="explain-out", metavar="DIR",
                         help="output folder (default: ./explain-out)")
    explain.add_argument("--bands", default=None, metavar="EDGES",
                         help="also draw rank-band maps of the rank-k curve: 'default' for "
                              "the default bands, or band edges such as 8,32 (components "
                              "1-8, 9-32, 33-r); each band's total is its exact R "
                              "(default: no bands)")
    explain.add_argument("--band-steps", default="8", metavar="N[,N...]",
                         help="Gauss-Legendre gradients per component segment of the "
                              "band maps: one number, or one per component from the first "
                              "with N*K for K equal ones, the last repeated, e.g. "
                              "64,16*15,4 for photos (default: %(default)s)")
    explain.add_argument("--rig-option", action="append", default=[], metavar="NAME=VALUE",
                         help="a further option of RIG's attribute for every map, e.g. "
                              "tolerance=0.05 (any field of captum_rank.options.RigOptions "
                              "the flags above do not set; repeat for several)")
    _add_view_args(explain)
    _add_common(explain)
    return parser


def _parse_bands(text: str | None) -> bool | tuple[int, ...]:
    r"""``--bands``: ``None`` (no bands), ``'default'`` or increasing edges ``'8,32'``.

    Examples:
        >>> _parse_bands(None), _parse_bands("default"), _parse_bands("8, 32")
        (False, True, (8, 32))
    """
    if text is None:
        return False
    if text.strip().lower() == "default":
        return True
    try:
        edges = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise UserInputError(
            f"--bands must be 'default' or increasing band edges such as 8,32, got "
            f"{text!r}.") from None
    if not edges or any(e < 1 for e in edges) or list(edges) != sorted(set(edges)):
        raise UserInputError(
            f"--bands must be increasing positive band edges such as 8,32, got {text!r}.")
    return edges


def _parse_band_steps(text: str, flag: str = "--band-steps") -> int | tuple[int, ...]:
    r"""``--band-steps``: ``'8'``, or orders per component such as ``'64,16*15,4'``.

    Examples:
        >>> _parse_band_steps("8"), _parse_band_steps("64,16*2,4")
        (8, (64, 16, 16, 4))
    """
    orders: list[int] = []
    try:
        for part in text.split(","):
            value, star, count = part.partition("*")
            # "8*" (a count left out) is a typo, not one 8.
            orders += [int(value)] * (int(count) if star else 1)
    except ValueError:
        raise UserInputError(
            f"{flag} must be a number or orders such as 64,16*15,4; got {text!r}."
        ) from None
    if not orders or min(orders) < 1:
        raise UserInputError(
            f"{flag} must be positive orders such as 8 or 64,16*15,4; got {text!r}.")
    # A plain number is one order for every component; a list gives them per component.
    return orders[0] if "," not in text and "*" not in text else tuple(orders)


def _format_band_steps(steps: int | Sequence[int]) -> str:
    r"""Orders as ``--band-steps`` reads them: :func:`_parse_band_steps`'s inverse.

    Examples:
        >>> _format_band_steps(8), _format_band_steps((64, 16, 16, 4))
        ('8', '64,16*2,4')
    """
    if isinstance(steps, int):
        return str(steps)
    runs: list[list[int]] = []
    for q in steps:
        if runs and runs[-1][0] == q:
            runs[-1][1] += 1
        else:
            runs.append([q, 1])
    return ",".join(str(q) if k == 1 else f"{q}*{k}" for q, k in runs)


def _parse_rig_options(items: Sequence[str]) -> dict[str, Any]:
    r"""``--rig-option NAME=VALUE`` flags as ``{name: value}``; a value is read as a
    Python literal (``0.05``, ``None``, ``True``) where it is one, else kept as text.
    Names and values are checked by ``explain`` (``RigOptions``) before any model runs.

    Examples:
        >>> _parse_rig_options(["tolerance=0.05", "form=averaged"])
        {'tolerance': 0.05, 'form': 'averaged'}
    """
    import ast

    options: dict[str, Any] = {}
    for item in items:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or not name.isidentifier():
            raise UserInputError(
                f"--rig-option takes NAME=VALUE, e.g. tolerance=0.05; got {item!r}.")
        if name in options:
            raise UserInputError(f"--rig-option {name} is given twice; give it once.")
        try:
            options[name] = ast.literal_eval(text.strip())
        except (ValueError, SyntaxError):
            options[name] = text.strip()
    return options


def _parse_shape(text: str | None) -> tuple[int, int, int] | None:
    if text is None:
        return None
    parts = text.lower().replace(",", "x").split("x")
    try:
        values = [int(p) for p in parts]
    except ValueError:
        values = []
    if len(values) != 3 or min(values) < 1 or values[0] not in (1, 3):
        raise UserInputError(
            f"--input-shape must be CxHxW with C 1 or 3, e.g. 3x224x224, got {text!r}.")
    return values[0], values[1], values[2]


#: explain's defaults (:data:`captum_rank.audit.explain.PHOTO_ATTRIBUTIONS` and ``PHOTO_SIZE``),
#: repeated so that ``--help`` needs no torch import (a test keeps them equal); the
#: library's default schedule is read from the torch-free defaults module.
_PHOTO_SCHEDULE, _PHOTO_SIZE, _LIBRARY_SCHEDULE = "spectral", 64, DEFAULT_SCHEDULE

#: ``--data``'s named sources: :data:`captum_rank.audit.loading.DATA_CHOICES`, repeated
#: so that a wrong ``--data`` is reported before torch is imported (a test keeps them equal).
_DATA_NAMES = ("fashion-mnist", "sample", "photos")

#: :func:`captum_rank.zoo.available`, repeated for the same reason (a test keeps them equal).
_ZOO_NAMES = ("fmnist-natural", "fmnist-robust", "imagenet-efficientnet-lite0")


def _check_model_paths(args: argparse.Namespace) -> None:
    r"""Missing model code and weights files, reported before torch and any model load."""
    if args.weights and len(args.weights) != len(args.model):
        raise UserInputError(
            f"{len(args.weights)} --weights for {len(args.model)} --model; give one per model "
            "in the same order ('none' for a model without a weights file)."
        )
    zoo_names = ", ".join(_ZOO_NAMES)
    for spec in args.model:
        target, sep, attr = spec.rpartition(":")
        if spec not in _ZOO_NAMES and not (sep and target and attr):
            raise UserInputError(
                f"unknown model {spec!r}: not a zoo model ({zoo_names}) and not of the form "
                "path/to/file.py:ClassName or package.module:ClassName."
            )
        is_file = target.endswith(".py") or "/" in target or os.sep in target
        if sep and is_file and not os.path.isfile(target):
            raise UserInputError(
                f"--model {spec!r}: the model file {target!r} does not exist; give "
                f"path/to/file.py:ClassName with an existing file, or a zoo model "
                f"({zoo_names})."
            )
    for weights in args.weights or []:
        if weights.lower() != "none" and not os.path.isfile(weights):
            raise UserInputError(
                f"--weights file {weights!r} does not exist; give the file written by "
                "torch.save(model.state_dict(), FILE), or 'none' for a model without one."
            )


def _check_data_path(spec: str) -> None:
    if spec not in _DATA_NAMES and not os.path.isdir(spec):
        what = "a file, not a folder" if os.path.exists(spec) else "not an existing folder"
        raise UserInputError(
            f"--data {spec!r} is neither one of {', '.join(_DATA_NAMES)} nor a folder "
            f"({what}); give a folder of images (optionally in class sub-folders), a folder "
            "holding the Fashion-MNIST IDX files, 'fashion-mnist' after `apt-get install -y "
            "dataset-fashion-mnist`, or 'sample' for the 200 bundled images."
        )


def _check_image_paths(paths: Sequence[str]) -> None:
    for path in paths:
        if os.path.isdir(path):
            raise UserInputError(
                f"IMAGE {path!r} is a folder; explain takes image files (to audit a folder "
                "of images use `captum-rank audit --data DIR`)."
            )
        if os.path.exists(path) and not os.path.isfile(path):
            raise UserInputError(
                f"IMAGE {path!r} is not a regular file (a device, FIFO or socket); give "
                "PNG, JPEG or other image files.")
        if not os.path.isfile(path):
            raise UserInputError(
                f"IMAGE {path!r} does not exist; give PNG, JPEG or other image files."
            )


def _models(args: argparse.Namespace) -> dict[str, nn.Module]:
    from captum_rank.audit.loading import load_model

    specs: list[str] = args.model
    weights: list[str | None] = [None] * len(specs)
    if args.weights:
        if len(args.weights) != len(specs):
            raise UserInputError(
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


def _shape_and_transform(name: str, model: nn.Module, override: tuple[int, int, int] | None,
                         default: tuple[int, int, int]) -> tuple[tuple[int, int, int], Any]:
    from captum_rank import zoo
    from captum_rank.audit.loading import fit_to, input_shape_of

    if override is not None:
        return override, fit_to(override)
    base = name.rstrip("'")
    shape = input_shape_of(base, model)
    if shape is not None and base in zoo.available():
        return shape, lambda image: zoo.preprocess(base, image)
    shape = shape or default
    return shape, fit_to(shape)


def _class_names(name: str) -> list[str] | None:
    from captum_rank import zoo

    base = name.rstrip("'")
    return zoo.class_names(base) if base in zoo.available() else None


def _set_threads(args: argparse.Namespace) -> None:
    if args.threads is not None:
        import torch

        torch.set_num_threads(positive_int(args.threads, "--threads"))


def _locked_out(args: argparse.Namespace) -> Path:
    r"""``--out``, checked, created and locked for the rest of the command."""
    from captum_rank._files import lock_dir

    if not str(args.out).strip():
        raise UserInputError("`--out` is empty; give an output folder, e.g. --out report "
                             "(use --out . for the current folder).")
    out = output_dir(args.out, "--out")
    args.exit_stack.enter_context(lock_dir(out, "--out"))
    return out


def _common_checks(args: argparse.Namespace) -> None:
    if args.threads is not None:
        positive_int(args.threads, "--threads")
    real(args.reliability_tolerance, "--reliability-tolerance", minimum=0.0)
    # RIG's rule for n_steps, checked here so that the message names the flag, and before
    # the accuracy audit spends minutes.
    check_n_steps(args.n_steps, name="--n-steps")


def _cmd_demo(args: argparse.Namespace, argv: list[str]) -> int:
    _common_checks(args)
    positive_int(args.per_class, "--per-class")
    non_negative_int(args.photos, "--photos")
    check_n_steps(args.photo_n_steps, name="--photo-n-steps")
    real(args.map_tolerance, "--map-tolerance", minimum=0.0)
    if args.accuracy_photos is not None:
        positive_int(args.accuracy_photos, "--accuracy-photos")
    _check_view_args(args)
    # Parsed before the output folder is made.
    band_steps = (None if args.photo_band_steps.strip().lower() == "none"
                  else _parse_band_steps(args.photo_band_steps, "--photo-band-steps"))
    out = _locked_out(args)
    from captum_rank.audit.ranks import check_ranks, parse_ranks

    ranks = check_ranks(parse_ranks(args.ranks), 28) if args.ranks is not None else None
    _set_threads(args)
    from captum_rank.audit.report import format_table
    from captum_rank.demo import run_demo

    progress = _progress_default() if args.progress is None else args.progress
    summary = run_demo(out, n_steps=args.n_steps, attribution_per_class=args.per_class,
                       ranks=ranks, photos=args.photos, progress=progress,
                       reliability_tolerance=args.reliability_tolerance,
                       accuracy_photos=args.accuracy_photos,
                       imagenet_n_steps=args.photo_n_steps, map_tolerance=args.map_tolerance,
                       view=args.view, share=args.scale, photo_band_steps=band_steps)
    for part in summary["parts"]:
        print(f"{part['title']}:")
        print(format_table(part["summary"]))
    print("rel.err: |delta| / |F(x) - F(x')|; k50/k90: ranks whose first k components carry "
          "50%/90% of the mean attribution (* unreliable: rel.err > "
          f"{args.reliability_tolerance:g}); "
          "low@k / high@k: accuracy on rank-k approximations / residuals x - x_k.")
    print(f"wrote {len(summary['files'])} files to {out} (open index.html) in "
          f"{summary['seconds']:.1f} s")
    return 0


def _cmd_audit(args: argparse.Namespace, argv: list[str]) -> int:
    _common_checks(args)
    for value, flag in ((args.limit, "--limit"), (args.batch_size, "--batch-size"),
                        (args.internal_batch_size, "--internal-batch-size")):
        if value is not None:
            positive_int(value, flag)
    non_negative_int(args.spectrum_limit, "--spectrum-limit")
    non_negative_int(args.seed, "--seed")
    shape_override = _parse_shape(args.input_shape)
    # Inputs first, then outputs, all before torch is imported (seconds) or any work.
    _check_model_paths(args)
    _check_data_path(args.data)
    out = _locked_out(args)
    checkpoint = output_file(args.checkpoint, "--checkpoint") if args.checkpoint else None
    from captum_rank.audit.ranks import parse_ranks

    requested = parse_ranks(args.ranks) if args.ranks is not None else None
    _set_threads(args)
    import torch
    import torch.distributed as dist

    from captum_rank.audit import check_ranks, current_shard, init_from_env
    from captum_rank.audit.loading import load_data
    from captum_rank.audit.pipeline import audit
    from captum_rank.audit.report import format_table, write_report

    models = _models(args)
    first = next(iter(models))
    shape, transform = _shape_and_transform(first, models[first], shape_override, (3, 224, 224))
    classes = _class_names(first)
    loaded = load_data(args.data, args.split, args.limit, seed=args.seed, shape=shape,
                       transform=transform, model_classes=classes,
                       skip_bad_images=args.skip_bad_images)
    for bad in loaded.skipped:
        print(f"{PROG}: warning: skipped {bad['file']!r}: {bad['error']}", file=sys.stderr)
    sample_image = loaded.data[0][:1] if isinstance(loaded.data, tuple) else None
    r = int(min(sample_image.shape[-2:])) if sample_image is not None else int(min(shape[1:]))
    ranks = check_ranks(requested, r) if requested is not None else None
    own_group = dist.is_available() and not dist.is_initialized() and init_from_env()
    try:
        shard = current_shard()
        device = None
        if args.device is not None:
            try:
                device = torch.device(args.device)
                torch.empty(0, device=device)
            except RuntimeError as err:
                raise UserInputError(f"--device {args.device!r} is not usable: {err}") from None
            if device.type == "cuda" and device.index is None and shard.world_size > 1:
                device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
            for model in models.values():
                model.to(device)
        meta: dict[str, Any] = {
            "command": " ".join([PROG, *argv]), "data": loaded.description,
            "models": list(models), "processes": shard.world_size,
        }
        if args.skip_bad_images:
            meta["skipped images"] = loaded.skipped
        progress = _progress_default() if args.progress is None else args.progress
        report = audit(
            models, loaded.data, ranks=ranks, labels=loaded.labels,
            spectrum_images=args.spectrum_limit, n_steps=args.n_steps,
            batch_size=args.batch_size, spectrum_batch_size=min(16, args.batch_size),
            internal_batch_size=args.internal_batch_size, num_classes=loaded.num_classes,
            class_names=loaded.class_names or classes,
            reliability_tolerance=args.reliability_tolerance,
            device=device, checkpoint=checkpoint, progress=progress, seed=args.seed,
            meta=meta, title=f"rank audit: {', '.join(models)}")
        if not shard.is_main:
            return 0
        written = write_report(out, report, title=f"rank audit: {', '.join(models)}")
        print(format_table(report.rows()))
        print(f"wrote {len(written)} files to {out} (open index.html)")
        return 0
    finally:
        if own_group:
            dist.destroy_process_group()


def _cmd_explain(args: argparse.Namespace, argv: list[str]) -> int:
    _common_checks(args)
    if args.internal_batch_size is not None:
        positive_int(args.internal_batch_size, "--internal-batch-size")
    if args.target is not None:
        non_negative_int(args.target, "--target")
    shape_override = _parse_shape(args.input_shape)
    bands = _parse_bands(args.bands)
    band_steps = _parse_band_steps(args.band_steps)
    rig_options = _parse_rig_options(args.rig_option)
    _check_model_paths(args)
    _check_image_paths(args.images)
    # After the path checks, which must run without importing torch (the registry does).
    _check_view_args(args)
    from captum_rank.audit._attributions import check_rig_options

    # Names and values of --rig-option checked before the output folder is touched.
    rig_options = check_rig_options(rig_options)
    out = _locked_out(args)
    _set_threads(args)
    from captum_rank.audit.explain import explain
    from captum_rank.audit.loading import load_images
    from captum_rank.audit.report import AuditReport, write_report
    from captum_rank.schedules import available_schedules

    real(args.map_tolerance, "--map-tolerance", minimum=0.0)
    # Without --schedule, explain picks per input shape (Spectral IG's path on photos).
    attributions: dict[str, str | None] | None = None
    if args.schedule is not None:
        attributions = {"rig": one_of(args.schedule, "--schedule", available_schedules()),
                   "ig": "linear"}
    models = _models(args)
    groups: dict[tuple[int, int, int], dict[str, Any]] = {}
    for name, model in models.items():
        shape, transform = _shape_and_transform(name, model, shape_override, (1, 28, 28))
        group = groups.setdefault(shape, {"models": {}, "transform": transform, "name": name})
        group["models"][name] = model
    reports = []
    names = [os.path.basename(p) for p in args.images]
    for shape, group in groups.items():
        images, notes = load_images(args.images, shape, group["transform"],
                                    model=", ".join(group["models"]))
        for note in notes:
            if note:
                print(f"{PROG}: warning: {note}", file=sys.stderr)
        class_names = {m: c for m in group["models"] if (c := _class_names(m)) is not None}
        result = explain(
            group["models"], images, target=args.target, attributions=attributions,
            n_steps=args.n_steps, internal_batch_size=args.internal_batch_size,
            reliability_tolerance=args.reliability_tolerance,
            map_tolerance=args.map_tolerance, names=names,
            class_names=class_names, notes=notes, bands=bands, band_steps=band_steps,
            rig_options=rig_options, meta={"command": " ".join([PROG, *argv])})
        heading = f"{', '.join(group['models'])} ({'x'.join(map(str, shape))})"
        reports.append(AuditReport(None, None, {"command": " ".join([PROG, *argv]),
                                                "input shape": list(shape)},
                                   explanation=result, title=heading))
        for model_name, items in result.items.items():
            for item in items:
                parts = []
                for attribution, vals in item["attributions"].items():
                    flag = "" if vals["reliable"] else " UNRELIABLE"
                    unconverged = "" if vals["map_converged"] else " NOT CONVERGED"
                    parts.append(f"{attribution} k50={vals['rank_50']} k90={vals['rank_90']} "
                                 f"rel.err={vals['relative_error']:.3g}{flag} "
                                 f"map.err={vals['map_error']:.2g}{unconverged} "
                                 f"({vals['evaluations']} evals)")
                if "exact" in item:
                    parts.append(f"exact k50={item['exact']['rank_50']} "
                                 f"k90={item['exact']['rank_90']}")
                pred = item["prediction_name"] or item["prediction"]
                target = item["target_name"] or item["target"]
                print(f"{model_name}  {item['image']}: predicted {pred} "
                      f"(p={item['probability']:.3f}), target {target}; " + "; ".join(parts))
    print("k50/k90: ranks whose first k components carry 50%/90% of the attribution. The "
          "ig spectrum is IG's map projected on the rank components: a signed split of IG's "
          "total (one component can exceed 100%), not a share; the exact spectrum is the "
          "rank-k curve's own.")
    written = write_report(out, reports[0] if len(reports) == 1 else reports,
                           title="captum-rank explain", view=args.view, share=args.scale)
    print(f"wrote {len(written)} files to {out} (open index.html)")
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
    arguments = list(argv) if argv is not None else sys.argv[1:]
    parser = _build_parser()
    try:
        args = parser.parse_args(arguments)
    except _UsageError as err:
        return _fail(str(err))
    if args.command is None:
        parser.print_help()
        return 2
    try:
        with warnings.catch_warnings(), contextlib.ExitStack() as stack:
            warnings.showwarning = _show_warning
            args.exit_stack = stack  # holds the --out lock until the command ends
            return _COMMANDS[args.command](args, arguments)
    except UserInputError as err:
        return _fail(" ".join(str(err).split()))
    except KeyboardInterrupt:
        hint = " rerun the same command to resume" if getattr(args, "checkpoint", None) else ""
        return _fail(f"interrupted.{hint}", 130)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
