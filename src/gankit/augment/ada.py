"""ADA: adaptive discriminator augmentation with a probability p tuned during training.

Follows Karras et al. 2020, "Training Generative Adversarial Networks with Limited Data"
(arXiv:2006.06676), Appendix B, for the "b" (pixel blitting), "g" (general geometric) and "c"
(colour) groups. Each transform is applied to each image independently with probability p
(the two rotations of "g" with 1 - sqrt(1 - p), so that some rotation happens with p).
All geometric transforms of an image are composed into one affine matrix and applied with
a single `affine_grid` + bilinear `grid_sample` using reflection padding (the paper pads by
reflection so that no border appears); colour is one 4x4 matrix per image. Unlike the paper
there is no wavelet upsampling filter: plain bilinear sampling, kept simple and batched.

Randomness: everything is drawn on the CPU from the caller's generator, the same number of
draws in the same order for every p (p = 0 included) and every batch content, so a resumed
run repeats the same augmentation; the count depends only on N and on which letters the pipe
holds (blit 7N, geometric 11N, colour 10N, drawn in that order).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from gankit.errors import GankitError

ADA_PIPE_LETTERS = {"b": "blit", "g": "geometric", "c": "colour"}
BLIT_TRANSLATE = 0.125  # largest integer translation, as a fraction of the image size
SCALE_STD = 0.2 * math.log(2)  # std of log isotropic / anisotropic scale
TRANSLATE_STD = 0.125  # std of the fractional translation, as a fraction of the image size
BRIGHTNESS_STD = 0.2  # std of the added brightness (image range [-1, 1])
CONTRAST_STD = 0.5 * math.log(2)  # std of log contrast
SATURATION_STD = 1.0 * math.log(2)  # std of log saturation
_F64 = torch.float64


def parse_pipe(text: str) -> str:
    """Check the pipe letters and return them in the fixed order "bgc" ("" / "none": none)."""
    text = text.strip().lower()
    if text == "none":
        return ""
    for letter in text:
        if letter not in ADA_PIPE_LETTERS:
            allowed = ", ".join(f"{k} ({v})" for k, v in ADA_PIPE_LETTERS.items())
            raise GankitError(f"aug.pipe: {letter!r} is not allowed; use letters from: {allowed}")
    return "".join(k for k in ADA_PIPE_LETTERS if k in text)


def _eye(n: int, size: int) -> Tensor:
    return torch.eye(size, dtype=_F64).repeat(n, 1, 1)


def _affine(a: Tensor, b: Tensor, c: Tensor, d: Tensor, tx: Tensor, ty: Tensor) -> Tensor:
    """(N, 3, 3) matrices [[a, b, tx], [c, d, ty], [0, 0, 1]] from (N,) parameters."""
    m = _eye(a.shape[0], 3)
    m[:, 0, 0], m[:, 0, 1], m[:, 1, 0], m[:, 1, 1] = a, b, c, d
    m[:, 0, 2], m[:, 1, 2] = tx, ty
    return m


def _rotation(cos: Tensor, sin: Tensor) -> Tensor:
    zero = torch.zeros_like(cos)
    return _affine(cos, -sin, sin, cos, zero, zero)


def _scaling(sx: Tensor, sy: Tensor) -> Tensor:
    zero = torch.zeros_like(sx)
    return _affine(sx, zero, zero, sy, zero, zero)


def _translation(tx: Tensor, ty: Tensor) -> Tensor:
    one = torch.ones_like(tx)
    return _affine(one, torch.zeros_like(tx), torch.zeros_like(tx), one, tx, ty)


def _gates(gen: torch.Generator, probs: list[float], n: int) -> Tensor:
    """(len(probs), N) booleans, row k True with probability probs[k]: who gets transform k."""
    u = torch.rand(len(probs), n, generator=gen, dtype=_F64)
    return u < torch.tensor(probs, dtype=_F64).view(-1, 1)


def _blit_inverse(gen: torch.Generator, n: int, p: float, h: int, w: int) -> Tensor:
    """Inverse (output -> input pixel) matrix of x-flip, 90-degree rotation, integer shift."""
    on = _gates(gen, [p, p, p], n)
    flip = torch.randint(0, 2, (n,), generator=gen) * on[0]
    quarter = torch.randint(0, 4, (n,), generator=gen) * on[1]
    shift = (torch.rand(2, n, generator=gen, dtype=_F64) * 2 - 1) * BLIT_TRANSLATE * on[2]
    cos = torch.tensor([1.0, 0.0, -1.0, 0.0], dtype=_F64)[quarter]  # exact, no float noise
    sin = torch.tensor([0.0, 1.0, 0.0, -1.0], dtype=_F64)[quarter]
    g = _scaling(1.0 - 2.0 * flip.to(_F64), torch.ones(n, dtype=_F64))
    g = g @ _rotation(cos, -sin)
    return g @ _translation(-torch.round(shift[0] * w), -torch.round(shift[1] * h))


def _general_inverse(gen: torch.Generator, n: int, p: float, h: int, w: int) -> Tensor:
    """Inverse matrix of iso scale, rotation, aniso scale, rotation, fractional shift.

    The two rotations use 1 - sqrt(1 - p) so that at least one happens with probability p.
    """
    p_rot = 1.0 - math.sqrt(1.0 - p)
    on = _gates(gen, [p, p_rot, p, p_rot, p], n)
    iso = torch.exp(torch.randn(n, generator=gen, dtype=_F64) * SCALE_STD * on[0])
    rot1 = (torch.rand(n, generator=gen, dtype=_F64) * 2 - 1) * math.pi * on[1]
    aniso = torch.exp(torch.randn(n, generator=gen, dtype=_F64) * SCALE_STD * on[2])
    rot2 = (torch.rand(n, generator=gen, dtype=_F64) * 2 - 1) * math.pi * on[3]
    shift = torch.randn(2, n, generator=gen, dtype=_F64) * TRANSLATE_STD * on[4]
    g = _scaling(1.0 / iso, 1.0 / iso)
    g = g @ _rotation(torch.cos(rot1), -torch.sin(rot1))
    g = g @ _scaling(1.0 / aniso, aniso)
    g = g @ _rotation(torch.cos(rot2), -torch.sin(rot2))
    return g @ _translation(-shift[0] * w, -shift[1] * h)


def _colour_matrix(gen: torch.Generator, n: int, p: float) -> tuple[Tensor, Tensor]:
    """Forward (N, 4, 4) matrix on [r, g, b, 1] of brightness, contrast, luma flip, hue and
    saturation, plus its (N, 2) [scale, offset] on grey pixels (brightness, contrast and the
    luma flip; hue and saturation leave grey unchanged).

    The luma axis is v = (1, 1, 1) / sqrt(3): hue rotates about v, saturation scales what is
    orthogonal to v, luma flip mirrors along v. All pivots are 0, mid-grey in [-1, 1]. The
    colour-only parameters are drawn for grey images too, so draws never depend on C.
    """
    on = _gates(gen, [p] * 5, n)
    bright = torch.randn(n, generator=gen, dtype=_F64) * BRIGHTNESS_STD * on[0]
    contrast = torch.exp(torch.randn(n, generator=gen, dtype=_F64) * CONTRAST_STD * on[1])
    luma_flip = torch.randint(0, 2, (n,), generator=gen).to(_F64) * on[2]
    hue = (torch.rand(n, generator=gen, dtype=_F64) * 2 - 1) * math.pi * on[3]
    sat = torch.exp(torch.randn(n, generator=gen, dtype=_F64) * SATURATION_STD * on[4])
    v = torch.tensor([1.0, 1.0, 1.0, 0.0], dtype=_F64) / math.sqrt(3)
    vv = torch.outer(v, v)  # projection on the luma axis
    rgb = torch.diag(torch.tensor([1.0, 1.0, 1.0, 0.0], dtype=_F64))
    one = torch.eye(4, dtype=_F64) - rgb  # the homogeneous corner
    cross = torch.zeros(4, 4, dtype=_F64)  # [v]x, so that cross @ u = v x u
    cross[0, 1], cross[0, 2], cross[1, 2] = -v[2], v[1], -v[0]
    cross = cross - cross.T

    def col(t: Tensor) -> Tensor:
        return t.view(n, 1, 1)

    c = _eye(n, 4)
    c[:, :3, 3] = bright.view(n, 1)
    c = (rgb * col(contrast) + one) @ c
    c = (torch.eye(4, dtype=_F64) - 2.0 * vv * col(luma_flip)) @ c
    c = (vv + (rgb - vv) * col(torch.cos(hue)) + cross * col(torch.sin(hue)) + one) @ c
    c = (vv + (rgb - vv) * col(sat) + one) @ c
    # grey images: the matrix's action on a grey pixel (r = g = b), as stylegan2-ada's
    # augment.py does for C = 1: scale = mean row sum of the 3x3 part (a luma flip gives -1),
    # offset = mean of the translation
    return c, torch.stack([c[:, :3, :3].sum(2).mean(1), c[:, :3, 3].mean(1)], dim=1)


def _apply_geometric(x: Tensor, inverse: Tensor) -> Tensor:
    """Resample x through the (N, 3, 3) output -> input pixel matrix, reflecting at borders.

    Pixel coordinates are centred on the image, so rotations are about the centre and
    isotropic on non-square images; `to_px` maps affine_grid's [-1, 1] coordinates to them.
    """
    h, w = x.shape[2:]
    to_px = torch.diag(torch.tensor([w / 2.0, h / 2.0, 1.0], dtype=_F64))
    theta = torch.linalg.inv(to_px) @ inverse @ to_px
    theta = theta[:, :2, :].to(device=x.device, dtype=x.dtype)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection",
                         align_corners=False)


def _apply_colour(x: Tensor, matrix: Tensor, grey: Tensor) -> Tensor:
    """RGB: the full 4x4 matrix per image; any other C: its action on grey pixels."""
    n = x.shape[0]
    if x.shape[1] == 3:
        m = matrix.to(device=x.device, dtype=x.dtype)
        return torch.einsum("nij,njhw->nihw", m[:, :3, :3], x) + m[:, :3, 3].view(n, 3, 1, 1)
    g = grey.to(device=x.device, dtype=x.dtype)
    return x * g[:, 0].view(n, 1, 1, 1) + g[:, 1].view(n, 1, 1, 1)


def ada_augment(x: Tensor, p: float, pipe: str, gen: torch.Generator) -> Tensor:
    """Augment each image of (N, C, H, W) x with the transforms of `pipe`, each with prob p.

    Returns x itself at p = 0 (after drawing the same numbers as at any other p, so that the
    generator stream does not depend on p). Differentiable w.r.t. x; shape and dtype kept.
    """
    if not 0.0 <= p <= 1.0:
        raise GankitError(f"ada_augment: p must be a probability in [0, 1], got {p}")
    letters = parse_pipe(pipe)
    n, _, h, w = x.shape
    inverse = None
    if "b" in letters:
        inverse = _blit_inverse(gen, n, p, h, w)
    if "g" in letters:
        general = _general_inverse(gen, n, p, h, w)
        inverse = general if inverse is None else inverse @ general
    if "c" in letters:
        matrix, grey = _colour_matrix(gen, n, p)
    if p == 0.0:
        return x
    if inverse is not None:
        x = _apply_geometric(x, inverse)
    if "c" in letters:
        x = _apply_colour(x, matrix, grey)
    return x


def ada_update(p: float, sign_mean: float, target: float, n_images: int, kimg: float) -> float:
    """The paper's p controller: step p towards keeping E[sign(D(real))] at `target`.

    p moves by n_images / (kimg * 1000), so p can go from 0 to 1 in `kimg` thousand real
    images; `n_images` is the number of real images seen since the last update.
    """
    if kimg <= 0:
        raise GankitError(f"ada_update: kimg (thousands of images for p to go 0 -> 1) must be "
                          f"> 0, got {kimg}")
    diff = sign_mean - target
    step = (diff > 0) - (diff < 0)
    return min(max(p + step * n_images / (kimg * 1000.0), 0.0), 1.0)
