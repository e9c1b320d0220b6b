"""Image-to-image networks: the pix2pix U-Net generator and PatchGAN discriminator (Isola et
al. 2017, "unet_256" / "n_layers" of junyanz/pytorch-CycleGAN-and-pix2pix), the SRGAN
generator (SRResNet, Ledig et al. 2017, without batch norm as in EDSR, Lim et al. 2017, and
ESRGAN, Wang et al. 2018) and the CycleGAN ResNet generator (Zhu et al. 2017, after Johnson
et al. 2016).

All take and return float images in [-1, 1] of shape (N, C, H, W) and are fully
convolutional: they run at any size their strides allow (see each net's `multiple`), so a
large image can also be processed tile by tile (gankit.pipelines.tiles).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from gankit.errors import GankitError
from gankit.nets.layers import add_spectral_norm, dcgan_init

PATCH_NORMS = ("batch", "instance", "none")  # PatchDiscriminator(norm=...)
SR_SCALES = (2, 3, 4)  # SRResNetGenerator(scale=...)
SR_UPSAMPLERS = ("srgan", "espcn")  # SRResNetGenerator(upsampler=...)


def check_size(x: torch.Tensor, multiple: int, name: str, min_size: int = 1) -> None:
    """H and W of x must be multiples of the net's total stride (and at least `min_size`)."""
    h, w = x.shape[-2:]
    if min(h, w) < min_size:
        raise GankitError(f"{name}: input size {h}x{w} is too small; H and W must be at least "
                          f"{min_size}")
    if h % multiple or w % multiple:
        raise GankitError(f"{name}: input size {h}x{w} is not a multiple of {multiple}; pad "
                          "it (gankit.pipelines.tiles.pad_to_multiple)")


def _conv_out(width: int, level: int) -> int:
    """pix2pix channel rule: width, 2*width, 4*width, then 8*width for every deeper level."""
    return width * min(2**level, 8)


class UNetGenerator(nn.Module):
    """pix2pix U-Net: G(x) for a conditioning image x (N, in_channels, H, W).

    Encoder level i: [LeakyReLU(0.2)] -> Conv 4x4 stride 2 -> [BatchNorm] to
    width * min(2^i, 8) channels (no activation before the outermost conv, no norm after the
    outermost or the innermost). Decoder level i mirrors it: ReLU -> ConvTranspose 4x4 stride 2
    -> BatchNorm (Tanh instead at the outermost) -> Dropout on the up-to-3 levels next to the
    innermost, then concatenation with encoder level i-1's output (the skip connection).

    Dropout is pix2pix's only noise source (no z): it is on in train() and off in eval(), so
    inference is deterministic and, with BatchNorm on its running statistics, each tile of a
    tiled inference sees the same function. H and W must be multiples of `multiple` = 2^depth.
    """

    def __init__(self, in_channels: int, out_channels: int, resolution: int, width: int = 64,
                 depth: int | None = None,  # stride-2 levels; None = down to 1x1 (at most 8)
                 dropout: float = 0.5,  # dropout probability on inner decoder levels; 0 = off
                 sn: bool = False,  # spectral norm on every conv
                 ) -> None:
        super().__init__()
        log_res = int(math.log2(resolution)) if resolution > 0 else 0
        if 2**log_res != resolution or not 32 <= resolution <= 512:
            raise GankitError(f"UNetGenerator: resolution must be a power of two in 32..512 "
                              f"(got {resolution}): set data.resolution")
        depth = min(8, log_res) if depth is None else depth
        if not 1 <= depth <= log_res:
            raise GankitError(f"UNetGenerator: depth must be in 1..{log_res} for resolution "
                              f"{resolution} (got {depth})")
        if not 0.0 <= dropout < 1.0:
            raise GankitError(f"UNetGenerator: dropout must be in [0, 1) (got {dropout})")
        self.multiple = 2**depth  # H and W must be multiples of this
        outs = [_conv_out(width, i) for i in range(depth)]
        ins = [in_channels, *outs[:-1]]
        dropped = set(range(max(1, depth - 4), depth - 1))  # up to 3 next to the innermost
        self.down = nn.ModuleList()
        self.up = nn.ModuleList()  # innermost first, the order forward runs them
        for i in range(depth):
            inner, outer = i == depth - 1, i == 0
            down: list[nn.Module] = [] if outer else [nn.LeakyReLU(0.2)]
            down.append(nn.Conv2d(ins[i], outs[i], 4, 2, 1, bias=inner or outer))
            if not (inner or outer):
                down.append(nn.BatchNorm2d(outs[i]))
            self.down.append(nn.Sequential(*down))
        for i in reversed(range(depth)):
            inner, outer = i == depth - 1, i == 0
            up_in = outs[i] if inner else 2 * outs[i]
            up_out = out_channels if outer else ins[i]
            up: list[nn.Module] = [nn.ReLU(),
                                   nn.ConvTranspose2d(up_in, up_out, 4, 2, 1, bias=outer)]
            up.append(nn.Tanh() if outer else nn.BatchNorm2d(up_out))
            if i in dropped and dropout > 0:
                up.append(nn.Dropout(dropout))
            self.up.append(nn.Sequential(*up))
        dcgan_init(self)
        if sn:
            add_spectral_norm(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_size(x, self.multiple, "UNetGenerator")
        skips = []
        for block in self.down:
            x = block(x)
            skips.append(x)
        skips.pop()  # the innermost output is x itself, not a skip
        for block in self.up:
            x = block(x)
            if skips:
                x = torch.cat([skips.pop(), x], 1)
        return x


def receptive_field(layers: int) -> int:
    """Receptive field (pixels) of a PatchDiscriminator with `layers` stride-2 convs.

    Every conv is 4x4: `layers` of stride 2, then two of stride 1. Walking back from one
    output pixel (last conv first), a conv of kernel k and stride s grows the field r to
    (r - 1) * s + k.
    """
    r = 1
    for stride in [1, 1] + [2] * layers:
        r = (r - 1) * stride + 4
    return r


class PatchDiscriminator(nn.Module):
    """PatchGAN D(x) -> (N, P) logits, one per overlapping patch of receptive_field(layers).

    Conv 4x4 s2 -> LeakyReLU(0.2); (layers - 1) x [Conv 4x4 s2, norm, LeakyReLU] to
    width * min(2^i, 8) channels; Conv 4x4 s1 -> norm -> LeakyReLU; Conv 4x4 s1 -> 1 channel.
    An input of side s gives floor(s / 2^layers) - 2 patches per side, so s must be at least
    3 * 2^layers. Feed pix2pix pairs as one image: torch.cat([condition, image], 1).
    """

    def __init__(self, in_channels: int, resolution: int, width: int = 64,
                 layers: int | None = None,  # stride-2 convs; None = 70x70 patches at 256 px
                 norm: str = "batch",  # batch | instance (no affine) | none
                 sn: bool = False,  # spectral norm on every conv
                 ) -> None:
        super().__init__()
        if norm not in PATCH_NORMS:
            raise GankitError(f"PatchDiscriminator: unknown norm {norm!r}; choose one of: "
                              f"{', '.join(PATCH_NORMS)}")
        if resolution < 1:
            raise GankitError(f"PatchDiscriminator: resolution must be positive (got "
                              f"{resolution})")
        if layers is None:
            layers = min(4, max(1, int(math.log2(resolution)) - 5))
        if layers < 1:
            raise GankitError(f"PatchDiscriminator: layers must be >= 1 (got {layers})")
        self.layers = layers
        self.min_size = 3 * 2**layers  # smallest side that gives one patch

        def block(c_in: int, c_out: int, stride: int, normed: bool) -> list[nn.Module]:
            out: list[nn.Module] = [nn.Conv2d(c_in, c_out, 4, stride, 1,
                                              bias=not normed or norm == "none")]
            if normed and norm == "batch":
                out.append(nn.BatchNorm2d(c_out))
            elif normed and norm == "instance":
                out.append(nn.InstanceNorm2d(c_out, affine=False))
            return [*out, nn.LeakyReLU(0.2)]

        body = block(in_channels, width, 2, normed=False)
        for i in range(1, layers):
            body += block(_conv_out(width, i - 1), _conv_out(width, i), 2, True)
        body += block(_conv_out(width, layers - 1), _conv_out(width, layers), 1,
                      True)
        self.body = nn.Sequential(*body)
        self.head = nn.Conv2d(_conv_out(width, layers), 1, 4, 1, 1)
        dcgan_init(self)
        if sn:
            add_spectral_norm(self)

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The activations after each LeakyReLU (layers + 1 maps), for feature matching."""
        check_size(x, 1, "PatchDiscriminator", self.min_size)
        feats = []
        for layer in self.body:
            x = layer(x)
            if isinstance(layer, nn.LeakyReLU):
                feats.append(x)
        return feats

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x)[-1]).flatten(1)


class _SRBlock(nn.Module):
    """EDSR-style residual block: x + conv3(PReLU(conv3(x))), no batch norm."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(width, width, 3, 1, 1), nn.PReLU(width),
                                  nn.Conv2d(width, width, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class SRResNetGenerator(nn.Module):
    """SRGAN's generator G(x): (N, C, h, w) -> (N, C, h * scale, w * scale) for any h, w.

    conv 9x9 -> PReLU; `blocks` residual blocks; conv 3x3 + a long skip; then upsampling:
    upsampler="srgan": sub-pixel stages (conv 3x3 to r^2 * width, PixelShuffle(r), PReLU;
    r = 2, 3, or 2 twice for 4) and a conv 9x9 at the output size; upsampler="espcn": one conv
    3x3 to r^2 * C and PixelShuffle(r) (ESPCN, Shi et al. 2016), which at x4 costs a third of
    SRGAN's upsampler, so the same compute buys twice the residual blocks.
    No batch norm (it makes artefacts and ties an image's output to its batch, EDSR/ESRGAN)
    and no tanh: outputs are clamped only when saved. With `bicubic_skip` the bicubic
    upsampling of x is added, so the net learns only the residual detail over bicubic (as
    VDSR, Kim et al. 2016); the last conv of every residual block and the output conv start
    at 0.1 x their init, so the model starts close to bicubic (ESRGAN's residual scaling).
    """

    def __init__(self, channels: int, scale: int, width: int = 64,
                 blocks: int = 16,  # residual blocks at the input resolution
                 bicubic_skip: bool = True,  # add bicubic(x); False = predict the image whole
                 upsampler: str = "srgan",  # srgan | espcn (see above)
                 ) -> None:
        super().__init__()
        if scale not in SR_SCALES:
            raise GankitError(f"SRResNetGenerator: scale must be one of "
                              f"{', '.join(map(str, SR_SCALES))} (got {scale})")
        if blocks < 0:
            raise GankitError(f"SRResNetGenerator: blocks must be >= 0 (got {blocks})")
        if upsampler not in SR_UPSAMPLERS:
            raise GankitError(f"SRResNetGenerator: unknown upsampler {upsampler!r}; choose one "
                              f"of: {', '.join(SR_UPSAMPLERS)}")
        self.scale, self.bicubic_skip = scale, bicubic_skip
        self.multiple = 1  # any input size works
        self.head = nn.Sequential(nn.Conv2d(channels, width, 9, 1, 4), nn.PReLU(width))
        self.body = nn.Sequential(*[_SRBlock(width) for _ in range(blocks)],
                                  nn.Conv2d(width, width, 3, 1, 1))
        up: list[nn.Module] = []
        if upsampler == "srgan":
            for r in [3] if scale == 3 else [2] * (scale // 2):
                up += [nn.Conv2d(width, r * r * width, 3, 1, 1), nn.PixelShuffle(r),
                       nn.PReLU(width)]
            out_conv = nn.Conv2d(width, channels, 9, 1, 4)
            tail: nn.Module = out_conv
        else:
            out_conv = nn.Conv2d(width, scale * scale * channels, 3, 1, 1)
            tail = nn.Sequential(out_conv, nn.PixelShuffle(scale))
        self.up = nn.Sequential(*up)  # registered before the tail: the init's draw order
        self.tail = tail
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, a=0.25)  # PReLU's initial slope
                nn.init.zeros_(m.bias)
        with torch.no_grad():
            for m in [*(b.body[-1] for b in self.body[:-1]), out_conv]:
                m.weight.mul_(0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.head(x)
        out = self.tail(self.up(h + self.body(h)))
        if self.bicubic_skip:
            out = out + F.interpolate(x, scale_factor=self.scale, mode="bicubic",
                                      align_corners=False)
        return out


class _TranslatorBlock(nn.Module):
    """CycleGAN residual block: x + IN(conv3(ReLU(IN(conv3(x))))), reflection padded."""

    def __init__(self, ch: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(ch, ch, 3),
                                  nn.InstanceNorm2d(ch), nn.ReLU(),
                                  nn.ReflectionPad2d(1), nn.Conv2d(ch, ch, 3),
                                  nn.InstanceNorm2d(ch))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ResnetTranslator(nn.Module):
    """CycleGAN's ResNet generator G(x): (N, in_channels, H, W) -> (N, out_channels, H, W).

    ReflectionPad(3) conv 7x7 -> IN -> ReLU; `downs` x [conv 3x3 s2, IN, ReLU] doubling the
    channels; `blocks` residual blocks; `downs` x [ConvTranspose 3x3 s2, IN, ReLU] halving
    them; ReflectionPad(3) conv 7x7 -> tanh. Instance norm has no affine, as in the reference.
    H and W must be multiples of `multiple` = 2^downs, and the bottleneck at least 2x2.
    """

    def __init__(self, in_channels: int, out_channels: int, width: int = 64,
                 blocks: int = 6,  # residual blocks at the bottleneck (9 for 256 px in CycleGAN)
                 downs: int = 2,  # stride-2 downsamplings (and as many upsamplings)
                 ) -> None:
        super().__init__()
        if downs < 0 or blocks < 0:
            raise GankitError(f"ResnetTranslator: downs and blocks must be >= 0 (got downs="
                              f"{downs}, blocks={blocks})")
        self.multiple = 2**downs  # H and W must be multiples of this
        layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(in_channels, width, 7),
                                   nn.InstanceNorm2d(width), nn.ReLU()]
        ch = width
        for _ in range(downs):
            layers += [nn.Conv2d(ch, 2 * ch, 3, 2, 1), nn.InstanceNorm2d(2 * ch), nn.ReLU()]
            ch *= 2
        layers += [_TranslatorBlock(ch) for _ in range(blocks)]
        for _ in range(downs):
            layers += [nn.ConvTranspose2d(ch, ch // 2, 3, 2, 1, output_padding=1),
                       nn.InstanceNorm2d(ch // 2), nn.ReLU()]
            ch //= 2
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ch, out_channels, 7), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        dcgan_init(self)  # N(0, 0.02), as CycleGAN's init_type="normal"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_size(x, self.multiple, "ResnetTranslator", max(4, 2 * self.multiple))
        return self.net(x)
