"""The ALI networks: shapes at every size, the reparametrization, the paper's table."""

import pytest
import torch

from benchmark.errors import ConfigError
from benchmark.models import ModelConfig, build_ali, build_encoder
from benchmark.models.tables import ARCHITECTURES


@pytest.mark.parametrize("size", [28, 32, 64])
@pytest.mark.parametrize("channels", [1, 3])
def test_shapes_of_every_network(size, channels):
    torch.manual_seed(0)
    ali = build_ali(ModelConfig(z_dim=8, width=0.125), (channels, size, size))
    x = torch.rand(3, channels, size, size)
    encoded = ali.encoder(x)
    assert encoded.z.shape == encoded.mu.shape == encoded.log_sigma.shape == (3, 8)
    x_hat = ali.decoder(encoded.z).detach()
    assert x_hat.shape == x.shape
    assert float(x_hat.min()) >= 0.0 and float(x_hat.max()) <= 1.0  # sigmoid output, images in [0,1]
    assert ali.discriminator(x, encoded.z).shape == (3,)


def test_points_networks_for_the_mixture():
    ali = build_ali(ModelConfig(z_dim=4, hidden=16), (2,))
    x = torch.randn(5, 2)
    encoded = ali.encoder(x)
    assert encoded.z.shape == (5, 4) and ali.decoder(encoded.z).shape == (5, 2)
    assert ali.discriminator(x, encoded.z).shape == (5,)


def test_encoder_noise_is_per_sample_and_per_dimension():
    """Trap: one eps per sample, or none (mu * sigma), silently changes the model."""
    torch.manual_seed(0)
    encoder = build_encoder(ModelConfig(z_dim=16, width=0.125), (1, 28, 28)).eval()
    x = torch.rand(1, 1, 28, 28).repeat(4000, 1, 1, 1)
    with torch.no_grad():
        out = encoder(x)
    mu, sigma = out.mu[0], out.log_sigma[0].exp()
    # Across draws, each dimension has the mean and spread the encoder reports...
    torch.testing.assert_close(out.z.mean(0), mu, atol=float(4 * sigma.max() / 60), rtol=0)
    torch.testing.assert_close(out.z.std(0), sigma, rtol=0.06, atol=0)
    # ... and the standardised noise is uncorrelated across dimensions.
    eps = (out.z - mu) / sigma
    corr = torch.corrcoef(eps.T)
    off_diagonal = corr - torch.diag(torch.diag(corr))
    assert off_diagonal.abs().max() < 0.1


def test_given_noise_is_used():
    encoder = build_encoder(ModelConfig(z_dim=4, width=0.125), (1, 28, 28)).eval()
    x = torch.rand(2, 1, 28, 28)
    eps = torch.randn(2, 4)
    a, b = encoder(x, eps), encoder(x, eps)
    torch.testing.assert_close(a.z, b.z)
    torch.testing.assert_close(a.z, a.mu + a.log_sigma.exp() * eps)


def test_paper_table_for_32x32():
    """The seed report's Figure 15: seven encoder convolutions ending in 2 * z_dim channels."""
    ali = build_ali(ModelConfig(z_dim=256), (3, 32, 32))
    convs = [m for m in ali.encoder.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [c.kernel_size[0] for c in convs] == [5, 4, 4, 4, 4, 1, 1]
    assert [c.stride[0] for c in convs] == [1, 2, 1, 2, 1, 1, 1]
    assert [c.out_channels for c in convs] == [32, 64, 128, 256, 512, 512, 512]
    dropouts = {m.p for m in ali.discriminator.modules() if isinstance(m, torch.nn.Dropout)}
    assert dropouts == {0.2}
    assert not any(isinstance(m, torch.nn.Dropout) for m in ali.encoder.modules())
    assert isinstance(list(ali.decoder.modules())[-1], torch.nn.Sigmoid)
    assert set(ARCHITECTURES) == {28, 32, 64}


def test_unknown_size_is_a_config_error():
    with pytest.raises(ConfigError, match="data.image_size"):
        build_ali(ModelConfig(), (1, 40, 40))
