"""Conditioning, auxiliary outputs, spectral norm and self-attention of every network family,
and proof that the default kwargs rebuild the pre-conditioning nets bit for bit."""

import math

import pytest
import torch
from torch import nn

from gankit.config import ModelConfig
from gankit.errors import GankitError
from gankit.nets import ARCHS, NETS, build_net
from gankit.nets.layers import ConditionalBatchNorm2d, ConditionError, SelfAttention2d

Z, RES, N, K = 4, 16, 4, 5  # latent size, image size, batch, classes

# ---- copies of the constructors as they were before conditioning (commit d6ac80a) ----------


def _old_dcgan_init(module):
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d | nn.BatchNorm1d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def old_dcgan_g(z_dim, channels, s0, k, width):
    ch = width * 2 ** (k - 1)
    layers = [nn.ConvTranspose2d(z_dim, ch, s0, 1, 0, bias=False), nn.BatchNorm2d(ch),
              nn.ReLU(inplace=True)]
    for _ in range(k - 1):
        layers += [nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=False),
                   nn.BatchNorm2d(ch // 2), nn.ReLU(inplace=True)]
        ch //= 2
    layers += [nn.ConvTranspose2d(ch, channels, 4, 2, 1, bias=False), nn.Tanh()]
    m = nn.Module()
    m.net = nn.Sequential(*layers)
    _old_dcgan_init(m)
    return m, lambda z: m.net(z[:, :, None, None])


def old_dcgan_d(channels, s0, k, width, norm):
    layers = [nn.Conv2d(channels, width, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True)]
    ch = width
    for _ in range(k - 1):
        layers.append(nn.Conv2d(ch, ch * 2, 4, 2, 1, bias=norm != "batch"))
        if norm == "batch":
            layers.append(nn.BatchNorm2d(ch * 2))
        layers.append(nn.LeakyReLU(0.2, inplace=True))
        ch *= 2
    layers.append(nn.Conv2d(ch, 1, s0, 1, 0, bias=False))
    m = nn.Module()
    m.net = nn.Sequential(*layers)
    _old_dcgan_init(m)
    return m, lambda x: m.net(x).flatten()


def old_mlp_g(z_dim, out_shape, width, depth, tanh):
    layers, fan_in = [], z_dim
    for _ in range(depth):
        layers += [nn.Linear(fan_in, width), nn.ReLU(inplace=True)]
        fan_in = width
    layers.append(nn.Linear(fan_in, math.prod(out_shape)))
    if tanh:
        layers.append(nn.Tanh())
    m = nn.Module()
    m.net = nn.Sequential(*layers)
    return m, lambda z: m.net(z).view(z.shape[0], *out_shape)


def old_mlp_d(in_shape, width, depth):
    layers, fan_in = [], math.prod(in_shape)
    for _ in range(depth):
        layers += [nn.Linear(fan_in, width), nn.LeakyReLU(0.2, inplace=True)]
        fan_in = width
    layers.append(nn.Linear(fan_in, 1))
    m = nn.Module()
    m.net = nn.Sequential(*layers)
    return m, lambda x: m.net(x.flatten(1)).squeeze(1)


# (new name, new kwargs, old builder, old args, input shape)
DEFAULT_CASES = [
    ("dcgan-g", {"z_dim": 10, "channels": 1, "resolution": 28, "width": 8}, old_dcgan_g,
     (10, 1, 7, 2, 8), (10,)),
    ("dcgan-g", {"z_dim": 6, "channels": 3, "resolution": 32, "width": 4}, old_dcgan_g,
     (6, 3, 4, 3, 4), (6,)),
    ("dcgan-d", {"channels": 1, "resolution": 28, "width": 8}, old_dcgan_d,
     (1, 7, 2, 8, "batch"), (1, 28, 28)),
    ("dcgan-d", {"channels": 3, "resolution": 32, "width": 4, "norm": "none"}, old_dcgan_d,
     (3, 4, 3, 4, "none"), (3, 32, 32)),
    ("mlp-g", {"z_dim": 2, "out_shape": [2], "width": 16, "depth": 2, "tanh": False},
     old_mlp_g, (2, (2,), 16, 2, False), (2,)),
    ("mlp-g", {"z_dim": 3, "out_shape": [1, 8, 8], "width": 16, "depth": 3}, old_mlp_g,
     (3, (1, 8, 8), 16, 3, True), (3,)),
    ("mlp-d", {"in_shape": [2], "width": 16, "depth": 2}, old_mlp_d, ((2,), 16, 2), (2,)),
    ("mlp-d", {"in_shape": [1, 8, 8], "width": 16, "depth": 0}, old_mlp_d, ((1, 8, 8), 16, 0),
     (1, 8, 8)),
]


@pytest.mark.parametrize("name,kwargs,old,old_args,in_shape", DEFAULT_CASES)
def test_default_kwargs_rebuild_todays_nets(name, kwargs, old, old_args, in_shape):
    torch.manual_seed(3)
    old_net, old_forward = old(*old_args)
    after_old = torch.rand(3)  # the RNG stream after construction must match too
    torch.manual_seed(3)
    new = NETS.get(name)(**kwargs)
    after_new = torch.rand(3)
    assert torch.equal(after_old, after_new)
    old_sd, new_sd = old_net.state_dict(), new.state_dict()
    assert list(old_sd) == list(new_sd)
    for key in old_sd:
        assert torch.equal(old_sd[key], new_sd[key]), key
    new.load_state_dict(old_sd)  # strict: old checkpoints load
    x = torch.randn(5, *in_shape)
    for train in (True, False):
        old_net.train(train)
        new.train(train)
        assert torch.equal(old_forward(x.clone()), new(x.clone()))


def test_default_state_dict_keys_are_frozen():
    shapes = {k: tuple(v.shape) for k, v in NETS.get("dcgan-g")(10, 1, 28, 8).state_dict().items()}
    assert shapes == {
        "net.0.weight": (10, 16, 7, 7), "net.1.weight": (16,), "net.1.bias": (16,),
        "net.1.running_mean": (16,), "net.1.running_var": (16,),
        "net.1.num_batches_tracked": (), "net.3.weight": (16, 8, 4, 4), "net.4.weight": (8,),
        "net.4.bias": (8,), "net.4.running_mean": (8,), "net.4.running_var": (8,),
        "net.4.num_batches_tracked": (), "net.6.weight": (8, 1, 4, 4)}
    d = NETS.get("dcgan-d")(3, 32, 8, norm="none").state_dict()
    assert {k: tuple(v.shape) for k, v in d.items()} == {
        "net.0.weight": (8, 3, 4, 4), "net.2.weight": (16, 8, 4, 4), "net.2.bias": (16,),
        "net.4.weight": (32, 16, 4, 4), "net.4.bias": (32,), "net.6.weight": (1, 32, 4, 4)}
    g = NETS.get("mlp-g")(2, [2], 16, 2, tanh=False).state_dict()
    assert {k: tuple(v.shape) for k, v in g.items()} == {
        "net.0.weight": (16, 2), "net.0.bias": (16,), "net.2.weight": (16, 16),
        "net.2.bias": (16,), "net.4.weight": (2, 16), "net.4.bias": (2,)}
    d = NETS.get("mlp-d")([2], 16, 2).state_dict()
    assert {k: tuple(v.shape) for k, v in d.items()} == {
        "net.0.weight": (16, 2), "net.0.bias": (16,), "net.2.weight": (16, 16),
        "net.2.bias": (16,), "net.4.weight": (1, 16), "net.4.bias": (1,)}


# ---- tiny nets of every arch -----------------------------------------------------------------

ARCH_NAMES = ("mlp", "dcgan", "resnet")


def make_g(arch, **kw):
    if arch == "mlp":
        return NETS.get("mlp-g")(Z, [3, RES, RES], width=8, depth=2, **kw)
    width = 4 if arch == "dcgan" else 2
    return NETS.get(f"{arch}-g")(Z, 3, RES, width, **kw)


def make_d(arch, **kw):
    if arch == "mlp":
        return NETS.get("mlp-d")([3, RES, RES], width=8, depth=2, **kw)
    width = 4 if arch == "dcgan" else 2
    return NETS.get(f"{arch}-d")(3, RES, width, **kw)


def labels(n=N):
    return torch.arange(n) % K


def g_cond(cond):
    return {} if cond == "none" else {"cond": cond, "n_classes": K}


def d_cond(cond):
    return {"none": {}, "projection": {"cond": "projection", "n_classes": K},
            "latent": {"cond": "latent", "c_dim": 3}}[cond]


def d_c(cond, n=N):
    return {"none": None, "projection": labels(n), "latent": torch.randn(n, 3)}[cond]


G_COMBOS = [(a, cond, attn, sn) for a in ARCH_NAMES for cond in ("none", "embed", "cbn")
            for attn in (None, 8) for sn in (False, True)
            if not (a == "mlp" and (cond == "cbn" or attn))]
D_COMBOS = [(a, cond, out, attn, sn) for a in ARCH_NAMES
            for cond in ("none", "projection", "latent") for out in (1, 3)
            for attn in (None, 8) for sn in (False, True) if not (a == "mlp" and attn)]


@pytest.mark.parametrize("arch,cond,attn,sn", G_COMBOS)
def test_generator_shapes(arch, cond, attn, sn):
    torch.manual_seed(0)
    kw = g_cond(cond) | ({"attn_res": attn} if attn else {}) | {"sn": sn}
    g = make_g(arch, **kw)
    x = g(torch.randn(N, Z), None if cond == "none" else labels())
    assert x.shape == (N, 3, RES, RES) and x.dtype == torch.float32
    assert x.abs().max() <= 1
    x.sum().backward()
    assert all(p.grad is not None for p in g.parameters() if p.requires_grad)
    assert any(isinstance(m, SelfAttention2d) for m in g.modules()) == bool(attn)


@pytest.mark.parametrize("arch,cond,out_dim,attn,sn", D_COMBOS)
def test_discriminator_shapes(arch, cond, out_dim, attn, sn):
    torch.manual_seed(0)
    kw = d_cond(cond) | {"out_dim": out_dim, "sn": sn} | ({"attn_res": attn} if attn else {})
    d = make_d(arch, **kw)
    out = d(torch.randn(N, 3, RES, RES), d_c(cond))
    assert out.shape == ((N,) if out_dim == 1 else (N, out_dim))
    assert out.dtype == torch.float32
    out.sum().backward()
    assert any(isinstance(m, SelfAttention2d) for m in d.modules()) == bool(attn)


@pytest.mark.parametrize("arch", ARCH_NAMES)
def test_encoder_is_a_discriminator_with_z_dim_outputs(arch):
    e = make_d(arch, out_dim=Z, **({"norm": "batch"} if arch == "dcgan" else {}))
    assert e(torch.randn(N, 3, RES, RES)).shape == (N, Z)


# ---- values ----------------------------------------------------------------------------------


def parts(d, x):
    """(psi outputs before projection, pooled features h) computed from the module's parts."""
    if hasattr(d, "trunk"):  # resnet
        h = d.trunk(x).sum((2, 3))
        return d.head(h), h
    if isinstance(d.net[0], nn.Conv2d):  # dcgan: psi is the s0 x s0 conv on the map
        feat = d.net[:-1](x)
        return d.net[-1](feat).flatten(1), feat.sum((2, 3))
    h = d.net[:-1](x.flatten(1))
    return d.net[-1](h), h


@pytest.mark.parametrize("arch", ARCH_NAMES)
@pytest.mark.parametrize("out_dim", [1, 3])
def test_projection_matches_a_hand_computation(arch, out_dim):
    torch.manual_seed(1)
    d = make_d(arch, cond="projection", n_classes=K, out_dim=out_dim).eval()
    nn.init.normal_(d.embed.weight)  # make the projection term large
    x, y = torch.randn(N, 3, RES, RES), labels()
    with torch.no_grad():
        psi, h = parts(d, x)
        want = psi.clone()
        for i in range(N):
            want[i, 0] += sum(d.embed.weight[y[i], j] * h[i, j] for j in range(h.shape[1]))
        got = d(x, y)
        if out_dim == 1:
            want = want[:, 0]
        else:  # labels touch column 0 only
            assert torch.equal(got[:, 1:], d(x, (y + 1) % K)[:, 1:])
    assert torch.allclose(got, want, atol=1e-4, rtol=1e-4)
    assert not torch.allclose(got, psi.squeeze(1), atol=1e-2)


def test_conditional_batch_norm_uses_the_class_gain_and_shift():
    torch.manual_seed(2)
    cbn = ConditionalBatchNorm2d(3, K)
    assert torch.equal(cbn.gamma.weight, torch.ones(K, 3))
    assert torch.equal(cbn.beta.weight, torch.zeros(K, 3))
    with torch.no_grad():
        cbn.gamma.weight.copy_(torch.arange(K * 3.0).view(K, 3))
        cbn.beta.weight.copy_(-torch.arange(K * 3.0).view(K, 3) / 7)
    x, y = torch.randn(6, 3, 5, 5), torch.tensor([0, 4, 2, 2, 1, 3])
    mean = x.mean((0, 2, 3), keepdim=True)
    var = x.var((0, 2, 3), unbiased=False, keepdim=True)
    xhat = (x - mean) / torch.sqrt(var + 1e-5)
    gamma, beta = cbn.gamma.weight[y][:, :, None, None], cbn.beta.weight[y][:, :, None, None]
    assert torch.allclose(cbn(x, y), gamma * xhat + beta, atol=1e-5)


@pytest.mark.parametrize("arch", ["dcgan", "resnet"])
def test_cbn_generator_depends_on_the_label(arch):
    torch.manual_seed(3)
    g = make_g(arch, cond="cbn", n_classes=K)
    assert not any(isinstance(m, nn.BatchNorm2d) and m.affine for m in g.modules())
    z = torch.randn(1, Z).repeat(4, 1)
    c = torch.tensor([0, 1, 0, 1])
    x = g(z, c)
    assert torch.equal(x[0], x[1])  # gamma = 1, beta = 0 for every class at init
    for m in g.modules():
        if isinstance(m, ConditionalBatchNorm2d):
            nn.init.normal_(m.gamma.weight, 1.0, 0.5)
            nn.init.normal_(m.beta.weight, 0.0, 0.5)
    x = g(z, c)
    assert torch.equal(x[0], x[2]) and (x[0] - x[1]).abs().max() > 1e-3


@pytest.mark.parametrize("arch", ARCH_NAMES)
def test_embed_generator_depends_on_the_label(arch):
    torch.manual_seed(4)
    g = make_g(arch, cond="embed", n_classes=K, embed_dim=6)
    z = torch.randn(1, Z).repeat(4, 1)
    x = g(z, torch.tensor([0, 1, 0, 1]))
    assert torch.equal(x[0], x[2]) and (x[0] - x[1]).abs().max() > 1e-4


@pytest.mark.parametrize("arch", ARCH_NAMES)
def test_latent_discriminator_scores_the_pair(arch):
    torch.manual_seed(5)
    d = make_d(arch, cond="latent", c_dim=3, out_dim=2).eval()
    x, c = torch.randn(N, 3, RES, RES), torch.randn(N, 3)
    a, b = d(x, c), d(x, c + 1)
    assert a.shape == (N, 2) and (a - b).abs().min() > 1e-6
    assert not torch.allclose(a, d(x.flip(0), c))


def sn_matrix(m):
    w = m.weight  # in eval mode: the normalised weight, no power iteration
    if isinstance(m, nn.ConvTranspose2d):  # SN normalises along dim 1 for transposed convs
        w = w.transpose(0, 1)
    return w.flatten(1)


@pytest.mark.parametrize("arch", ARCH_NAMES)
def test_spectral_norm_bounds_every_weight_to_one(arch):
    torch.manual_seed(6)
    attn = {} if arch == "mlp" else {"attn_res": 8}
    g = make_g(arch, cond="embed", n_classes=K, sn=True, **attn)
    d = make_d(arch, cond="projection", n_classes=K, sn=True, out_dim=3, **attn)
    for _ in range(30):  # power iterations run once per forward in train mode
        g(torch.randn(N, Z), labels())
        d(torch.randn(N, 3, RES, RES), labels())
    n_sn = 0
    for net in (g.eval(), d.eval()):
        for m in net.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear, nn.Embedding)):
                assert hasattr(m, "parametrizations"), m
                s = torch.linalg.matrix_norm(sn_matrix(m).detach(), ord=2).item()
                assert abs(s - 1) < 0.05, (m, s)
                n_sn += 1
    assert n_sn >= 6
    cbn = make_g("dcgan", cond="cbn", n_classes=K, sn=True)
    gains = [m.gamma for m in cbn.modules() if isinstance(m, ConditionalBatchNorm2d)]
    assert gains and not any(hasattr(e, "parametrizations") for e in gains)


def test_self_attention_value():
    torch.manual_seed(7)
    block = SelfAttention2d(16)
    x = torch.randn(2, 16, 3, 4)
    assert torch.equal(block(x), x)  # gamma = 0 at init: the identity
    with torch.no_grad():
        block.gamma.fill_(0.7)
    wq, wk = block.query.weight[:, :, 0, 0], block.key.weight[:, :, 0, 0]
    wv, wo = block.value.weight[:, :, 0, 0], block.out.weight[:, :, 0, 0]
    with torch.no_grad():
        want = x.clone()
        for n in range(2):
            pos = x[n].flatten(1).T  # (HW, C)
            q, k, v = pos @ wq.T, pos @ wk.T, pos @ wv.T
            for i in range(12):
                e = torch.stack([q[i] @ k[j] for j in range(12)])
                a = torch.exp(e - e.max()) / torch.exp(e - e.max()).sum()
                o = sum(a[j] * v[j] for j in range(12))
                want[n, :, i // 4, i % 4] += 0.7 * (wo @ o)
        got = block(x)
        assert torch.allclose(got, want, atol=1e-5)
        x2 = x.clone()
        x2[:, :, 0, 0] += 1  # one position changes: every other position's output moves
        moved = (block(x2) - got).abs().amax(1)
    assert (moved > 1e-6).all()


@pytest.mark.parametrize("arch", ["dcgan", "resnet"])
def test_attention_block_sits_at_the_requested_resolution(arch):
    seen = []
    g, d = make_g(arch, attn_res=8), make_d(arch, attn_res=4)
    for net in (g, d):
        for m in net.modules():
            if isinstance(m, SelfAttention2d):
                m.register_forward_hook(lambda mod, inp, out: seen.append(out.shape[-1]))
    g(torch.randn(N, Z))
    d(torch.randn(N, 3, RES, RES))
    assert seen == [8, 4]


# ---- resnet layout and the arch registry -----------------------------------------------------


@pytest.mark.parametrize("res,channels", [(8, 1), (28, 1), (32, 3), (48, 3), (64, 1)])
def test_resnet_arch_shapes(res, channels):
    m = ModelConfig(arch="resnet", z_dim=8, g_width=2, d_width=2)
    g_spec, d_spec = ARCHS.get("resnet")(m, (channels, res, res))
    g, d = build_net(g_spec), build_net(d_spec)
    x = g(torch.randn(3, 8))
    assert x.shape == (3, channels, res, res) and x.abs().max() <= 1
    assert d(x).shape == (3,)
    s0 = {8: 4, 28: 7, 32: 4, 48: 6, 64: 4}[res]
    k = round(math.log2(res // s0))
    assert g.ch0 == 2 * 2**k and d.trunk(x).shape[1:] == (2 * 2**k, s0, s0)


def test_resnet_init_follows_sngan():
    torch.manual_seed(8)
    g = make_g("resnet")
    conv = g.net[0].residual[3]  # the first residual 3x3 conv: xavier_uniform, gain sqrt(2)
    bound = math.sqrt(2) * math.sqrt(6 / (9 * (conv.in_channels + conv.out_channels)))
    assert conv.weight.abs().max() <= bound and conv.weight.abs().max() > 0.9 * bound
    assert all((m.bias == 0).all() for m in g.modules() if isinstance(m, nn.Conv2d))


def test_a_conditional_pair_trains_for_a_few_steps():
    torch.manual_seed(9)
    g = make_g("resnet", cond="cbn", n_classes=K, attn_res=8)
    d = make_d("resnet", cond="projection", n_classes=K, sn=True, out_dim=1 + K)
    opt_g, opt_d = (torch.optim.Adam(n.parameters(), 1e-3) for n in (g, d))
    real, y = torch.rand(N, 3, RES, RES) * 2 - 1, labels()
    for _ in range(3):
        fake = g(torch.randn(N, Z), y)
        # hinge D loss + ACGAN class cross-entropy on the auxiliary columns
        out_r, out_f = d(real, y), d(fake.detach(), y)
        loss_d = (torch.relu(1 - out_r[:, 0]).mean() + torch.relu(1 + out_f[:, 0]).mean()
                  + nn.functional.cross_entropy(out_r[:, 1:], y))
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        loss_g = -d(fake, y)[:, 0].mean()
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
    assert torch.isfinite(loss_d) and torch.isfinite(loss_g)


# ---- bad input -------------------------------------------------------------------------------


def test_mlp_rejects_cbn_and_attention():
    with pytest.raises(GankitError, match="MLPGenerator.*cbn"):
        make_g("mlp", cond="cbn", n_classes=K)
    with pytest.raises(GankitError, match="attn_res"):
        make_g("mlp", attn_res=8)
    with pytest.raises(GankitError, match="attn_res"):
        make_d("mlp", attn_res=8)


@pytest.mark.parametrize("arch", ["dcgan", "resnet"])
def test_attention_needs_an_existing_resolution(arch):
    allowed = "4, 8" if arch == "dcgan" else "4, 8, 16"
    with pytest.raises(GankitError, match=f"no layer makes 5x5.*choose one of: {allowed}$"):
        make_g(arch, attn_res=5)
    with pytest.raises(GankitError, match="choose one of: 4, 8$"):
        make_d(arch, attn_res=16)


@pytest.mark.parametrize("arch", ARCH_NAMES)
def test_condition_must_match_the_net(arch):
    g, d = make_g(arch), make_d(arch)
    for net, inp in ((g, torch.randn(2, Z)), (d, torch.randn(2, 3, RES, RES))):
        with pytest.raises(ConditionError, match="unconditional"):
            net(inp, torch.zeros(2, dtype=torch.long))
    assert issubclass(ConditionError, GankitError) and issubclass(ConditionError, ValueError)
    with pytest.raises(ConditionError, match="int64 labels"):
        make_g(arch, cond="embed", n_classes=K)(torch.randn(2, Z))
    with pytest.raises(ConditionError, match="c_dim"):
        make_d(arch, cond="latent", c_dim=3)(torch.randn(2, 3, RES, RES))


@pytest.mark.parametrize("arch", ARCH_NAMES)
def test_bad_kwargs_are_rejected(arch):
    with pytest.raises(GankitError, match="unknown cond 'projection'.*none, embed"):
        make_g(arch, cond="projection", n_classes=K)
    with pytest.raises(GankitError, match="unknown cond 'embed'.*projection, latent"):
        make_d(arch, cond="embed", n_classes=K)
    with pytest.raises(GankitError, match="needs n_classes >= 1"):
        make_d(arch, cond="projection")
    with pytest.raises(GankitError, match="needs c_dim >= 1"):
        make_d(arch, cond="latent")
    with pytest.raises(GankitError, match="out_dim must be >= 1"):
        make_d(arch, out_dim=0)


def test_resnet_bad_shapes():
    with pytest.raises(GankitError, match="resnet cannot make 30x30.*data.resolution"):
        NETS.get("resnet-g")(Z, 3, 30)
    with pytest.raises(GankitError, match="square"):
        ARCHS.get("resnet")(ModelConfig(), (3, 16, 8))
    with pytest.raises(GankitError, match="unknown norm 'layer'"):
        NETS.get("dcgan-d")(3, 16, norm="layer")
