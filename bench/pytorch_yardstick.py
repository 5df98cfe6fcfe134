#!/usr/bin/python3
"""A yardstick for mattecast's speed claims: Robust Video Matting (MobileNetV3) in plain PyTorch.

The network is written here from its architecture description (MobileNetV3-Large encoder with a
dilated last stage, LR-ASPP, recurrent ConvGRU decoder, fast or deep guided filter refiner), with
the module names of the official MattingNetwork so that its state_dict loads unchanged. It runs
eager PyTorch in eval mode with BatchNorm as separate layers, as the official model does, so its
time per frame is what "the official PyTorch RVM on this CPU" costs.

    bench/pytorch_yardstick.py [--size 1920x1080 ...] [--ratio R] [--threads 2] [--json]
    bench/pytorch_yardstick.py --check-golden ../shared/golden/rvm_mobilenetv3/640x360_ds0.5

Needs Debian's python3-torch (run with /usr/bin/python3) and NumPy; nothing else.

Caveats for reading its numbers: Debian's PyTorch links the system libblas.so.3 (the reference
BLAS unless an optimised alternative such as OpenBLAS is installed) where pip's wheels bundle MKL.
With 2 or more threads every convolution here goes to oneDNN, but with --threads 1 PyTorch sends
the 1x1 convolutions to BLAS, so 1-thread numbers understate what PyTorch can do. Its OpenMP pool
also waits at a barrier after every op, which a busy machine turns into lost time slices.
"""
import argparse
import json
import os
import re
import struct
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

REPO = Path(__file__).resolve().parent.parent
DEFAULT_MODEL = REPO.parent / "shared/models/rvm_mobilenetv3_from_tfjs.pth"
# The settings the project's speed targets are quoted in (as `mattecast bench` uses them).
DEFAULT_SIZES = [("1920x1080", 0.25), ("1280x720", 0.375)]


# ---------------------------------------------------------------------------------------------
# Encoder: torchvision's MobileNetV3-Large layout (features.0 .. features.16), last stage dilated.

def conv_bn(cin, cout, k, stride=1, dilation=1, groups=1, act=None):
    """Conv (no bias) + BatchNorm (+ activation): indices 0, 1 (, 2) as in torchvision."""
    pad = (k - 1) // 2 * dilation
    layers = [nn.Conv2d(cin, cout, k, stride, pad, dilation, groups, bias=False),
              nn.BatchNorm2d(cout, eps=1e-3)]  # torchvision's MobileNetV3 uses eps 1e-3
    if act is not None:
        layers.append(act())
    return nn.Sequential(*layers)


def make_divisible(v, divisor=8):
    """Channel rounding of MobileNet: nearest multiple of 8, never below 90% of v."""
    rounded = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * v else rounded


class SqueezeExcite(nn.Module):
    def __init__(self, channels):
        super().__init__()
        squeeze = make_divisible(channels // 4)
        self.fc1 = nn.Conv2d(channels, squeeze, 1)
        self.fc2 = nn.Conv2d(squeeze, channels, 1)

    def forward(self, x):
        s = F.adaptive_avg_pool2d(x, 1)
        s = F.hardsigmoid(self.fc2(F.relu(self.fc1(s))))
        return x * s


class InvertedResidual(nn.Module):
    """Expand 1x1 -> depthwise kxk -> (SE) -> project 1x1, residual when shapes allow."""

    def __init__(self, cin, k, expanded, cout, se, act, stride, dilation):
        super().__init__()
        layers = []
        if expanded != cin:
            layers.append(conv_bn(cin, expanded, 1, act=act))
        # A dilated block keeps the resolution (output stride 16 instead of 32).
        stride = 1 if dilation > 1 else stride
        layers.append(conv_bn(expanded, expanded, k, stride, dilation, groups=expanded, act=act))
        if se:
            layers.append(SqueezeExcite(expanded))
        layers.append(conv_bn(expanded, cout, 1))
        self.block = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        y = self.block(x)
        return x + y if self.residual else y


RE, HS = nn.ReLU, nn.Hardswish
# (in, kernel, expanded, out, squeeze-excite, activation, stride, dilation) per block 1..15.
MOBILENETV3_LARGE = [
    (16, 3, 16, 16, False, RE, 1, 1), (16, 3, 64, 24, False, RE, 2, 1),
    (24, 3, 72, 24, False, RE, 1, 1), (24, 5, 72, 40, True, RE, 2, 1),
    (40, 5, 120, 40, True, RE, 1, 1), (40, 5, 120, 40, True, RE, 1, 1),
    (40, 3, 240, 80, False, HS, 2, 1), (80, 3, 200, 80, False, HS, 1, 1),
    (80, 3, 184, 80, False, HS, 1, 1), (80, 3, 184, 80, False, HS, 1, 1),
    (80, 3, 480, 112, True, HS, 1, 1), (112, 3, 672, 112, True, HS, 1, 1),
    (112, 5, 672, 160, True, HS, 2, 2), (160, 5, 960, 160, True, HS, 1, 2),
    (160, 5, 960, 160, True, HS, 1, 2),
]


class Encoder(nn.Module):
    MEAN = (0.485, 0.456, 0.406)  # ImageNet statistics, as the official model normalises
    STD = (0.229, 0.224, 0.225)

    def __init__(self):
        super().__init__()
        layers = [conv_bn(3, 16, 3, stride=2, act=HS)]
        layers += [InvertedResidual(*cfg) for cfg in MOBILENETV3_LARGE]
        layers.append(conv_bn(160, 960, 1, act=HS))
        self.features = nn.Sequential(*layers)
        self.register_buffer("mean", torch.tensor(self.MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(self.STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, x):
        x = (x - self.mean) / self.std
        feats = []
        # Skip features after blocks 1, 3, 6 (strides 2, 4, 8) and the last layer (stride 16).
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in (1, 3, 6, 16):
                feats.append(x)
        return feats


class LRASPP(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.aspp1 = nn.Sequential(nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout),
                                   nn.ReLU())
        self.aspp2 = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(cin, cout, 1, bias=False),
                                   nn.Sigmoid())

    def forward(self, x):
        return self.aspp1(x) * self.aspp2(x)


# ---------------------------------------------------------------------------------------------
# Recurrent decoder.

class ConvGRU(nn.Module):
    def __init__(self, ch):
        super().__init__()
        self.ch = ch
        self.ih = nn.Sequential(nn.Conv2d(2 * ch, 2 * ch, 3, padding=1), nn.Sigmoid())
        self.hh = nn.Sequential(nn.Conv2d(2 * ch, ch, 3, padding=1), nn.Tanh())

    def forward(self, x, h):
        if h is None:  # first frame: the state starts at zeros
            h = torch.zeros_like(x)
        r, z = self.ih(torch.cat([x, h], 1)).split(self.ch, 1)
        c = self.hh(torch.cat([x, r * h], 1))
        h = (1 - z) * h + z * c
        return h


def gru_on_half(gru, x, h):
    """The GRU runs on the second half of the channels; the first half passes through."""
    a, b = x.split(gru.ch, 1)
    h = gru(b, h)
    return torch.cat([a, h], 1), h


def up_to(x, like):
    """2x bilinear upsampling, cropped to the skip's size (odd sizes were rounded up going down)."""
    x = F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)
    return x[:, :, :like.shape[2], :like.shape[3]]


class BottleneckBlock(nn.Module):
    def __init__(self, ch):
        super().__init__()
        self.gru = ConvGRU(ch // 2)

    def forward(self, x, h):
        return gru_on_half(self.gru, x, h)


def conv3_bn_relu(cin, cout):
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]


class UpsamplingBlock(nn.Module):
    def __init__(self, cin, cskip, csrc, cout):
        super().__init__()
        self.conv = nn.Sequential(*conv3_bn_relu(cin + cskip + csrc, cout))
        self.gru = ConvGRU(cout // 2)

    def forward(self, x, skip, s, h):
        x = self.conv(torch.cat([up_to(x, s), skip, s], 1))
        return gru_on_half(self.gru, x, h)


class OutputBlock(nn.Module):
    def __init__(self, cin, csrc, cout):
        super().__init__()
        self.conv = nn.Sequential(*conv3_bn_relu(cin + csrc, cout), *conv3_bn_relu(cout, cout))

    def forward(self, x, s):
        return self.conv(torch.cat([up_to(x, s), s], 1))


class Decoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.decode4 = BottleneckBlock(128)
        self.decode3 = UpsamplingBlock(128, 40, 3, 80)
        self.decode2 = UpsamplingBlock(80, 24, 3, 40)
        self.decode1 = UpsamplingBlock(40, 16, 3, 32)
        self.decode0 = OutputBlock(32, 3, 16)

    def forward(self, s0, f1, f2, f3, f4, rec):
        # Image pyramid at the skips' resolutions; ceil so odd sizes match the strided convs.
        s1 = F.avg_pool2d(s0, 2, 2, ceil_mode=True, count_include_pad=False)
        s2 = F.avg_pool2d(s1, 2, 2, ceil_mode=True, count_include_pad=False)
        s3 = F.avg_pool2d(s2, 2, 2, ceil_mode=True, count_include_pad=False)
        r1, r2, r3, r4 = rec
        x4, r4 = self.decode4(f4, r4)
        x3, r3 = self.decode3(x4, f3, s3, r3)
        x2, r2 = self.decode2(x3, f2, s2, r2)
        x1, r1 = self.decode1(x2, f1, s1, r1)
        return self.decode0(x1, s0), (r1, r2, r3, r4)


class Projection(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 1)

    def forward(self, x):
        return self.conv(x)


# ---------------------------------------------------------------------------------------------
# Refiners: low-resolution prediction -> full resolution, guided by the full-resolution frame.

def with_gray(rgb):
    """The guide is 4 channels: R, G, B and their mean."""
    return torch.cat([rgb, rgb.mean(1, keepdim=True)], 1)


def apply_linear_model(a, b, fine_x):
    size = fine_x.shape[2:]
    a = F.interpolate(a, size, mode="bilinear", align_corners=False)
    b = F.interpolate(b, size, mode="bilinear", align_corners=False)
    return a * fine_x + b


class FastGuidedFilter(nn.Module):
    """Parameter-free guided filter, box radius 1 as two separable 1/3 passes, zero padded."""

    def __init__(self, radius=1, eps=1e-5):
        super().__init__()
        self.radius, self.eps = radius, eps

    def box(self, x):
        k, c, r = 2 * self.radius + 1, x.shape[1], self.radius
        kx = torch.full((c, 1, 1, k), 1 / k, dtype=x.dtype)
        ky = torch.full((c, 1, k, 1), 1 / k, dtype=x.dtype)
        x = F.conv2d(x, kx, padding=(0, r), groups=c)
        return F.conv2d(x, ky, padding=(r, 0), groups=c)

    def forward(self, fine_src, base_src, base_y, hid):
        del hid  # only the deep guided filter uses the decoder's features
        x, fine_x = with_gray(base_src), with_gray(fine_src)
        mean_x, mean_y = self.box(x), self.box(base_y)
        cov = self.box(x * base_y) - mean_x * mean_y
        var = self.box(x * x) - mean_x * mean_x
        a = cov / (var + self.eps)
        return apply_linear_model(a, mean_y - a * mean_x, fine_x)


class DeepGuidedFilter(nn.Module):
    """Guided filter whose A comes from a small 1x1-conv net on [cov, var, decoder features]."""

    def __init__(self, hid=16):
        super().__init__()
        self.box_filter = nn.Conv2d(4, 4, 3, padding=1, bias=False, groups=4)
        self.conv = nn.Sequential(
            nn.Conv2d(8 + hid, hid, 1, bias=False), nn.BatchNorm2d(hid), nn.ReLU(),
            nn.Conv2d(hid, hid, 1, bias=False), nn.BatchNorm2d(hid), nn.ReLU(),
            nn.Conv2d(hid, 4, 1))

    def forward(self, fine_src, base_src, base_y, hid):
        x, fine_x = with_gray(base_src), with_gray(fine_src)
        mean_x, mean_y = self.box_filter(x), self.box_filter(base_y)
        cov = self.box_filter(x * base_y) - mean_x * mean_y
        var = self.box_filter(x * x) - mean_x * mean_x
        a = self.conv(torch.cat([cov, var, hid], 1))
        return apply_linear_model(a, mean_y - a * mean_x, fine_x)


class MattingNetwork(nn.Module):
    def __init__(self, deep_refiner=False):
        super().__init__()
        self.backbone = Encoder()
        self.aspp = LRASPP(960, 128)
        self.decoder = Decoder()
        self.project_mat = Projection(16, 4)
        self.refiner = DeepGuidedFilter() if deep_refiner else FastGuidedFilter()

    def forward(self, src, rec, ratio):
        """src [1,3,H,W] RGB 0..1; rec: four states (None on the first frame)."""
        small = src
        if ratio != 1:
            # Output size floor(H*ratio); the sampling scale is the given ratio, not recomputed.
            small = F.interpolate(src, scale_factor=ratio, mode="bilinear", align_corners=False,
                                  recompute_scale_factor=False)
        f1, f2, f3, f4 = self.backbone(small)
        hid, rec = self.decoder(small, f1, f2, f3, self.aspp(f4), rec)
        y = self.project_mat(hid)  # fgr residual (3) + alpha (1)
        if ratio != 1:
            y = self.refiner(src, small, y, hid)
        fgr_residual, pha = y.split([3, 1], 1)
        return (fgr_residual + src).clamp(0, 1), pha.clamp(0, 1), rec


def load_model(path):
    state = torch.load(path, map_location="cpu")
    model = MattingNetwork(deep_refiner=any(k.startswith("refiner.") for k in state))
    missing, unexpected = model.load_state_dict(state, strict=False)
    # The segmentation head is the only thing the official files have that matting does not use.
    unexpected = [k for k in unexpected if not k.startswith("project_seg.")]
    if missing or unexpected:
        sys.exit(f"{path}: state_dict mismatch: missing {missing}, unexpected {unexpected}")
    return model.eval()


# ---------------------------------------------------------------------------------------------
# Speed.

def synthetic_frame(width, height, index):
    """The C++ bench's frame: a smooth gradient background with a bright disc (uint8 HWC RGB)."""
    y, x = np.mgrid[0:height, 0:width]
    cx, cy, r = width * (0.4 + 0.02 * (index % 10)), height * 0.55, height * 0.3
    inside = (x - cx) ** 2 + (y - cy) ** 2 < r * r
    rgb = np.stack([40 + 120 * x // width, 60 + 100 * y // height, 90 + ((x ^ y) & 31)], -1)
    rgb[inside] = (220, 180, 150)
    return rgb.astype(np.uint8)


def to_tensor(rgb):
    """uint8 HWC -> float NCHW in 0..1 (timed: mattecast's per-frame time includes its input)."""
    return torch.from_numpy(rgb).permute(2, 0, 1).unsqueeze(0).float().div_(255)


def time_size(model, width, height, ratio, frames, warmup):
    # Two alternating frames, as the C++ bench does, so the recurrent state sees motion.
    images = [synthetic_frame(width, height, 0), synthetic_frame(width, height, 5)]
    rec, ms = (None,) * 4, []
    with torch.inference_mode():
        for i in range(warmup + frames):
            start = time.perf_counter()
            _, _, rec = model(to_tensor(images[i % 2]), rec, ratio)
            elapsed = (time.perf_counter() - start) * 1000
            if i >= warmup:
                ms.append(elapsed)
    ms.sort()
    return ms[len(ms) // 2], ms[0]


def cpu_capability():
    """The vector ISA PyTorch's own kernels dispatch to: ATEN_CPU_CAPABILITY where set (it caps
    the dispatch), else what its build info says; oneDNN picks its own."""
    forced = os.environ.get("ATEN_CPU_CAPABILITY")
    m = re.search(r"CPU capability usage: (\S+)", torch.__config__.show())
    built = m[1] if m else "unknown"
    return f"{forced} (forced; built for {built})" if forced else built


def parse_size(text):
    m = re.fullmatch(r"(\d{1,5})x(\d{1,5})", text)
    if not m:
        sys.exit(f"--size '{text}': expected WIDTHxHEIGHT")
    return int(m[1]), int(m[2])


def default_ratio(width, height):
    for name, ratio in DEFAULT_SIZES:
        if name == f"{width}x{height}":
            return ratio
    return min(1.0, 512 / max(width, height))  # mattecast's automatic ratio: longer side 512 px


def run_bench(model, args):
    sizes = args.size or [name for name, _ in DEFAULT_SIZES]
    results = []
    for text in sizes:
        width, height = parse_size(text)
        ratio = args.ratio or default_ratio(width, height)
        median, minimum = time_size(model, width, height, ratio, args.frames, args.warmup)
        results.append({"size": text, "ratio": ratio, "threads": torch.get_num_threads(),
                        "median_ms": median, "min_ms": minimum, "fps": 1000 / median,
                        "torch": torch.__version__, "torch_cpu_capability": cpu_capability()})
    if args.json:
        print(json.dumps({"results": results}, indent=2))
        return
    print(f"{'size':>10} {'ratio':>6} {'threads':>7} {'median_ms':>10} {'min_ms':>8} {'fps':>7}"
          f"   (PyTorch {torch.__version__}, ATen {cpu_capability()})")
    for r in results:
        print(f"{r['size']:>10} {r['ratio']:>6.3f} {r['threads']:>7} {r['median_ms']:>10.2f} "
              f"{r['min_ms']:>8.2f} {r['fps']:>7.1f}")


# ---------------------------------------------------------------------------------------------
# Correctness against the golden outputs of the official model.

def read_png(path):
    """8-bit RGB PNG (no interlace) -> uint8 HWC, with zlib alone (no imaging library here)."""
    data = Path(path).read_bytes()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        sys.exit(f"{path}: not a PNG")
    pos, idat = 8, []
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if depth != 8 or colour != 2 or interlace:
                sys.exit(f"{path}: only 8-bit RGB non-interlaced PNGs are supported")
        elif kind == b"IDAT":
            idat.append(body)
        pos += 12 + length
    raw = np.frombuffer(zlib.decompress(b"".join(idat)), np.uint8).reshape(height, -1)
    return unfilter(raw[:, 0], raw[:, 1:].astype(np.int32), 3).reshape(height, width, 3)


def unfilter(kinds, rows, bpp):
    """Undo PNG's per-row filters (None, Sub, Up, Average, Paeth)."""
    out = np.zeros_like(rows)
    prev = np.zeros(rows.shape[1], np.int32)
    for y, kind in enumerate(kinds):
        row = rows[y]
        if kind == 0:
            cur = row
        elif kind == 2:
            cur = (row + prev) & 255
        elif kind == 1:  # cumulative sum per byte position modulo the pixel size
            cur = (np.cumsum(row.reshape(-1, bpp), 0) & 255).reshape(-1)
        else:  # Average and Paeth depend on the left neighbour: byte by byte
            cur = row.copy()
            for x in range(len(cur)):
                left = cur[x - bpp] if x >= bpp else 0
                up, corner = prev[x], (prev[x - bpp] if x >= bpp else 0)
                if kind == 3:
                    pred = (left + up) // 2
                else:
                    p = left + up - corner
                    pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                    pred = left if pa <= pb and pa <= pc else (up if pb <= pc else corner)
                cur[x] = (cur[x] + pred) & 255
        out[y] = prev = cur
    return out.astype(np.uint8)


def golden_setting(set_dir):
    """The set's manifest entry (ratio, input frames, weights) from ../manifest.json."""
    manifest = json.loads((set_dir.parent / "manifest.json").read_text())
    return manifest["settings"][set_dir.name]


def diff(ours, golden_file):
    """Max and mean abs difference; for float16 files also after rounding ours the same way."""
    ref = np.load(golden_file)
    d = np.abs(ours.astype(np.float32) - ref.astype(np.float32))
    d16 = None
    if ref.dtype == np.float16:
        d16 = float(np.abs(ours.astype(np.float16).astype(np.float32) - ref).max())
    return float(d.max()), float(d.mean()), d16


def check_golden(args):
    set_dir = Path(args.check_golden).resolve()
    setting = golden_setting(set_dir)
    root = set_dir.parent
    weights = Path(args.model) if args.model else root.parent.parent / setting["model"]["weights"]
    model = load_model(weights)
    ratio = args.ratio or setting["downsample_ratio"]
    print(f"{set_dir.name}: weights {weights}, refiner {type(model.refiner).__name__}, "
          f"ratio {ratio}, {torch.get_num_threads()} threads, PyTorch {torch.__version__}")
    worst = {}
    rec = (None,) * 4
    with torch.inference_mode():
        for frame in setting["frames"]:
            fgr, pha, rec = model(to_tensor(read_png(root / frame["input"])), rec, ratio)
            outputs = {"pha": pha[0, 0].numpy(), "fgr": fgr[0].permute(1, 2, 0).numpy()}
            outputs.update({f"r{i + 1}": r.numpy() for i, r in enumerate(rec)})
            line = []
            for name, ours in outputs.items():
                entry = frame.get(name) or frame.get("rec_after_frame", {}).get(name)
                if not entry:
                    continue
                dmax, dmean, d16 = diff(ours, root / entry["file"])
                rounded = "" if d16 is None else f", as float16 max {d16:.2e}"
                line.append(f"{name} max {dmax:.2e} mean {dmean:.2e} ({entry['dtype']}{rounded})")
                worst[name] = max(worst.get(name, 0.0), dmax)
            print(f"  frame {frame['index']}: " + ", ".join(line))
    print("  worst max abs: " + ", ".join(f"{k} {v:.2e}" for k, v in worst.items()))
    return worst


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", help=f"state_dict .pth (default {DEFAULT_MODEL}; for "
                   "--check-golden the weights its manifest names)")
    p.add_argument("--size", action="append", help="WIDTHxHEIGHT (repeatable; default "
                   + ", ".join(f"{s} at {r}" for s, r in DEFAULT_SIZES) + ")")
    p.add_argument("--ratio", type=float, help="downsample ratio in (0, 1]")
    p.add_argument("--threads", type=int, default=2, help="intra-op threads (default 2)")
    p.add_argument("--frames", type=int, default=20, help="timed frames per size")
    p.add_argument("--warmup", type=int, default=3, help="untimed frames first")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--check-golden", metavar="DIR", help="compare with a golden set's outputs")
    args = p.parse_args()
    if args.ratio is not None and not 0 < args.ratio <= 1:
        sys.exit("--ratio must be in (0, 1]")
    # Inter-op parallelism would only add threads beyond the budget being compared.
    torch.set_num_interop_threads(1)
    torch.set_num_threads(args.threads)
    if args.check_golden:
        check_golden(args)
    else:
        run_bench(load_model(args.model or DEFAULT_MODEL), args)


if __name__ == "__main__":
    main()
