"""The discriminator's dropout: element-wise Bernoulli keep mask with 1 / (1 - p) scaling, as
torch's `nn.Dropout`, from a cheaper draw; identity in eval mode; seeded like the rest of a run."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from benchmark.models import ModelConfig, build_ali
from benchmark.models.dropout import Dropout


def test_the_image_discriminator_uses_the_cheap_dropout_everywhere() -> None:
    ali = build_ali(ModelConfig(z_dim=8, width=0.125), (3, 32, 32))
    dropouts = [m for m in ali.discriminator.modules() if isinstance(m, nn.Dropout)]
    assert dropouts and all(type(m) is Dropout and m.p == 0.2 for m in dropouts)


@pytest.mark.parametrize("p", [0.2, 0.5])
def test_each_element_is_kept_with_probability_1_minus_p_and_scaled(p: float) -> None:
    torch.manual_seed(0)
    n = 2_000_000
    x = torch.rand(n) + 0.5  # no zeros: a zero output means dropped
    y = Dropout(p)(x)
    kept = y != 0
    rate = kept.double().mean().item()
    assert abs(rate - (1 - p)) < 5 * math.sqrt(p * (1 - p) / n), rate
    torch.testing.assert_close(y[kept], x[kept] / (1 - p))
    # Element-wise, not per channel: within each channel of a channels-last batch both occur.
    images = torch.ones(4, 8, 16, 16).contiguous(memory_format=torch.channels_last)
    per_channel = (Dropout(p)(images) != 0).flatten(2).double().mean(-1)
    assert ((per_channel > 0) & (per_channel < 1)).all()
    # Pairs of neighbours are independent: both kept about (1 - p)^2 of the time.
    both = (kept[:-1] & kept[1:]).double().mean().item()
    assert abs(both - (1 - p) ** 2) < 5 * math.sqrt((1 - p) ** 2 / n)


def test_gradient_is_the_scaled_mask_and_eval_mode_is_the_identity() -> None:
    torch.manual_seed(1)
    x = torch.randn(64, 16, requires_grad=True)
    module = Dropout(0.2)
    y = module(x)
    y.sum().backward()
    mask = (y != 0).float()
    torch.testing.assert_close(x.grad, mask / 0.8)
    module.eval()
    assert module(x) is x
    assert Dropout(0.0)(x) is x
    assert (Dropout(1.0)(x) == 0).all()


def test_the_draws_follow_the_global_seed() -> None:
    x = torch.ones(1000)
    torch.manual_seed(7)
    a = Dropout(0.2)(x)
    torch.manual_seed(7)
    assert torch.equal(a, Dropout(0.2)(x))
    assert not torch.equal(a, Dropout(0.2)(x))
