"""Image-to-image nets (pix2pix U-Net and PatchGAN, SRResNet, CycleGAN ResNet): shapes, values
against hand computations, one tiny training step, and bad input."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gankit.errors import GankitError
from gankit.nets.image2image import (
    SR_UPSAMPLERS,
    PatchDiscriminator,
    ResnetTranslator,
    SRResNetGenerator,
    UNetGenerator,
    receptive_field,
)


def _convs(net: nn.Module) -> list[nn.Module]:
    return [m for m in net.modules() if isinstance(m, nn.Conv2d | nn.ConvTranspose2d)]


# ---- UNetGenerator ---------------------------------------------------------------------------


@pytest.mark.parametrize("res,depth", [(32, 5), (64, 6), (256, 8), (512, 8)])
def test_unet_default_depth_and_multiple(res, depth):
    g = UNetGenerator(3, 3, res, width=2)
    assert len(g.down) == len(g.up) == depth and g.multiple == 2**depth


def test_unet_shapes_at_any_multiple():
    torch.manual_seed(0)
    g = UNetGenerator(3, 2, 32, width=4)
    for h, w in [(32, 32), (64, 32), (32, 96)]:
        y = g(torch.rand(2, 3, h, w) * 2 - 1)
        assert y.shape == (2, 2, h, w) and y.dtype == torch.float32
        assert y.abs().max() <= 1


def test_unet_256_follows_the_reference_layout():
    g = UNetGenerator(3, 3, 256, width=2)  # depth 8, as "unet_256"
    outs = [blk[-1].out_channels if isinstance(blk[-1], nn.Conv2d) else blk[-2].out_channels
            for blk in g.down]
    assert outs == [2, 4, 8, 16, 16, 16, 16, 16]
    assert not isinstance(g.down[0][0], nn.LeakyReLU)  # x -> conv at the outermost
    assert all(isinstance(blk[0], nn.LeakyReLU) for blk in g.down[1:])
    normed = [any(isinstance(m, nn.BatchNorm2d) for m in blk) for blk in g.down]
    assert normed == [False] + [True] * 6 + [False]  # no norm at outermost and innermost
    # up[0] is the innermost; dropout on the three 8*width levels next to it, as the reference
    dropped = [any(isinstance(m, nn.Dropout) for m in blk) for blk in g.up]
    assert dropped == [False, True, True, True, False, False, False, False]
    assert isinstance(g.up[-1][-1], nn.Tanh)
    assert [blk[1].out_channels for blk in g.up] == [16, 16, 16, 16, 8, 4, 2, 3]


def test_unet_dropout_is_the_noise_in_train_and_off_in_eval():
    torch.manual_seed(0)
    g = UNetGenerator(1, 1, 32, width=4)
    x = torch.rand(2, 1, 32, 32) * 2 - 1
    g.train()
    assert not torch.allclose(g(x), g(x))
    g.eval()
    assert torch.equal(g(x), g(x))
    g0 = UNetGenerator(1, 1, 32, width=4, dropout=0.0)
    assert not any(isinstance(m, nn.Dropout) for m in g0.modules())


def test_unet_skip_connections_carry_the_input():
    torch.manual_seed(0)
    g = UNetGenerator(1, 1, 32, width=4).eval()
    # cut the bottleneck: the innermost encoder output becomes 0 for every input
    g.down[-1].register_forward_hook(lambda mod, inp, out: torch.zeros_like(out))
    x = torch.rand(1, 1, 32, 32, requires_grad=True)
    y = g(x)
    (grad,) = torch.autograd.grad(y[0, 0, 10, 20], x)
    assert grad[0, 0, 10, 20] != 0  # still reaches the output through the skips
    assert not torch.equal(g(x + 0.1), y)


def test_unet_spectral_norm_on_every_conv():
    g = UNetGenerator(3, 3, 32, width=4, sn=True)
    convs = _convs(g)
    assert len(convs) == 10 and all(hasattr(m, "parametrizations") for m in convs)
    assert g(torch.zeros(1, 3, 32, 32)).shape == (1, 3, 32, 32)


@pytest.mark.parametrize("res", [16, 48, 1024, 0])
def test_unet_rejects_bad_resolution(res):
    with pytest.raises(GankitError, match="resolution"):
        UNetGenerator(3, 3, res)


def test_unet_rejects_bad_depth_and_size():
    with pytest.raises(GankitError, match="depth"):
        UNetGenerator(3, 3, 32, depth=6)
    g = UNetGenerator(3, 3, 32, width=2)
    with pytest.raises(GankitError, match=r"40x32.*multiple of 32"):
        g(torch.zeros(1, 3, 40, 32))


# ---- PatchDiscriminator ----------------------------------------------------------------------


def test_receptive_field_arithmetic():
    assert [receptive_field(n) for n in (1, 2, 3, 4)] == [16, 34, 70, 142]


@pytest.mark.parametrize("res,layers", [(32, 1), (64, 1), (128, 2), (256, 3), (512, 4)])
def test_patch_default_layers(res, layers):
    d = PatchDiscriminator(3, res, width=2)
    assert d.layers == layers
    assert len([m for m in d.modules() if isinstance(m, nn.Conv2d)]) == layers + 2


@pytest.mark.parametrize("layers,h,w", [(1, 64, 48), (2, 37, 50), (3, 70, 70)])
def test_patch_output_is_flat_logits_of_the_formula(layers, h, w):
    d = PatchDiscriminator(4, 64, width=4, layers=layers)
    out = d(torch.rand(3, 4, h, w) * 2 - 1)
    s = 2**layers
    assert out.shape == (3, (h // s - 2) * (w // s - 2)) and out.dtype == torch.float32


def test_patch_receptive_field_matches_gradient_support():
    torch.manual_seed(0)
    d = PatchDiscriminator(1, 64, width=4, layers=2, norm="none")
    x = torch.randn(1, 1, 96, 96, requires_grad=True)
    out = d(x).view(96 // 4 - 2, 96 // 4 - 2)
    (grad,) = torch.autograd.grad(out[10, 10], x)
    rows = grad[0, 0].abs().sum(1).nonzero()
    assert rows.max() - rows.min() + 1 == receptive_field(2) == 34


def test_patch_features_and_forward_share_one_pass():
    torch.manual_seed(0)
    d = PatchDiscriminator(3, 128, width=4, norm="instance").eval()
    x = torch.rand(2, 3, 64, 64)
    feats = d.features(x)
    assert len(feats) == d.layers + 1 == 3
    assert [f.shape[1] for f in feats] == [4, 8, 16]
    assert torch.equal(d(x), d.head(feats[-1]).flatten(1))
    inorm = [m for m in d.modules() if isinstance(m, nn.InstanceNorm2d)]
    assert len(inorm) == 2 and not any(m.affine for m in inorm)


def test_patch_norms_and_sn():
    plain = PatchDiscriminator(3, 64, width=4, norm="none", sn=True)
    assert not any(isinstance(m, nn.BatchNorm2d | nn.InstanceNorm2d) for m in plain.modules())
    assert all(hasattr(m, "parametrizations") for m in _convs(plain))
    batch = PatchDiscriminator(3, 64, width=4)
    assert sum(isinstance(m, nn.BatchNorm2d) for m in batch.modules()) == 1


def test_patch_bad_input():
    with pytest.raises(GankitError, match="norm.*batch, instance, none"):
        PatchDiscriminator(3, 64, norm="layer")
    d = PatchDiscriminator(3, 256, width=2)  # needs 3 * 2^3 = 24 px
    with pytest.raises(GankitError, match=r"20x64.*24"):
        d(torch.zeros(1, 3, 20, 64))


# ---- SRResNetGenerator -----------------------------------------------------------------------


@pytest.mark.parametrize("upsampler", SR_UPSAMPLERS)
@pytest.mark.parametrize("scale", [2, 3, 4])
def test_srresnet_scales_odd_sizes(scale, upsampler):
    g = SRResNetGenerator(3, scale, width=8, blocks=1, upsampler=upsampler)
    y = g(torch.rand(2, 3, 7, 9) * 2 - 1)
    assert y.shape == (2, 3, 7 * scale, 9 * scale) and y.dtype == torch.float32
    g = SRResNetGenerator(1, scale, width=4, blocks=0, bicubic_skip=False, upsampler=upsampler)
    assert g(torch.zeros(1, 1, 5, 3)).shape == (1, 1, 5 * scale, 3 * scale)


@pytest.mark.parametrize("upsampler", SR_UPSAMPLERS)
@pytest.mark.parametrize("scale", [2, 3, 4])
def test_srresnet_with_zero_weights_is_bicubic(scale, upsampler):
    g = SRResNetGenerator(3, scale, width=8, blocks=2, upsampler=upsampler)
    with torch.no_grad():
        for p in g.parameters():
            p.zero_()
    x = torch.rand(2, 3, 7, 9) * 2 - 1
    bicubic = F.interpolate(x, scale_factor=scale, mode="bicubic", align_corners=False)
    assert torch.equal(g(x), bicubic)


@pytest.mark.parametrize("upsampler", SR_UPSAMPLERS)
def test_srresnet_residual_convs_start_small(upsampler):
    torch.manual_seed(0)
    g = SRResNetGenerator(3, 2, width=32, blocks=2, upsampler=upsampler)
    first, last = g.body[0].body[0].weight, g.body[0].body[2].weight  # same fan-in
    assert abs(last.std().item() / first.std().item() - 0.1) < 0.02
    x = torch.rand(1, 3, 16, 16) * 2 - 1
    bicubic = F.interpolate(x, scale_factor=2, mode="bicubic", align_corners=False)
    start = (g(x) - bicubic).abs().mean()
    assert start < 0.25 * bicubic.abs().mean()  # starts near bicubic
    out_conv = g.tail if upsampler == "srgan" else g.tail[0]
    with torch.no_grad():
        out_conv.weight.mul_(10)  # undo the output conv's 0.1
    assert (g(x) - bicubic).abs().mean() > 5 * start


def test_srresnet_espcn_upsampler_is_one_conv_and_a_pixel_shuffle():
    """x4: SRGAN's two sub-pixel stages + 9x9 conv against ESPCN's conv to 16 * C, shuffled."""
    srgan, espcn = (SRResNetGenerator(3, 4, width=8, blocks=1, upsampler=u) for u in SR_UPSAMPLERS)
    assert len(srgan.up) == 6 and srgan.tail.kernel_size == (9, 9)
    assert len(espcn.up) == 0 and espcn.tail[0].out_channels == 48
    assert espcn.tail[1].upscale_factor == 4
    with pytest.raises(GankitError, match=r"upsampler 'bilinear'.*srgan, espcn"):
        SRResNetGenerator(3, 4, upsampler="bilinear")


def test_srresnet_default_init_is_unchanged_by_the_upsampler_option():
    """The default (srgan) nets register head, body, up, tail and so draw their seeded
    weights as before the option existed: the checksum was taken from the code before it."""
    torch.manual_seed(0)
    g = SRResNetGenerator(3, 4, width=8, blocks=1)
    assert list(g.state_dict())[-4:] == ["up.3.bias", "up.5.weight", "tail.weight", "tail.bias"]
    checksum = sum(float((p.double() * (i + 1)).sum()) for i, p in enumerate(g.state_dict().values()))
    assert checksum == pytest.approx(-198.26554434405352, rel=1e-9)


@pytest.mark.parametrize("scale", [1, 5, 8])
def test_srresnet_rejects_bad_scale(scale):
    with pytest.raises(GankitError, match=r"scale.*2, 3, 4"):
        SRResNetGenerator(3, scale)


# ---- ResnetTranslator ------------------------------------------------------------------------


def test_translator_shapes_and_init():
    torch.manual_seed(0)
    g = ResnetTranslator(3, 1, width=8, blocks=2)
    assert g.multiple == 4
    for h, w in [(32, 32), (16, 24)]:
        y = g(torch.rand(2, 3, h, w) * 2 - 1)
        assert y.shape == (2, 1, h, w) and y.dtype == torch.float32 and y.abs().max() <= 1
    w = torch.cat([m.weight.flatten() for m in _convs(g)])
    assert abs(w.std().item() - 0.02) < 0.002
    assert sum(isinstance(m, nn.ConvTranspose2d) for m in g.modules()) == 2


def test_translator_bad_input():
    g = ResnetTranslator(3, 3, width=4, blocks=1, downs=2)
    with pytest.raises(GankitError, match=r"30x32.*multiple of 4"):
        g(torch.zeros(1, 3, 30, 32))
    with pytest.raises(GankitError, match=r"4x8.*at least 8"):
        g(torch.zeros(1, 3, 4, 8))
    with pytest.raises(GankitError, match="downs"):
        ResnetTranslator(3, 3, downs=-1)


# ---- one tiny pix2pix step -------------------------------------------------------------------


def test_pix2pix_step_end_to_end():
    torch.manual_seed(0)
    g, d = UNetGenerator(1, 3, 32, width=4), PatchDiscriminator(4, 32, width=4)
    opt = torch.optim.Adam([*g.parameters(), *d.parameters()], lr=1e-3)
    cond, real = torch.rand(4, 1, 32, 32) * 2 - 1, torch.rand(4, 3, 32, 32) * 2 - 1
    fake = g(cond)
    logits = d(torch.cat([cond, fake], 1))
    loss = F.softplus(-logits).mean() + 100 * (fake - real).abs().mean()  # -log sigmoid + L1
    loss.backward()
    assert all(p.grad is not None and p.grad.isfinite().all() for p in g.parameters())
    opt.step()
    assert g(cond).isfinite().all()
