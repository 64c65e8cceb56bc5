import pytest
import torch

from declipbench.models import MaskedReconstructor, SkipMLP, UNet1d, UNet2d
from declipbench.physics import Thresholds, clip


@pytest.fixture(autouse=True)
def _double():
    torch.manual_seed(0)


@pytest.mark.parametrize("lam", [0.3, 7.0])
def test_bias_free_unet_is_positively_homogeneous(lam):
    net = UNet1d(channels=4, depth=3).double()
    y = torch.randn(2, 1, 203, dtype=torch.float64)  # odd length: exercises padding
    torch.testing.assert_close(net(lam * y), lam * net(y), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("lam", [0.3, 7.0])
def test_biased_unet_is_not_homogeneous(lam):
    net = UNet1d(channels=4, depth=3, bias=True).double()
    for p in net.parameters():  # make sure biases are non-zero
        torch.nn.init.normal_(p, std=0.3)
    y = torch.randn(2, 1, 203, dtype=torch.float64)
    assert not torch.allclose(net(lam * y), lam * net(y), rtol=1e-3, atol=1e-6)


def test_bias_free_unet_has_no_bias_parameters():
    names = [n for n, _ in UNet1d(channels=4, depth=3).named_parameters()]
    assert not any(n.endswith("bias") for n in names)
    assert any(n.endswith("bias") for n, _ in UNet1d(channels=4, depth=3, bias=True).named_parameters())


@pytest.mark.parametrize("lam", [0.3, 7.0])
def test_bias_free_unet_2d_is_homogeneous(lam):
    net = UNet2d(channels=4, depth=2, in_channels=3).double()
    y = torch.rand(1, 3, 21, 30, dtype=torch.float64)
    torch.testing.assert_close(net(lam * y), lam * net(y), rtol=1e-10, atol=1e-12)


def test_unet_shapes_and_channel_cap():
    net = UNet1d(channels=8, depth=5, max_channels=32)
    assert net(torch.randn(3, 1, 1000)).shape == (3, 1, 1000)
    widths = [m.out_channels for m in net.modules() if isinstance(m, torch.nn.Conv1d)]
    assert max(widths) == 32


def test_paper_unet_size():
    # config/paper.yaml's U-Net: "5 down / 5 up" read as five levels (depth 4), channels doubling from 64 to 1024
    import yaml

    from declipbench.foundation.contracts import ROOT

    net_p = yaml.safe_load((ROOT / "config" / "paper.yaml").read_text())["experiments"]["table1"]["method_defaults"]["network"]
    net = UNet1d(channels=net_p["channels"], depth=net_p["depth"])
    widths = {m.out_channels for m in net.modules() if isinstance(m, torch.nn.Conv1d)}
    assert widths == {1, 64, 128, 256, 512, 1024}


def test_masking_keeps_reliable_samples_exactly():
    th = Thresholds.symmetric(0.5)
    model = MaskedReconstructor(UNet1d(channels=4, depth=2), th)
    x = 2 * torch.randn(4, 1, 256)
    y = clip(x, th)
    out = model(y)
    reliable = y.abs() < 0.5
    assert torch.equal(out[reliable], y[reliable])
    assert not torch.equal(out[~reliable], y[~reliable])


def test_masking_dilation_widens_mask():
    th = Thresholds.symmetric(0.5)
    m = MaskedReconstructor(UNet1d(channels=2, depth=1), th, dilation=2)
    y = torch.zeros(1, 1, 11)
    y[0, 0, 5] = 0.5
    assert m.mask(y)[0, 0].tolist() == [0, 0, 0, 1, 1, 1, 1, 1, 0, 0, 0]


def test_reliable_channel_input_keeps_homogeneity_of_net():
    th = Thresholds.symmetric(0.5)
    model = MaskedReconstructor(UNet1d(in_channels=2, out_channels=1, channels=4, depth=2), th,
                                reliable_channel=True).double()
    y = clip(2 * torch.randn(2, 1, 128, dtype=torch.float64), th)
    assert model(y).shape == y.shape


def test_skip_mlp_homogeneous():
    net = SkipMLP().double()
    y = torch.randn(5, 100, dtype=torch.float64)
    torch.testing.assert_close(net(3.0 * y), 3.0 * net(y))


@pytest.mark.parametrize("lam", [0.3, 7.0])
def test_consistent_output_is_measurement_consistent_and_homogeneous(lam):
    th = Thresholds.symmetric(0.5)
    model = MaskedReconstructor(UNet1d(channels=4, depth=2), th, consistent=True).double()
    y = clip(2 * torch.randn(3, 1, 200, dtype=torch.float64), th)
    out = model(y)
    torch.testing.assert_close(clip(out, th), y)  # eta(x_hat) = y by construction
    hi, lo = y >= 0.5, y <= -0.5
    assert torch.all(out[hi] >= 0.5) and torch.all(out[lo] <= -0.5)
    # the network part stays homogeneous: scaling y and tau together scales the output
    th2 = Thresholds.symmetric(0.5 * lam)
    model2 = MaskedReconstructor(model.net, th2, consistent=True)
    torch.testing.assert_close(model2(lam * y), lam * out)


@pytest.mark.parametrize("padding, upsampling", [("replicate", "transposed"), ("zeros", "nearest"),
                                                 ("replicate", "nearest")])
def test_the_first_authors_unet_details_keep_homogeneity(padding, upsampling):
    """Replicate padding and nearest upsampling + convolution + ReLU (the first author's 1-D U-Net) keep
    the bias-free network positively homogeneous, in 1-D and 2-D, on sizes that need padding."""
    for lam in (0.3, 7.0):
        net = UNet1d(channels=4, depth=3, padding=padding, upsampling=upsampling).double()
        y = torch.randn(2, 1, 203, dtype=torch.float64)
        torch.testing.assert_close(net(lam * y), lam * net(y), rtol=1e-10, atol=1e-12)
        net2 = UNet2d(channels=4, depth=2, padding=padding, upsampling=upsampling).double()
        y2 = torch.rand(1, 1, 21, 30, dtype=torch.float64)
        torch.testing.assert_close(net2(lam * y2), lam * net2(y2), rtol=1e-10, atol=1e-12)


def test_replicate_padding_repeats_the_last_sample_and_crops_back():
    """padding='replicate': the output on 203 samples is the output on the input extended to 208 by
    repeating its last sample, cropped back to 203 (the first author's test_pad1d); zero padding differs."""
    net = UNet1d(channels=4, depth=3, padding="replicate").double()
    y = torch.randn(1, 1, 203, dtype=torch.float64)
    extended = torch.cat([y, y[..., -1:].expand(1, 1, 5)], dim=-1)
    out = net(y)
    assert out.shape == y.shape
    torch.testing.assert_close(out, net(extended)[..., :203])
    zeros = UNet1d(channels=4, depth=3, padding="zeros").double()
    zeros.load_state_dict(net.state_dict())
    assert not torch.allclose(zeros(y)[..., -3:], out[..., -3:])


def test_network_options_reach_the_model_and_bad_ones_are_named():
    from declipbench.foundation.parameters import resolve
    from declipbench.foundation.contracts import Context
    from declipbench.training.learned import NetworkMethod, build_model

    p = resolve(NetworkMethod.declaration(), {"network": {"channels": 2, "depth": 2, "padding": "replicate",
                                                           "upsampling": "nearest", "residual": False}}, "t")
    model = build_model(p, Context(p, -0.1, 0.1, seed=0), (4, 64))
    assert model.net.padding == "replicate" and not model.net.residual
    assert isinstance(model.net.upconv[0][0], torch.nn.Upsample)
    with pytest.raises(ValueError, match="t.network.padding"):
        resolve(NetworkMethod.declaration(), {"network": {"padding": "reflect"}}, "t")


def test_depth_counts_poolings_as_the_first_authors_scales_minus_one():
    """``depth`` is the number of max-pools: depth 4 with 64 channels is the first author's 1-D U-Net
    (deepinv ``UNet(scales=5)``: five levels, 64 to 1024 channels, inputs padded to a multiple of 16)."""
    net = UNet1d(channels=64, depth=4)
    assert len(net.down) == 4 and len(net.up) == 4
    assert [b.conv2.out_channels for b in [net.inc, *net.down]] == [64, 128, 256, 512, 1024]
    seen = []
    hook = [b.register_forward_pre_hook(lambda m, a: seen.append(a[0].shape[-1])) for b in [net.inc, *net.down]]
    with torch.no_grad():
        out = net(torch.randn(1, 1, 1000))
    for h in hook:
        h.remove()
    assert seen == [1008, 504, 252, 126, 63]  # padded to the next multiple of 2**4, four halvings
    assert out.shape == (1, 1, 1000)
