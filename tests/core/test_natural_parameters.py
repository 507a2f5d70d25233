"""Natural-unit parameters: values, inverses, names, gradients by the chain rule, loading values by natural name or
state_dict key, errors."""

import math

import pytest
import torch
from torch import nn

from populace.core.parameters import (
    Bounded,
    Positive,
    UnitInterval,
    load_values,
    natural_gradients,
    natural_name,
    natural_parameter,
    natural_parameters,
    unconstrained_value,
)


class Rates(nn.Module):
    def __init__(self):
        super().__init__()
        natural_parameter(self, "rate", [0.5, 2.0], Positive())
        natural_parameter(self, "share", 0.25, UnitInterval())
        natural_parameter(self, "slope", 1.5, Bounded(1.0, 3.0))
        self.plain = nn.Parameter(torch.tensor(7.0))


def test_unconstrained_values_are_the_float64_inverse_rounded_once():
    module = Rates()
    assert module.parametrizations.rate.original.tolist() == [
        torch.tensor(math.log(0.5)).item(), torch.tensor(math.log(2.0)).item()]
    assert module.parametrizations.share.original.item() == torch.tensor(math.log(0.25 / 0.75)).item()
    assert module.parametrizations.slope.original.item() == pytest.approx(math.log(0.25 / 0.75), abs=1e-7)
    assert module.rate.tolist() == pytest.approx([0.5, 2.0], rel=1e-7)
    assert module.slope.item() == pytest.approx(1.5, rel=1e-7)


def test_names_and_natural_values():
    module = nn.Module()
    module.inner = Rates()
    names = [name for name, _ in module.named_parameters()]
    assert "inner.parametrizations.rate.original" in names
    assert "inner.plain" in names
    assert natural_name("inner.parametrizations.rate.original") == "inner.rate"
    assert natural_name("parametrizations.rate.original") == "rate"
    assert natural_name("inner.plain") == "inner.plain"
    values = natural_parameters(module)
    assert sorted(values) == ["inner.plain", "inner.rate", "inner.share", "inner.slope"]
    assert values["inner.share"].item() == pytest.approx(0.25)
    assert not values["inner.rate"].requires_grad


def test_assigning_a_natural_value_sets_its_inverse():
    module = Rates()
    module.share = torch.tensor(0.9)
    assert module.parametrizations.share.original.item() == pytest.approx(math.log(9.0), rel=1e-6)


def test_natural_gradients_apply_the_chain_rule():
    module = Rates()
    loss = (module.rate ** 2).sum() + 3 * module.share + module.slope ** 3 + module.plain
    loss.backward()
    grads = natural_gradients(module)
    assert grads["rate"].tolist() == pytest.approx([1.0, 4.0], rel=1e-5)  # d/dx x^2 = 2x
    assert grads["share"].item() == pytest.approx(3.0, rel=1e-5)
    assert grads["slope"].item() == pytest.approx(3 * 1.5 ** 2, rel=1e-5)
    assert grads["plain"].item() == 1.0


@pytest.mark.parametrize(("constraint", "value", "message"), [
    (Positive(), 0.0, "a finite number > 0"),
    (Positive(), float("inf"), "a finite number > 0"),
    (UnitInterval(), 1.0, r"a number in \(0, 1\)"),
    (Bounded(1.0, 3.0), 3.5, r"a number in \(1, 3\)"),
])
def test_values_outside_the_support_name_the_parameter(constraint, value, message):
    with pytest.raises(ValueError, match=rf"Module\.x must be {message}, got"):
        natural_parameter(nn.Module(), "x", value, constraint)


def test_bounded_needs_an_interval():
    with pytest.raises(ValueError, match="finite low < high"):
        Bounded(2.0, 1.0)


def test_unconstrained_value_inverts_what_a_later_parametrization_computes():
    class Doubled(nn.Module):
        def forward(self, x):
            return 2 * x

    module = Rates()
    stored = module.parametrizations.rate.original
    assert torch.equal(unconstrained_value(module, "parametrizations.rate.original"), stored)
    assert unconstrained_value(module, "plain").item() == 7.0
    torch.nn.utils.parametrize.register_parametrization(module, "rate", Doubled(), unsafe=True)
    assert module.rate.tolist() == pytest.approx([1.0, 4.0])
    assert unconstrained_value(module, "parametrizations.rate.original").tolist() == pytest.approx(
        [0.0, math.log(4.0)], abs=1e-6)


def test_values_load_by_natural_name_or_state_dict_key_after_a_prefix():
    module = nn.Module()
    module.inner = Rates()
    module.register_buffer("scale", torch.tensor(1.0))
    load_values(module, {"model.inner.rate": [0.25, 4.0],  # natural units: u = log x
                         "model.inner.parametrizations.share.original": torch.tensor(math.log(3.0)),  # stored: u
                         "inner.slope": 2.0,  # the prefix is dropped where present
                         "model.inner.plain": torch.tensor(-1.0, dtype=torch.float64), "model.scale": 3.0},
                prefix="model.")
    assert module.inner.parametrizations.rate.original.tolist() == [
        torch.tensor(math.log(0.25)).item(), torch.tensor(math.log(4.0)).item()]
    assert module.inner.share.item() == pytest.approx(0.75)  # sigmoid(log 3)
    assert module.inner.slope.item() == pytest.approx(2.0)  # 1 + 2 sigmoid(0)
    assert module.inner.parametrizations.slope.original.item() == pytest.approx(0.0, abs=1e-7)
    assert module.inner.plain.item() == -1.0
    assert module.inner.plain.dtype == torch.float32
    assert module.scale.item() == 3.0
    load_values(module, {})  # names left out keep their values
    assert module.inner.share.item() == pytest.approx(0.75)


def test_unknown_names_wrong_shapes_and_values_outside_the_support_are_refused():
    module = Rates()
    with pytest.raises(KeyError, match=r"parameters \['m.rtae'\] are not in Rates \(its parameters and buffers, by "
                                       r"natural name after the prefix 'm.': plain, rate, share, slope; or by"):
        load_values(module, {"m.rtae": 1.0, "m.share": 0.5}, prefix="m.")
    with pytest.raises(ValueError, match=r"parameter rate has shape \[3\], the model's \[2\]"):
        load_values(module, {"rate": [1.0, 2.0, 3.0]})
    with pytest.raises(ValueError, match=r"parameter parametrizations.rate.original has shape \[\], the model's \[2\]"):
        load_values(module, {"parametrizations.rate.original": 0.0})  # no broadcasting
    with pytest.raises(ValueError, match=r"parameter share must be a number in \(0, 1\), got 1.5"):
        load_values(module, {"share": 1.5})
    assert module.share.item() == pytest.approx(0.25)  # nothing loaded from a refused mapping
