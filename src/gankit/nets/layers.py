"""Shared building blocks: the DCGAN initialisation (Radford et al. 2015), conditional batch
norm (de Vries et al. 2017, as used by Miyato & Koyama 2018), SAGAN self-attention (Zhang et
al. 2019), the projection term (Miyato & Koyama 2018), a BiGAN/ALI joint head (Donahue et al.
2017; Dumoulin et al. 2017), spectral norm (Miyato et al. 2018), and the checks of the
`G(z, c)` / `D(x, c)` kwargs that every architecture shares.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from gankit.errors import GankitError

G_CONDS = ("none", "embed", "cbn")  # how a generator takes its condition c
D_CONDS = ("none", "projection", "latent")  # how a discriminator takes its condition c
LABEL_CONDS = ("embed", "cbn", "projection")  # conds whose c is int64 class labels (N,)


class ConditionError(GankitError, ValueError):
    """A condition c that does not fit the net (a GankitError; a ValueError as it always was)."""


def dcgan_init(module: nn.Module) -> None:
    """Conv/linear weights ~ N(0, 0.02), biases 0; batch-norm scales ~ N(1, 0.02), shifts 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d | nn.BatchNorm1d) and m.affine:
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def no_condition(c: object, name: str) -> None:
    """Unconditional nets take c=None (the G(z, c) / D(x, c) contract) and nothing else."""
    if c is not None:
        raise ConditionError(f"{name} is unconditional (cond='none'); got a condition c")


def check_condition(c: torch.Tensor | None, cond: str, name: str) -> None:
    """c must be None exactly when the net was built with cond='none'."""
    if cond == "none":
        no_condition(c, name)
    elif c is None:
        what = "a float tensor (N, c_dim)" if cond == "latent" else "int64 labels (N,)"
        raise ConditionError(f"{name} was built with cond={cond!r}; pass c = {what}")


def check_net_kwargs(name: str, cond: str, allowed: tuple[str, ...], n_classes: int = 0,
                     c_dim: int = 0, out_dim: int = 1) -> None:
    """Reject a cond that the net does not know, or one that lacks its size argument."""
    if cond not in allowed:
        raise GankitError(f"{name}: unknown cond {cond!r}; choose one of: {', '.join(allowed)}")
    if cond in LABEL_CONDS and n_classes < 1:
        raise GankitError(f"{name}: cond={cond!r} needs n_classes >= 1 (got {n_classes})")
    if cond == "latent" and c_dim < 1:
        raise GankitError(f"{name}: cond='latent' needs c_dim >= 1 (got {c_dim})")
    if out_dim < 1:
        raise GankitError(f"{name}: out_dim must be >= 1 (got {out_dim})")


def check_attn_res(attn_res: int | None, allowed: list[int], name: str) -> None:
    """attn_res must be a resolution at which the net has feature maps."""
    if attn_res is not None and attn_res not in allowed:
        raise GankitError(f"{name}: no layer makes {attn_res}x{attn_res} feature maps for "
                          f"attn_res; choose one of: {', '.join(map(str, sorted(allowed)))}")


class ConditionalBatchNorm2d(nn.Module):
    """Batch norm without affine, then a per-class gain (init 1) and shift (init 0)."""

    takes_condition = True  # CondSequential hands it c

    def __init__(self, num_features: int, n_classes: int) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(num_features, affine=False)
        self.gamma = nn.Embedding(n_classes, num_features)
        self.beta = nn.Embedding(n_classes, num_features)
        nn.init.ones_(self.gamma.weight)
        nn.init.zeros_(self.beta.weight)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        return self.gamma(c)[:, :, None, None] * self.bn(x) + self.beta(c)[:, :, None, None]


def batch_norm_2d(num_features: int, n_classes: int = 0) -> nn.Module:
    """BatchNorm2d, or ConditionalBatchNorm2d when n_classes > 0."""
    if n_classes > 0:
        return ConditionalBatchNorm2d(num_features, n_classes)
    return nn.BatchNorm2d(num_features)


class CondSequential(nn.Sequential):
    """nn.Sequential (same state_dict keys) that hands c to layers with `takes_condition`."""

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        for layer in self:
            x = layer(x, c) if getattr(layer, "takes_condition", False) else layer(x)
        return x


class SelfAttention2d(nn.Module):
    """SAGAN self-attention (Zhang et al. 2019): x + gamma * o(v softmax(q^T k)^T), gamma = 0
    at init so the block starts as the identity. 1x1 convs without bias project the query and
    key to C/8 channels and the value to C/2 and back to C, as in BigGAN-PyTorch and the SAGAN
    TF code; unlike those we do not max-pool keys/values (every position attends to all)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        qk, v = max(1, channels // 8), max(1, channels // 2)
        self.query = nn.Conv2d(channels, qk, 1, bias=False)
        self.key = nn.Conv2d(channels, qk, 1, bias=False)
        self.value = nn.Conv2d(channels, v, 1, bias=False)
        self.out = nn.Conv2d(v, channels, 1, bias=False)
        self.gamma = nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, _, h, w = x.shape
        q, k = self.query(x).flatten(2), self.key(x).flatten(2)  # (N, C/8, HW)
        attn = torch.softmax(q.transpose(1, 2) @ k, dim=-1)  # (N, HW query, HW key)
        o = (self.value(x).flatten(2) @ attn.transpose(1, 2)).view(n, -1, h, w)
        return x + self.gamma * self.out(o)


class JointHead(nn.Module):
    """BiGAN/ALI joint head: scores the pair (features of x, c) with c a float vector.

    c -> Linear -> feat_dim; [fx, fc] -> LeakyReLU(0.2) -> Linear -> LeakyReLU(0.2) -> Linear.
    """

    def __init__(self, feat_dim: int, c_dim: int, out_dim: int) -> None:
        super().__init__()
        self.embed = nn.Linear(c_dim, feat_dim)
        self.joint = nn.Sequential(nn.LeakyReLU(0.2), nn.Linear(2 * feat_dim, feat_dim),
                                   nn.LeakyReLU(0.2), nn.Linear(feat_dim, out_dim))

    def forward(self, fx: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        return self.joint(torch.cat([fx, self.embed(c)], 1))


class MinibatchStddev(nn.Module):
    """ProGAN's minibatch standard deviation (Karras et al. 2018, sec. 3): one extra feature
    per sample, the mean over features of the std across its group, so D sees how varied a
    batch is and a G that draws one image for every z is easy to tell from the data.

    Sample i is grouped with i + N/G, i + 2N/G, ... (StyleGAN's layout); the group shrinks to
    N when the batch is smaller than `group`. Works on (N, C, H, W) maps and (N, F) vectors.
    """

    def __init__(self, group: int = 4) -> None:
        super().__init__()
        self.group = group

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        g = min(self.group, n)
        if n % g:
            raise GankitError(f"minibatch stddev: batch of {n} is not divisible by its group "
                              f"size {g} (model.mbstd)")
        y = x.float().reshape(g, n // g, *x.shape[1:])
        std = (y.var(0, unbiased=False) + 1e-8).sqrt()  # (N/G, C, ...)
        feat = std.flatten(1).mean(1).to(x.dtype)  # (N/G,)
        feat = feat.repeat(g)  # back to (N,) in the order of x
        extra = feat.view(n, 1, *([1] * (x.dim() - 2))).expand(n, 1, *x.shape[2:])
        return torch.cat([x, extra], 1)


def project(out: torch.Tensor, e: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """Projection discriminator (Miyato & Koyama 2018): add <embed(y), h> to column 0 only."""
    proj = (e * h).sum(1, keepdim=True)
    return torch.cat([out[:, :1] + proj, out[:, 1:]], 1)


def d_output(out: torch.Tensor, out_dim: int) -> torch.Tensor:
    """(N, 1) -> (N,) as D always returned; (N, out_dim) is kept for auxiliary heads."""
    return out.squeeze(1) if out_dim == 1 else out


SN_TYPES = (nn.Conv2d, nn.ConvTranspose2d, nn.Linear, nn.Embedding)


def add_spectral_norm(module: nn.Module) -> None:
    """Spectral norm (Miyato et al. 2018) on every conv/linear/embedding under `module`.

    Conditional-BN gains are skipped: they are per-class scales, not a linear map, and SN
    would shrink gamma = 1 to 1/sqrt(n_classes * C). Call it after the weight init.
    """
    for child in module.children():
        if isinstance(child, ConditionalBatchNorm2d):
            continue
        if isinstance(child, SN_TYPES):
            spectral_norm(child)
        else:
            add_spectral_norm(child)
