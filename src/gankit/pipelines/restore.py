"""Inference of the image-to-image families on images of any size: inpaint (pix2pix with
data.pairs=inpaint), upscale (superres) and translate (cyclegan, and pix2pix's other tasks).

The generators are fully convolutional: an image is padded to the net's stride multiple,
run whole, and cropped back, or, past `tile` px, run tile by tile with overlap blending
(pipelines/tiles.py) so peak memory depends on the tile, not the image. Inpainting keeps
the known pixels exactly: G's output is composited into the holes only. In eval mode the
U-Net's dropout is off, so inference is deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from gankit import checkpoint
from gankit.data import corrupt
from gankit.data.base import to_uint8, to_unit_range
from gankit.devices import resolve_device
from gankit.errors import GankitError
from gankit.nets import build_net
from gankit.pipelines.tiles import tiled, untiled

MIN_SIDE = 8  # px: smaller inputs leave the nets' reflection padding and strides nothing
TILE = {"superres": 256, "default": 1024}  # input px per tile side by default
OVERLAP = 16  # input px shared by neighbouring tiles (each side)
TRANSLATE_TASKS = ("translate", "pairs", "grey", "blur", "downscale")


@dataclass
class ImagePipeline:
    g: nn.Module  # A -> B (or the task's input -> output), eval mode
    g_ba: nn.Module | None  # cyclegan: B -> A
    image: dict  # the checkpoint's image record: task, in/out channels, scale, resolution
    family: str
    device: torch.device

    @property
    def task(self) -> str:
        return self.image["task"]

    @property
    def scale(self) -> int:
        return int(self.image["scale"])

    def require(self, what: str, tasks: tuple[str, ...], hint: str) -> None:
        """A GankitError, before any work, when this model does not do `what`."""
        if self.task not in tasks:
            raise GankitError(f"gankit {what} needs {hint}; this run is model.family="
                              f"{self.family} (task {self.task}): use "
                              f"{suggest(self.task)}")

    def check_upscale(self, scale: int | None = None) -> None:
        """This model upscales, by `scale` if given: a GankitError otherwise."""
        self.require("upscale", ("superres",), "a super-resolution model (model.family="
                     "superres)")
        if scale is not None and scale != self.scale:
            raise GankitError(f"--scale {scale}: this model was trained for x{self.scale}; "
                              f"train one with model.scale={scale}")

    def check_translate(self, direction: str = "a2b") -> None:
        """This model translates in `direction`: a GankitError otherwise."""
        self.require("translate", TRANSLATE_TASKS, "a translation model (model.family="
                     "cyclegan, or image2image with data.pairs grey/blur/downscale or pairs:)")
        if direction not in ("a2b", "b2a"):
            raise GankitError(f"--direction {direction!r}: choose a2b or b2a")
        if direction == "b2a" and self.g_ba is None:
            raise GankitError(f"--direction b2a needs a cyclegan model; this run is "
                              f"model.family={self.family} (one direction only)")

    def input_channels(self, direction: str = "a2b") -> int:
        key = "out_channels" if direction == "b2a" else "in_channels"
        ch = int(self.image[key])
        return ch - 1 if self.task == "inpaint" else ch

    @torch.no_grad()
    def run(self, net: nn.Module, x: torch.Tensor, tile: int | None) -> torch.Tensor:
        """net on x (1, C, H, W) in [-1, 1]: whole, or tiled past `tile` px."""
        mult = getattr(net, "multiple", 1)

        def fn(t: torch.Tensor) -> torch.Tensor:  # channels_last: 2-5x faster convs on CPU
            t = t.to(self.device).contiguous(memory_format=torch.channels_last)
            return net(t).float()

        whole_image = has_instance_norm(net)
        if tile and whole_image:
            raise GankitError(f"--tile {tile}: this model's instance norm uses statistics of the "
                              "whole image, which tiles would change; run without --tile")
        if tile is None:
            tile = 0 if whole_image else TILE.get(self.family, TILE["default"])
        if tile and max(x.shape[-2:]) > tile:
            tile = -(-max(tile, mult + 2 * OVERLAP) // mult) * mult  # room for the overlap
            return tiled(fn, x, tile, OVERLAP, self.scale, mult)
        return untiled(fn, x, mult, self.scale)

    def inpaint(self, image: torch.Tensor, mask: torch.Tensor, tile: int | None = None,
                name: str = "the image") -> torch.Tensor:
        """uint8 image (C, H, W) and mask (1, 1, H, W) or (H, W), 1 = hole -> uint8 (C, H, W)
        with only the holes filled; tiled past `tile` px (None: 1024; 0: never)."""
        self.require("inpaint", ("inpaint",), "a model trained with data.pairs=inpaint")
        check_side(image, name)
        mask = mask.reshape(1, 1, *mask.shape[-2:]).float()
        if tuple(mask.shape[-2:]) != tuple(image.shape[-2:]):
            raise GankitError(f"the mask is {mask.shape[-1]}x{mask.shape[-2]} px, {name} "
                              f"{image.shape[-1]}x{image.shape[-2]}; they must match")
        x = to_unit_range(image[None])
        prefill = bool(self.image.get("prefill", False))
        inp = corrupt.inpaint_input(x, mask, prefill)
        out = self.run(self.g, inp, tile)
        return to_uint8(corrupt.inpaint_output(out.to(x), x, mask, inp, prefill))[0]

    def upscale(self, image: torch.Tensor, scale: int | None = None, tile: int | None = None,
                name: str = "the image") -> torch.Tensor:
        """uint8 (C, h, w) -> uint8 (C, h * scale, w * scale)."""
        self.check_upscale(scale)
        check_side(image, name)
        return to_uint8(self.run(self.g, to_unit_range(image[None]), tile), inplace=True)[0]

    def translate(self, image: torch.Tensor, direction: str = "a2b", tile: int | None = None,
                  name: str = "the image") -> torch.Tensor:
        """uint8 (C, H, W) -> the translated uint8 image (b2a: cyclegan's other G)."""
        self.check_translate(direction)
        check_side(image, name)
        net = self.g_ba if direction == "b2a" else self.g
        return to_uint8(self.run(net, to_unit_range(image[None]), tile), inplace=True)[0]


def has_instance_norm(net: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.instancenorm._InstanceNorm) for m in net.modules())


def suggest(task: str) -> str:
    return {"inpaint": "gankit inpaint", "superres": "gankit upscale"}.get(
        task, "gankit translate")


def check_side(image: torch.Tensor, what: str) -> None:
    """Refuse an image too small for the nets, naming it (`what`: a path or "the image")."""
    h, w = image.shape[-2:]
    if min(h, w) < MIN_SIDE:
        raise GankitError(f"{what}: {w}x{h} px, smaller than this model's minimum of "
                          f"{MIN_SIDE} px a side")


def load_image_model(path: str | Path, device: str = "cpu", ema: bool = True) -> ImagePipeline:
    """A run folder or checkpoint of an image-to-image family -> an ImagePipeline."""
    dev = resolve_device(str(device))
    ckpt = checkpoint.load(path, device="cpu")
    fam = ckpt["family"]
    if "image" not in fam:
        raise GankitError(f"{path} is model.family={fam['name']}, a generator of samples: "
                          "inpaint, upscale and translate need model.family=image2image, "
                          "superres or cyclegan (use gankit sample)")
    group = "ema" if ema else "nets"
    nets = {}
    try:
        for name in ("g", "g_ba"):
            if name in ckpt["specs"]:
                net = build_net(ckpt["specs"][name])
                net.load_state_dict(ckpt["state"][group][name])
                nets[name] = net.to(dev).to(memory_format=torch.channels_last).eval()
    except (KeyError, RuntimeError) as exc:
        first = str(exc).strip().splitlines()[0]
        raise GankitError(f"checkpoint {path} does not match its recorded model: {first}") from None
    return ImagePipeline(nets["g"], nets.get("g_ba"), fam["image"], fam["name"], dev)
