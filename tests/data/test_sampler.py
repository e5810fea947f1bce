"""The minibatch sampler: shapes, epochs, draws, and exact resume from its state."""

from __future__ import annotations

import io

import pytest
import torch

from benchmark.data import BatchSampler, Samples
from benchmark.errors import ConfigError


def numbered(n: int) -> Samples:
    """Images whose pixels and label both equal their index, to track which were drawn."""
    x = torch.arange(n, dtype=torch.uint8).view(n, 1, 1, 1).expand(n, 1, 2, 2).contiguous()
    return Samples(x, torch.arange(n), "image")


def test_batches_are_float_in_unit_interval_with_labels() -> None:
    sampler = BatchSampler(numbered(10), batch_size=4, seed=0)
    x, y = sampler.next()
    assert x.shape == (4, 1, 2, 2) and x.dtype == torch.float32 and y.dtype == torch.int64
    assert torch.allclose(x[:, 0, 0, 0] * 255, y.float())


def test_each_epoch_is_a_permutation_and_draws_are_counted() -> None:
    sampler = BatchSampler(numbered(12), batch_size=4, seed=0)
    epochs = [torch.cat([sampler.next()[1] for _ in range(3)]) for _ in range(2)]
    assert all(sorted(e.tolist()) == list(range(12)) for e in epochs)
    assert not torch.equal(epochs[0], epochs[1])  # reshuffled
    assert sampler.draws == 6 and sampler.epoch == 1


def test_partial_last_batch_is_skipped() -> None:
    sampler = BatchSampler(numbered(10), batch_size=4, seed=0)
    assert [len(sampler.next()[1]) for _ in range(5)] == [4] * 5


def test_seed_sets_the_order() -> None:
    def first(seed: int) -> list[int]:
        return BatchSampler(numbered(50), 10, seed).next()[1].tolist()

    assert first(1) == first(1) and first(1) != first(2)


@pytest.mark.parametrize("drawn", [0, 2, 4])  # start, mid-epoch, just after an epoch boundary
def test_resume_draws_exactly_the_same_batches(drawn: int) -> None:
    data = numbered(10)
    original = BatchSampler(data, batch_size=3, seed=5)
    for _ in range(drawn):
        original.next()
    buffer = io.BytesIO()
    torch.save(original.state_dict(), buffer)  # as a checkpoint would hold it
    expected = [original.next()[1] for _ in range(7)]

    resumed = BatchSampler(data, batch_size=3, seed=99)
    buffer.seek(0)
    resumed.load_state_dict(torch.load(buffer, weights_only=True))
    assert resumed.draws == drawn
    got = [resumed.next()[1] for _ in range(7)]
    assert all(torch.equal(a, b) for a, b in zip(expected, got, strict=True))
    assert resumed.draws == original.draws == drawn + 7


def test_state_from_other_data_is_refused() -> None:
    state = BatchSampler(numbered(10), 3, 0).state_dict()
    with pytest.raises(ValueError, match="10 samples in batches of 3"):
        BatchSampler(numbered(12), 3, 0).load_state_dict(state)


def test_batch_larger_than_the_data_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"^data\.batch_size: 11 does not fit the 10 "):
        BatchSampler(numbered(10), 11, 0)


def test_points_pass_through_unchanged() -> None:
    points = Samples(torch.randn(8, 2), torch.zeros(8, dtype=torch.int64), "points")
    x, _ = BatchSampler(points, 8, 0).next()
    assert sorted(x[:, 0].tolist()) == sorted(points.x[:, 0].tolist())
