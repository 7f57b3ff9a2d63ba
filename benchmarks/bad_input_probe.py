"""Probe captum-rank with bad inputs across the API, metrics, data and the command line.

Every case is a call that must not succeed quietly. Each is judged:

- ``clear``: a :class:`captum_rank.checks.UserInputError` (or subclass) whose message names
  the argument (the case's ``names``), a ``UserWarning`` saying so for the few cases
  whose answer is a warning (images in 0-255), or for the CLI exit status 2 with one
  line ``captum-rank: error: ...`` naming the flag;
- ``unclear``: any other exception, or a message that does not name the argument;
- ``silent``: the call returned (or the CLI exited 0) without a word;
- ``hang``: it ran past the time limit (an alarm ends it).

CLI cases call :func:`captum_rank.cli.main` in-process (a process each would cost a
second of imports). ``--fast`` runs every tenth case (the test suite's subset).

Usage::

    python benchmarks/bad_input_probe.py            # all cases, prints the table
    python benchmarks/bad_input_probe.py --fast     # a subset
    python benchmarks/bad_input_probe.py --show unclear,silent,hang   # list those cases
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import signal
import struct
import sys
import tempfile
import warnings
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import Tensor, nn

from captum_rank import RankIntegratedGradients, SpectralSchedule, zoo
from captum_rank import metrics as M
from captum_rank.baselines import mean_baseline, sample_baselines
from captum_rank.checks import UserInputError
from captum_rank.cli import main
from captum_rank.data import load_sample, to_model_input

torch.set_num_threads(1)

LIMIT_S = 20


class Case(NamedTuple):
    group: str
    label: str
    call: Callable[[], Any]
    names: tuple[str, ...] = ()
    warns: bool = False
    cli: bool = False


class _Hang(Exception):
    pass


def _alarm(signum: int, frame: Any) -> None:
    raise _Hang()


def judge(case: Case) -> tuple[str, str]:
    """``(verdict, detail)`` of one case."""
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(LIMIT_S)
    err = io.StringIO()
    try:
        with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stderr(err), \
                contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("always")
            result = case.call()
    except _Hang:
        return "hang", f"over {LIMIT_S} s"
    except UserInputError as e:
        text = str(e)
        if case.names and not any(n in text for n in case.names):
            return "unclear", f"does not name {case.names}: {text[:120]}"
        return "clear", text[:120]
    except SystemExit as e:
        return "unclear", f"SystemExit({e.code})"
    except Exception as e:
        return "unclear", f"{type(e).__name__}: {str(e)[:120]}"
    finally:
        signal.alarm(0)
    if case.cli:
        lines = [ln for ln in err.getvalue().splitlines() if ln.startswith("captum-rank: error:")]
        if result == 0:
            return "silent", "exit 0"
        if result == 2 and len(lines) == 1 and "Traceback" not in err.getvalue():
            if case.names and not any(n in lines[0] for n in case.names):
                return "unclear", f"does not name {case.names}: {lines[0][:120]}"
            return "clear", lines[0][:120]
        return "unclear", f"exit {result}: {err.getvalue()[-160:]!r}"
    if case.warns and any(issubclass(w.category, UserWarning) for w in caught):
        return "clear", str(caught[-1].message)[:120]
    words = [str(w.message)[:80] for w in caught if issubclass(w.category, UserWarning)]
    return "silent", f"returned {type(result).__name__}" + (f"; warned {words}" if words else "")


# --- shared fixtures ---------------------------------------------------------------------


class Small(nn.Module):
    """A smooth (N, 1, 8, 8) -> (N, 3) model."""

    def __init__(self, channels: int = 1) -> None:
        super().__init__()
        self.fc = nn.Linear(channels * 64, 3)

    def forward(self, x: Tensor, scale: Any = None) -> Tensor:
        out = torch.tanh(self.fc(x.flatten(1)))
        return out if scale is None else out * scale.view(-1, 1)


torch.manual_seed(0)
MODEL = Small().eval()
X = torch.rand(2, 1, 8, 8)
T = torch.tensor([0, 1])
RIG = RankIntegratedGradients(MODEL)
TMP = Path(tempfile.mkdtemp(prefix="captum-rank-probe-"))


def _nan(x: Tensor, value: float = float("nan")) -> Tensor:
    y = x.clone()
    y.view(-1)[0] = value
    return y


def _bomb() -> Path:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    path = TMP / "bomb.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n"
                     + chunk(b"IHDR", struct.pack(">IIBBBBB", 100_000, 100_000, 8, 0, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(b"\0" * 1000)) + chunk(b"IEND", b""))
    return path


def _files() -> dict[str, str]:
    from PIL import Image

    ok = TMP / "ok.png"
    Image.fromarray((np.arange(28 * 28) % 256).astype(np.uint8).reshape(28, 28)).save(ok)
    garbage = TMP / "garbage.png"
    garbage.write_bytes(b"not an image at all" * 10)
    fifo = TMP / "fifo"
    os.mkfifo(fifo)
    (TMP / "exit.py").write_text("import sys\nsys.exit(3)\n")
    (TMP / "raises.py").write_text("raise RuntimeError('boom')\n")
    (TMP / "net.py").write_text(
        "import torch\nclass Net(torch.nn.Sequential):\n    def __init__(self):\n"
        "        super().__init__(torch.nn.Flatten(), torch.nn.Linear(784, 10))\n"
        "class Five(torch.nn.Sequential):\n    def __init__(self):\n"
        "        super().__init__(torch.nn.Flatten(), torch.nn.Linear(5, 10))\n")
    weights = TMP / "junk.pt"
    weights.write_bytes(b"\0junk" * 50)
    state = zoo.load("fmnist-natural").state_dict()
    state["classifier.3.weight"][0, 0] = float("nan")
    torch.save(state, TMP / "nan.pt")
    state = zoo.load("fmnist-natural").state_dict()
    state["classifier.3.weight"] = torch.zeros(3, 3)
    torch.save(state, TMP / "shape.pt")
    (TMP / "afile").write_text("x")
    (TMP / "empty").mkdir()
    return {"ok": str(ok), "garbage": str(garbage), "fifo": str(fifo), "bomb": str(_bomb()),
            "exit": str(TMP / "exit.py"), "raises": str(TMP / "raises.py"),
            "net": str(TMP / "net.py"), "junk": str(weights), "nanw": str(TMP / "nan.pt"),
            "shapew": str(TMP / "shape.pt"), "afile": str(TMP / "afile"),
            "empty": str(TMP / "empty")}


# --- the cases ---------------------------------------------------------------------------


def api_cases() -> Iterator[Case]:
    bad_args: list[tuple[str, Any, tuple[str, ...]]] = [
        ("n_steps", 0, ("n_steps",)), ("n_steps", -3, ("n_steps",)),
        ("n_steps", 2.5, ("n_steps",)), ("n_steps", "8", ("n_steps",)),
        ("n_steps", True, ("n_steps",)), ("n_steps", 10**9, ("n_steps",)),
        ("n_steps", float("nan"), ("n_steps",)),
        ("method", "bogus", ("method",)), ("method", 3, ("method",)),
        ("internal_batch_size", 0, ("internal_batch_size",)),
        ("internal_batch_size", -1, ("internal_batch_size",)),
        ("internal_batch_size", 1.5, ("internal_batch_size",)),
        ("internal_batch_size", "4", ("internal_batch_size",)),
        ("target", 3, ("target",)), ("target", -4, ("target",)), ("target", 2.7, ("target",)),
        ("target", "a", ("target",)), ("target", [0, 1, 2], ("target",)),
        ("target", torch.tensor([0, 1, 2]), ("target",)), ("target", None, ("target",)),
        ("target", torch.tensor([0.5, 1.0]), ("target",)),
        ("baselines", torch.rand(3, 1, 8, 8), ("baselines",)),
        ("baselines", torch.rand(2, 1, 8, 7), ("baselines",)),
        ("baselines", _nan(X), ("baselines",)), ("baselines", "zero", ("baselines",)),
        ("baselines", float("nan"), ("baselines",)), ("baselines", float("inf"), ("baselines",)),
        ("schedule", "bogus", ("schedule",)), ("schedule", 3, ("schedule",)),
        ("schedule", SpectralSchedule, ("schedule",)),
        ("form", "bad", ("form",)), ("form", 1, ("form",)),
        ("tolerance", -1.0, ("tolerance",)), ("tolerance", float("nan"), ("tolerance",)),
        ("tolerance", "0.1", ("tolerance",)),
        ("map_tolerance", -1.0, ("map_tolerance",)), ("map_tolerance", "x", ("map_tolerance",)),
        ("return_convergence_delta", 1, ("return_convergence_delta",)),
        ("return_convergence_delta", "yes", ("return_convergence_delta",)),
        ("additional_forward_args", (torch.tensor([1.0, float("nan")]),),
         ("additional_forward_args",)),
        ("additional_forward_args", (torch.ones(3),), ("additional_forward_args",)),
    ]
    for method_name in ("attribute", "attribute_ranks", "attribute_with_ranks"):
        fn = getattr(RIG, method_name)
        for arg, value, names in bad_args:
            kwargs: dict[str, Any] = {"target": 0, "n_steps": 4, arg: value}
            yield Case("api", f"{method_name}({arg}={value!r:.30})",
                       lambda fn=fn, kwargs=kwargs: fn(X, **kwargs), names)
    bad_inputs: list[tuple[str, Any]] = [
        ("NaN", _nan(X)), ("inf", _nan(X, float("inf"))), ("3e38", _nan(X, 3e38)),
        ("int", (X * 255).long()), ("1-d", torch.rand(8)), ("list", [[0.1, 0.2]]),
        ("empty", torch.rand(0, 1, 8, 8)), ("string", "image.png"),
        ("wrong channels", torch.rand(2, 3, 8, 8)), ("wrong size", torch.rand(2, 1, 9, 9)),
        ("numpy", X.numpy()), ("None", None),
    ]
    for label, value in bad_inputs:
        for method_name in ("attribute", "attribute_ranks", "exact_ranks"):
            fn = getattr(RIG, method_name)
            steps = {} if method_name == "exact_ranks" else {"n_steps": 4}
            yield Case("api", f"{method_name}(inputs={label})",
                       lambda fn=fn, value=value, steps=steps: fn(value, target=0, **steps),
                       ("inputs", "model", "forward_func"))
    for value in (1, "False", None, 0.0):
        yield Case("api", f"RankIntegratedGradients(multiply_by_inputs={value!r})",
                   lambda value=value: RankIntegratedGradients(MODEL, value),
                   ("multiply_by_inputs",))
    yield Case("api", "RankIntegratedGradients(forward_func=3)",
               lambda: RankIntegratedGradients(3).attribute(X, target=0), ("forward_func",))

    def int_model(x: Tensor) -> Tensor:
        return (x.flatten(1)[:, :3] * 10).long()

    def three_d_model(x: Tensor) -> Tensor:
        return x[:, :, :3, 0]

    def nan_model(x: Tensor) -> Tensor:
        return MODEL(x) * float("nan")

    for label, fn in (("integer outputs", int_model), ("3-d outputs", three_d_model),
                      ("NaN outputs", nan_model)):
        yield Case("api", f"model with {label}",
                   lambda fn=fn: RankIntegratedGradients(fn).attribute(X, target=0, n_steps=4),
                   ("forward_func", "output", "model"))
    for attr, value in (("shape", "cosin"), ("channels", "jiont"), ("sigmoid_gain", 0.0)):
        def mutated(attr: str = attr, value: Any = value) -> Any:
            schedule = SpectralSchedule()
            setattr(schedule, attr, value)
            return RIG.attribute(X, target=0, schedule=schedule, n_steps=4)
        yield Case("api", f"schedule.{attr} changed to {value!r}", mutated, (attr,))
    a = RIG.attribute(X, target=0, n_steps=4)
    for label, attributions in (("wrong shape", torch.zeros(2, 5)),
                                ("wrong width", torch.zeros(2, 1, 8, 7)),
                                ("two for one input", (a, a)), ("list", [1.0])):
        yield Case("api", f"compute_convergence_delta({label})",
                   lambda attributions=attributions: RIG.compute_convergence_delta(
                       attributions, 0.0, X, target=0), ("attributions",))
    for label, value in (("NaN", _nan(torch.rand(4, 1, 8, 8))), ("string", "data"),
                         ("empty", torch.rand(0, 1, 8, 8)), ("int", torch.ones(3, 2).long())):
        yield Case("api", f"mean_baseline({label})", lambda value=value: mean_baseline(value),
                   ("data",))
        yield Case("api", f"sample_baselines({label})",
                   lambda value=value: sample_baselines(value, 2), ("data",))
    for label, kwargs in (("num_baselines=0", {"num_baselines": 0}),
                          ("num_examples=-1", {"num_baselines": 2, "num_examples": -1}),
                          ("seed=-1", {"num_baselines": 2, "seed": -1})):
        yield Case("api", f"sample_baselines({label})",
                   lambda kwargs=kwargs: sample_baselines(X, **kwargs),
                   tuple(k for k in kwargs if k != "num_baselines") or ("num_baselines",))


def metric_cases() -> Iterator[Case]:
    pixel: dict[str, Callable[..., Any]] = {
        "insertion_deletion": lambda x, a, t, **k: M.insertion_deletion(MODEL, x, a, t, **k),
        "diffid": lambda x, a, t, **k: M.diffid(MODEL, x, a, t, **k),
        "road": lambda x, a, t, **k: M.road(MODEL, x, a, t, **k),
        "faithfulness_correlation": lambda x, a, t, **k: M.faithfulness_correlation(
            MODEL, x, a, t, **k),
    }
    good = torch.rand_like(X)
    maps: list[tuple[str, Any, tuple[str, ...]]] = [
        ("zero map", torch.zeros_like(X), ("attributions",)),
        ("constant map", torch.ones_like(X), ("attributions",)),
        ("NaN map", _nan(good), ("attributions",)),
        ("inf map", _nan(good, float("inf")), ("attributions",)),
        ("wrong-shape map", torch.rand(2, 1, 8, 7), ("attributions",)),
        ("list map", [[0.0]], ("attributions",)),
        ("one-example map", torch.rand(1, 1, 8, 8), ("attributions",)),
    ]
    for name, fn in pixel.items():
        for label, value, names in maps:
            yield Case("metrics", f"{name}({label})",
                       lambda fn=fn, value=value: fn(X, value, T), names)
        for label, value in (("NaN inputs", _nan(X)), ("inf inputs", _nan(X, float("inf"))),
                             ("1-d inputs", torch.rand(8))):
            yield Case("metrics", f"{name}({label})",
                       lambda fn=fn, value=value: fn(value, good if value.dim() == 4 else value,
                                                     T), ("inputs",))
        for label, target in (("target=5", 5), ("target=-1", -1), ("target=2.5", 2.5),
                              ("target of 3 for 2", [0, 1, 2])):
            yield Case("metrics", f"{name}({label})",
                       lambda fn=fn, target=target: fn(X, good, target), ("target",))
    for label, kwargs in (("steps=0", {"steps": 0}), ("steps=10**7", {"steps": 10**7}),
                          ("steps=2.5", {"steps": 2.5}), ("score='bogus'", {"score": "bogus"}),
                          ("fill='bogus'", {"fill": "bogus"}), ("fill=nan", {"fill": float("nan")}),
                          ("abs=1", {"abs": 1}),
                          ("internal_batch_size=0", {"internal_batch_size": 0})):
        yield Case("metrics", f"insertion_deletion({label})",
                   lambda kwargs=kwargs: M.insertion_deletion(MODEL, X, good, T, **kwargs),
                   tuple(kwargs))
    scores = torch.rand(2, 1, 8)
    for label, value, names in (("zero scores", torch.zeros(2, 1, 8), ("rank_scores",)),
                                ("NaN scores", _nan(scores), ("rank_scores",)),
                                ("wrong-shape scores", torch.rand(2, 1, 5), ("rank_scores",)),
                                ("list scores", [1.0], ("rank_scores",))):
        yield Case("metrics", f"rank_deletion({label})",
                   lambda value=value: M.rank_deletion(MODEL, X, value, target=T), names)
    for label, kwargs, names in (
            ("NaN inputs", {"inputs": _nan(X)}, ("inputs",)),
            ("2-d inputs", {"inputs": torch.rand(2, 8)}, ("inputs",)),
            ("mode='bogus'", {"mode": "bogus"}, ("mode",)),
            ("counts=[99]", {"counts": [99]}, ("counts",)),
            ("counts='3'", {"counts": "3"}, ("counts",)),
            ("steps=0", {"steps": 0}, ("steps",)),
            ("score='x'", {"score": "x"}, ("score",)),
            ("target=7", {"target": 7}, ("target",))):
        def rd(kwargs: dict[str, Any] = kwargs) -> Any:
            options = {"inputs": X, "target": T, **kwargs}
            return M.rank_deletion(MODEL, options.pop("inputs"), scores, **options)
        yield Case("metrics", f"rank_deletion({label})", rd, names)
    conv = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.Flatten(), nn.Linear(128, 3)).eval()

    def nan_explain(m: nn.Module, x: Tensor, t: Tensor) -> Tensor:
        return torch.full_like(x, float("nan"))

    def flat_explain(m: nn.Module, x: Tensor, t: Tensor) -> Tensor:
        return torch.rand(x.shape[0], 5)

    for label, explainer in (("NaN maps", nan_explain), ("wrong-shape maps", flat_explain)):
        yield Case("metrics", f"cascading_randomization({label})",
                   lambda explainer=explainer: M.cascading_randomization(conv, explainer, X, 0),
                   ("explain",))
        yield Case("metrics", f"random_logit({label})",
                   lambda explainer=explainer: M.random_logit(conv, explainer, X, 0,
                                                              num_classes=3), ("explain",))
    for label, kwargs, names in (("layers=['nope']", {"layers": ["nope"]}, ("layers",)),
                                 ("layers=[[]]", {"layers": [[]]}, ("layers",)),
                                 ("seed='a'", {"seed": "a"}, ("seed",)),
                                 ("target=9", {"target": 9}, ("target",)),
                                 ("explain=3", {"explain": 3}, ("explain",)),
                                 ("inputs 3-d", {"inputs": torch.rand(2, 8, 8)}, ("inputs",))):
        def cr(kwargs: dict[str, Any] = kwargs) -> Any:
            options = {"explain": M.sobel_map, "inputs": X, "target": 0, **kwargs}
            return M.cascading_randomization(conv, **options)
        yield Case("metrics", f"cascading_randomization({label})", cr, names)
    x255 = (X * 255).round().numpy()
    yield Case("metrics", "quantus_explain(images in 0-255)",
               lambda: M.quantus_explain(MODEL, x255, np.array([0, 1]), n_steps=4), warns=True)
    for label, kwargs, names in (("multiply_by_inputs=1", {"multiply_by_inputs": 1},
                                  ("multiply_by_inputs",)),
                                 ("reduce_axes='1'", {"reduce_axes": "1"}, ("reduce_axes",)),
                                 ("unknown keyword", {"bogus": 1}, ("bogus",)),
                                 ("targets 2.5", {}, ("target",))):
        def qe(kwargs: dict[str, Any] = kwargs, label: str = label) -> Any:
            targets = np.array([0.0, 2.5]) if label == "targets 2.5" else np.array([0, 1])
            return M.quantus_explain(MODEL, X.numpy(), targets, n_steps=4, **kwargs)
        yield Case("metrics", f"quantus_explain({label})", qe, names)


def data_cases(files: dict[str, str]) -> Iterator[Case]:
    from captum_rank.audit import rank_accuracy
    from captum_rank.audit.loading import load_data, load_images, load_model, read_image

    for label, path, names in (("missing file", str(TMP / "nope.png"), ("nope.png",)),
                               ("folder", files["empty"], ("is a folder",)),
                               ("FIFO", files["fifo"], ("fifo",)),
                               ("/dev/zero", "/dev/zero", ("/dev/zero",)),
                               ("decompression bomb", files["bomb"], ("bomb",)),
                               ("garbage bytes", files["garbage"], ("garbage",))):
        yield Case("data", f"read_image({label})", lambda path=path: read_image(path), names)
        yield Case("data", f"load_images([{label}])", lambda path=path: load_images([path]),
                   names)
    yield Case("data", "load_images([])", lambda: load_images([]), ("image",))
    yield Case("data", "load_images(shape=(2, 8, 8))",
               lambda: load_images([files["ok"]], shape=(2, 8, 8)), ("shape", "C"))
    arrays: list[tuple[str, Any]] = [
        ("4-d array", np.zeros((1, 2, 8, 8))), ("empty array", np.zeros((0, 8))),
        ("NaN float image", np.full((8, 8), np.nan, dtype=np.float32)),
        ("float image in 0-255", np.full((8, 8), 200.0, dtype=np.float32)),
        ("negative ints", np.full((8, 8), -3, dtype=np.int32)),
        ("a string", "a.png"), ("a list", [[1, 2]]), ("5 channels", np.zeros((8, 8, 5))),
    ]
    for label, value in arrays:
        yield Case("data", f"to_model_input({label})",
                   lambda value=value: to_model_input(value, 8), ("image",))
    for label, kwargs, names in (("size=0", {"size": 0}, ("size",)),
                                 ("channels=2", {"channels": 2}, ("channels",)),
                                 ("interpolation='x'", {"interpolation": "x"},
                                  ("interpolation",)),
                                 ("resize=-1", {"resize": -1}, ("resize",))):
        yield Case("data", f"to_model_input({label})",
                   lambda kwargs=kwargs: to_model_input(np.zeros((8, 8), dtype=np.uint8),
                                                        **{"size": 8, **kwargs}), names)
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS  # the default limit stays in force
    yield Case("data", "to_model_input(bomb PIL image, limit lifted)",
               lambda: _lifted_bomb(files["bomb"]), ("image",))
    for value in (1, "yes", None):
        yield Case("data", f"load_sample(return_indices={value!r})",
                   lambda value=value: load_sample(return_indices=value), ("return_indices",))
    for label, value in (("unknown", "fmnist-nope"), ("int", 3), ("empty", ""),
                         ("250 characters", "a" * 250)):
        yield Case("data", f"zoo.load({label})", lambda value=value: zoo.load(value), ("name",))
    for label, spec, weights, names in (
            ("missing model file", str(TMP / "no.py") + ":Net", None, ("no.py",)),
            ("sys.exit in model file", files["exit"] + ":Net", None, ("sys.exit",)),
            ("model file raises", files["raises"] + ":Net", None, ("raises.py",)),
            ("no such class", files["net"] + ":Nope", None, ("Nope",)),
            ("garbage weights", "fmnist-natural", files["junk"], ("junk.pt",)),
            ("NaN weights", "fmnist-natural", files["nanw"], ("nan.pt",)),
            ("wrong-shape weights", "fmnist-natural", files["shapew"], ("shape.pt",)),
            ("missing weights", "fmnist-natural", str(TMP / "none.pt"), ("none.pt",)),
            ("unknown module", "no_such_module_xyz:Net", None, ("no_such_module_xyz",)),
            ("250-character name", "a" * 250, None, ("unknown model",))):
        yield Case("data", f"load_model({label})",
                   lambda spec=spec, weights=weights: load_model(spec, weights), names)
    for device in ("gpu", "cuda:99", "bogus:0"):
        yield Case("data", f"zoo.load(device={device!r})",
                   lambda device=device: zoo.load("fmnist-natural", device=device),
                   ("device",))
        yield Case("data", f"rank_accuracy(device={device!r})",
                   lambda device=device: rank_accuracy(MODEL_28, load_sample(), [0, 28],
                                                       device=device, progress=False),
                   ("device",))
    for label, data, names in (("missing folder", str(TMP / "nowhere"), ("data",)),
                               ("a file", files["afile"], ("data",)),
                               ("empty folder", files["empty"], ("data",)),
                               ("unknown name", "mnist", ("data",))):
        yield Case("data", f"load_data({label})", lambda data=data: load_data(data), names)
    x, y = load_sample()
    yield Case("data", "audit on images in 0-255",
               lambda: rank_accuracy(MODEL_28, ((x[:4] * 255).round(), y[:4]), [0, 28],
                                     progress=False), warns=True)
    for label, kwargs, names in (("ranks=[99]", {"ranks": [99]}, ("ranks",)),
                                 ("ranks='a'", {"ranks": "a"}, ("ranks",)),
                                 ("batch_size=0", {"batch_size": 0}, ("batch_size",)),
                                 ("labels of 3 for 4", {"labels": True}, ("labels", "data")),
                                 ("NaN images", {"nan": True}, ("data", "images", "NaN"))):
        def ra(given: dict[str, Any] = kwargs) -> Any:
            kwargs = dict(given)
            images, labels = x[:4].clone(), y[:4]
            if kwargs.pop("labels", False):
                labels = y[:3]
            if kwargs.pop("nan", False):
                images[0, 0, 0, 0] = float("nan")
            options = {"ranks": [0, 28], **kwargs}
            return rank_accuracy(MODEL_28, (images, labels), progress=False, **options)
        yield Case("data", f"rank_accuracy({label})", ra, names)
    yield Case("data", "rank_accuracy(model changes its input in place)",
               lambda: rank_accuracy(InPlace(), (x[:4].clone(), y[:4]), [0, 28],
                                     progress=False), ("in place",))


class InPlace(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        x.data.mul_(0.5)
        return x.flatten(1)[:, :10]


MODEL_28 = nn.Sequential(nn.Flatten(), nn.Linear(784, 10)).eval()


def _lifted_bomb(path: str) -> Any:
    from PIL import Image

    old = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None
    try:
        return to_model_input(Image.open(path), 8)
    finally:
        Image.MAX_IMAGE_PIXELS = old


def cli_cases(files: dict[str, str]) -> Iterator[Case]:
    out = str(TMP / "out")
    explain = ["explain", "--model", "fmnist-natural", files["ok"], "--out", out,
               "--no-progress"]
    audit = ["audit", "--model", "fmnist-natural", "--data", "sample", "--out", out,
             "--no-progress", "--limit", "4", "--spectrum-limit", "0"]
    variants: list[tuple[list[str], list[str], tuple[str, ...]]] = [
        (explain, ["--n-steps", "0"], ("--n-steps",)),
        (explain, ["--n-steps", "x"], ("--n-steps",)),
        (explain, ["--threads", "0"], ("--threads",)),
        (explain, ["--reliability-tolerance", "-1"], ("--reliability-tolerance",)),
        (explain, ["--map-tolerance", "-1"], ("--map-tolerance",)),
        (explain, ["--internal-batch-size", "0"], ("--internal-batch-size",)),
        (explain, ["--target", "-1"], ("--target",)),
        (explain, ["--target", "99"], ("target",)),
        (explain, ["--schedule", "bogus"], ("--schedule",)),
        (explain, ["--input-shape", "2x8x8"], ("--input-shape",)),
        (explain, ["--out", ""], ("--out",)),
        (explain, ["--out", files["afile"]], ("--out",)),
        (explain, ["--out", str(TMP / ("d" * 300))], ("--out",)),
        (explain, ["--out", "/proc/captum"], ("--out",)),
        (explain, ["--weights", files["junk"]], ("junk.pt",)),
        (explain, ["--weights", files["nanw"]], ("nan.pt",)),
        (explain, ["--weights", str(TMP / "none.pt")], ("--weights",)),
        (explain, ["--weights", files["junk"], "--weights", files["junk"]], ("--weights",)),
        (["explain", "--model", "nope", files["ok"], "--out", out], [], ("nope",)),
        (["explain", "--model", files["exit"] + ":Net", files["ok"], "--out", out], [],
         ("sys.exit",)),
        (["explain", "--model", files["net"] + ":Five", files["ok"], "--out", out,
          "--input-shape", "1x28x28"], [], ("Five",)),
        (["explain", "--model", "fmnist-natural", str(TMP / "nope.png"), "--out", out], [],
         ("IMAGE",)),
        (["explain", "--model", "fmnist-natural", files["empty"], "--out", out], [],
         ("IMAGE",)),
        (["explain", "--model", "fmnist-natural", files["fifo"], "--out", out], [],
         ("not a regular file",)),
        (["explain", "--model", "fmnist-natural", "/dev/zero", "--out", out], [],
         ("not a regular file",)),
        (["explain", "--model", "fmnist-natural", files["bomb"], "--out", out], [],
         ("decompression bomb",)),
        (["explain", "--model", "fmnist-natural", files["garbage"], "--out", out], [],
         ("garbage.png",)),
        (audit, ["--ranks", "a"], ("--ranks", "ranks")),
        (audit, ["--ranks", "99"], ("ranks",)),
        (audit, ["--limit", "0"], ("--limit",)),
        (audit, ["--batch-size", "0"], ("--batch-size",)),
        (audit, ["--seed", "-1"], ("--seed",)),
        (audit, ["--spectrum-limit", "-1"], ("--spectrum-limit",)),
        (audit, ["--device", "bogus"], ("--device",)),
        (audit, ["--device", "cuda:99"], ("--device",)),
        (audit, ["--checkpoint", files["empty"]], ("--checkpoint",)),
        (audit, ["--checkpoint", str(TMP / ("c" * 300))], ("--checkpoint",)),
        (audit, ["--split", "val"], ("--split",)),
        (["audit", "--model", "fmnist-natural", "--data", str(TMP / "nowhere"),
          "--out", out], [], ("--data",)),
        (["audit", "--model", "fmnist-natural", "--data", files["afile"], "--out", out], [],
         ("--data",)),
        (["demo", "--out", out, "--per-class", "0"], [], ("--per-class",)),
        (["demo", "--out", out, "--photos", "-1"], [], ("--photos",)),
        (["demo", "--out", out, "--n-steps", "1"], [], ("--n-steps",)),
        (["demo", "--out", out, "--accuracy-photos", "0"], [], ("--accuracy-photos",)),
        (["bogus-command"], [], ("bogus-command",)),
    ]
    for base, extra, names in variants:
        argv = [*base, *extra]
        yield Case("cli", "captum-rank " + " ".join(a if len(a) < 40 else a[:37] + "..."
                                                     for a in argv[:1] + extra or argv[1:4]),
                   lambda argv=argv: main(argv), names, cli=True)


def all_cases() -> list[Case]:
    files = _files()
    return [*api_cases(), *metric_cases(), *data_cases(files), *cli_cases(files)]


def run(fast: bool = False, show: set[str] | None = None) -> dict[str, dict[str, int]]:
    """Judge the cases; return ``{group: {verdict: count}}`` and print the table."""
    cases = all_cases()
    if fast:
        cases = cases[::10]
    table: dict[str, dict[str, int]] = {}
    listed = []
    for case in cases:
        verdict, detail = judge(case)
        row = table.setdefault(case.group, {"cases": 0, "clear": 0, "unclear": 0, "silent": 0,
                                            "hang": 0})
        row["cases"] += 1
        row[verdict] += 1
        if show and verdict in show:
            listed.append(f"{verdict:8} {case.group:8} {case.label}: {detail}")
    total = {k: sum(r[k] for r in table.values())
             for k in ("cases", "clear", "unclear", "silent", "hang")}
    print("| class | cases | clear | unclear | silent | hang |")
    print("|---|---:|---:|---:|---:|---:|")
    for group, row in [*table.items(), ("all", total)]:
        print(f"| {group} | {row['cases']} | {row['clear']} | {row['unclear']} | "
              f"{row['silent']} | {row['hang']} |")
    print(f"\nclear: {100.0 * total['clear'] / max(1, total['cases']):.1f}% of "
          f"{total['cases']} cases")
    for line in listed:
        print(line)
    table["all"] = total
    return table


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fast", action="store_true", help="every tenth case only")
    parser.add_argument("--show", default="unclear,silent,hang",
                        help="verdicts whose cases are listed (comma-separated)")
    args = parser.parse_args()
    os.environ.setdefault("XDG_CONFIG_HOME", str(TMP / "config"))
    run(args.fast, set(args.show.split(",")) if args.show else None)
    sys.exit(0)
