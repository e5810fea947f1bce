"""Parameter averaging: the uniform mean and the EMA against their definitions, live buffers in
the averaged copy, and exact resume."""

import copy
import io

import pytest
import torch
from torch import nn

from optim import ParameterAverage


def make_module() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))


def train(module: nn.Module, average: ParameterAverage, opt, first: int, steps: int) -> list:
    """Real SGD steps on a fixed regression task; returns the parameter snapshots averaged."""
    snapshots = []
    for i in range(first, first + steps):
        x = torch.randn(16, 3, generator=torch.Generator().manual_seed(i))
        opt.zero_grad()
        nn.functional.mse_loss(module(x), x[:, :2].cos()).backward()
        opt.step()
        average.update()
        snapshots.append([p.detach().clone() for p in module.parameters()])
    return snapshots


def test_uniform_average_is_the_mean_of_the_snapshots() -> None:
    module = make_module()
    average = ParameterAverage(module, "uniform")
    snapshots = train(module, average, torch.optim.SGD(module.parameters(), lr=0.1), 0, 25)
    averaged = average.averaged_module()
    for i, p in enumerate(averaged.parameters()):
        mean = torch.stack([s[i] for s in snapshots]).mean(dim=0)
        torch.testing.assert_close(p, mean, rtol=1e-5, atol=1e-6)
    assert not torch.allclose(averaged[0].weight, module[0].weight)
    assert average.steps == 25


def test_ema_follows_its_recurrence_from_the_first_snapshot() -> None:
    module = make_module()
    average = ParameterAverage(module, "ema", decay=0.8)
    snapshots = train(module, average, torch.optim.SGD(module.parameters(), lr=0.1), 0, 15)
    expected = [t.clone() for t in snapshots[0]]
    for snap in snapshots[1:]:
        expected = [0.8 * e + 0.2 * s for e, s in zip(expected, snap, strict=True)]
    for p, e in zip(average.averaged_module().parameters(), expected, strict=True):
        torch.testing.assert_close(p, e, rtol=1e-5, atol=1e-6)


def test_averaged_module_takes_live_buffers_and_leaves_the_live_module_alone() -> None:
    module = make_module()
    average = ParameterAverage(module, "ema", decay=0.5)
    train(module, average, torch.optim.SGD(module.parameters(), lr=0.1), 0, 5)
    live = copy.deepcopy(module.state_dict())
    averaged = average.averaged_module()
    assert averaged is not module
    torch.testing.assert_close(averaged[1].running_mean, module[1].running_mean, rtol=0, atol=0)
    assert averaged[1].num_batches_tracked.item() == 5
    for key, value in module.state_dict().items():
        assert torch.equal(value, live[key])
    assert all(p.grad is None for p in averaged.parameters())


def test_before_any_update_the_average_is_the_module() -> None:
    module = make_module()
    averaged = ParameterAverage(module, "uniform").averaged_module()
    for a, b in zip(averaged.parameters(), module.parameters(), strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize("kind", ["uniform", "ema"])
def test_state_dict_round_trip_resumes_exactly(kind: str) -> None:
    module = make_module()
    opt = torch.optim.SGD(module.parameters(), lr=0.1)
    average = ParameterAverage(module, kind, decay=0.9)
    train(module, average, opt, 0, 7)
    buffer = io.BytesIO()
    torch.save({"module": module.state_dict(), "avg": average.state_dict()}, buffer)
    train(module, average, opt, 7, 6)

    buffer.seek(0)
    saved = torch.load(buffer)
    resumed = make_module()
    resumed.load_state_dict(saved["module"])
    resumed_average = ParameterAverage(resumed, kind, decay=0.9)
    resumed_average.load_state_dict(saved["avg"])
    assert resumed_average.steps == 7
    train(resumed, resumed_average, torch.optim.SGD(resumed.parameters(), lr=0.1), 7, 6)

    got = resumed_average.averaged_module().state_dict()
    for key, value in average.averaged_module().state_dict().items():
        assert torch.equal(got[key], value), key


def test_unknown_kind_lists_the_known_ones() -> None:
    message = r"^Invalid average kind: 'swa' \(choose from: ema, uniform\)$"
    with pytest.raises(ValueError, match=message):
        ParameterAverage(make_module(), "swa")


def test_decay_out_of_range_raises() -> None:
    with pytest.raises(ValueError, match=r"^Invalid decay value: 1.0 \(must be in \[0, 1\)\)"):
        ParameterAverage(make_module(), "ema", decay=1.0)


def test_loading_another_kind_is_refused() -> None:
    state = ParameterAverage(make_module(), "uniform").state_dict()
    with pytest.raises(ValueError, match="^Saved average has kind 'uniform' but this one has 'ema'"):
        ParameterAverage(make_module(), "ema").load_state_dict(state)
