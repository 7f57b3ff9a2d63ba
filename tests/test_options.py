"""RIG's options in one object: the faces' keywords are its fields, the defaults are named
once, and ``n_steps`` is checked by one rule wherever it is given."""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch import nn

from captum_rank import LayerRankIntegratedGradients, RankIntegratedGradients
from captum_rank.audit.explain import explain
from captum_rank.audit.spectrum import rank_spectrum
from captum_rank.checks import UserInputError, UserTypeError
from captum_rank.defaults import (
    AUDIT_N_STEPS,
    DEFAULT_FORM,
    DEFAULT_N_STEPS,
    DEFAULT_SCHEDULE,
    MAP_TOLERANCE,
    PHOTO_N_STEPS,
    RELIABILITY_TOLERANCE,
    check_n_steps,
)
from captum_rank.options import RigOptions
from captum_rank.schedules import ArcLengthSchedule, RankSchedule, SequentialSchedule

FIELDS = {field.name: field for field in dataclasses.fields(RigOptions)}

FACES: list[Callable[..., Any]] = [
    RankIntegratedGradients.attribute,
    RankIntegratedGradients.attribute_ranks,
    RankIntegratedGradients.attribute_with_ranks,
    LayerRankIntegratedGradients.attribute,
    LayerRankIntegratedGradients.attribute_ranks,
    LayerRankIntegratedGradients.attribute_with_ranks,
]


def _same(a: Any, b: Any) -> bool:
    """Equal values, or schedules of one type with equal settings (they define no __eq__)."""
    if isinstance(a, RankSchedule):
        return type(a) is type(b) and vars(a) == vars(b)
    return bool(a == b)


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(36, 3)).eval()


@pytest.mark.parametrize("face", FACES, ids=lambda f: f.__qualname__)
def test_every_face_takes_every_option_by_its_field_name_with_its_default(
    face: Callable[..., Any],
) -> None:
    parameters = inspect.signature(face).parameters
    assert set(FIELDS) <= set(parameters)
    defaults = RigOptions()
    for name in FIELDS:
        given = parameters[name].default
        # Layer RIG's schedule=None stands for RIG's default schedule.
        built = RigOptions.of_arguments({name: given})
        assert _same(getattr(built, name), getattr(defaults, name)), (face.__qualname__, name)


def test_the_defaults_are_the_named_ones() -> None:
    options = RigOptions()
    assert options.n_steps == DEFAULT_N_STEPS == 50
    assert isinstance(options.schedule, ArcLengthSchedule)
    assert options.schedule.name == DEFAULT_SCHEDULE
    assert options.form == DEFAULT_FORM
    assert options.method is None and options.tolerance is None
    assert inspect.signature(explain).parameters["n_steps"].default == AUDIT_N_STEPS
    assert inspect.signature(explain).parameters["map_tolerance"].default == MAP_TOLERANCE
    assert inspect.signature(rank_spectrum).parameters["n_steps"].default == AUDIT_N_STEPS
    assert inspect.signature(rank_spectrum).parameters["reliability_tolerance"].default == (
        RELIABILITY_TOLERANCE)
    assert PHOTO_N_STEPS > AUDIT_N_STEPS


def test_the_cli_defaults_are_the_named_ones() -> None:
    from captum_rank.cli import _build_parser

    parser = _build_parser()
    demo = parser.parse_args(["demo"])
    assert (demo.n_steps, demo.photo_n_steps, demo.map_tolerance, demo.reliability_tolerance) == (
        AUDIT_N_STEPS, PHOTO_N_STEPS, MAP_TOLERANCE, RELIABILITY_TOLERANCE)
    explained = parser.parse_args(["explain", "--model", "m", "x.png"])
    assert (explained.n_steps, explained.map_tolerance) == (PHOTO_N_STEPS, MAP_TOLERANCE)


def test_options_are_frozen_and_checked_once_on_construction() -> None:
    options = RigOptions.ensure(n_steps=8, schedule="sequential", tolerance=0.05)
    assert isinstance(options.schedule, SequentialSchedule)
    assert options.method == "adaptive"  # a tolerance asks for the adaptive rule
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.n_steps = 9  # type: ignore[misc]
    with pytest.raises(UserInputError, match="`map_tolerance` needs method='adaptive'"):
        RigOptions(method="riemann_left", map_tolerance=0.1)
    with pytest.raises(UserInputError, match="`tolerance`"):
        RigOptions(tolerance=-1.0)
    with pytest.raises(UserInputError, match="form"):
        RigOptions(form="sideways")
    with pytest.raises(UserInputError, match="method"):
        RigOptions(method="simpson")
    with pytest.raises(UserInputError, match="internal_batch_size"):
        RigOptions(internal_batch_size=0)


def test_ensure_coerces_or_raises() -> None:
    options = RigOptions(n_steps=8)
    assert RigOptions.ensure(options) is options
    assert RigOptions.ensure(options, n_steps=16).n_steps == 16
    assert RigOptions.ensure({"n_steps": 4}).n_steps == 4
    assert all(_same(getattr(RigOptions.ensure(), name), getattr(RigOptions(), name))
               for name in FIELDS)
    with pytest.raises(UserTypeError, match="Unknown RIG option"):
        RigOptions.ensure({"steps": 4})
    with pytest.raises(UserTypeError, match="RigOptions or a dict"):
        RigOptions.ensure(8)  # type: ignore[arg-type]


def test_the_rule_for_none_is_decided_by_the_inputs() -> None:
    options = RigOptions(n_steps=1)
    assert options.for_inputs((torch.rand(2, 5),)).method == "gausslegendre"
    with pytest.raises(UserInputError, match=r"`n_steps` must be an integer >= 2, got 1"):
        options.for_inputs((torch.rand(2, 1, 4, 4),))


def _message(call: Callable[[], Any]) -> str:
    with pytest.raises(UserInputError) as caught:
        call()
    return str(caught.value)


@pytest.mark.parametrize("n_steps", [1, 0, -3])
def test_entry_points_refuse_n_steps_with_rigs_own_message(n_steps: int) -> None:
    model = _model()
    images = torch.rand(2, 1, 6, 6)
    rig = _message(lambda: RankIntegratedGradients(model).attribute(
        images, target=0, n_steps=n_steps))
    assert rig == f"`n_steps` must be an integer >= 2, got {n_steps}."
    assert _message(lambda: explain(model, images, target=0, n_steps=n_steps)) == rig
    assert _message(lambda: rank_spectrum(
        model, (images, torch.tensor([0, 1])), n_steps=n_steps, progress=False)) == rig
    assert _message(lambda: check_n_steps(n_steps)) == rig


def test_a_fixed_rule_keeps_its_own_minimum() -> None:
    model = _model()
    images = torch.rand(2, 1, 6, 6)
    rig = RankIntegratedGradients(model)
    assert rig.attribute(images, target=0, n_steps=1, method="gausslegendre").shape == (
        images.shape)
    message = _message(lambda: rig.attribute(images, target=0, n_steps=1,
                                             method="riemann_left"))
    assert message == _message(lambda: check_n_steps(1, "riemann_left"))
    # explain checks against the quadrature it was given, as RIG does.
    result = explain(model, images, target=0, n_steps=1, method="gausslegendre",
                     exact=False)
    assert set(result.items["model"][0]["attributions"]) == {"rig", "ig"}
