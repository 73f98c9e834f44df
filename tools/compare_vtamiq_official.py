"""VTAMIQ equals its authors' network: the same seeded weights and the same patches through both.

The authors' code (github.com/ch-andrei/VTAMIQ, pure PyTorch) has no licence file: it is run from
a local clone, never copied, and neither the package nor its tests import it.  Give this tool the
clone (a working copy or a bare mirror; the commits are read with ``git archive`` into a temporary
folder)::

    OMP_NUM_THREADS=1 python tools/compare_vtamiq_official.py PATH/TO/VTAMIQ

It needs only what the package needs (torch, torchvision, numpy) plus scipy and scikit-image,
which the authors' modules import (their samplers, which are not called, use them).

What is compared, for each configuration:

* ``paper``: the c67f036 network (the paper's configuration) and ours with ``PAPER_CONFIG``
  (``vtamiq.paper``) and ``legacy_pos_index=True`` (c67f036's indexing); ours with the default
  +1 offset is also scored, which measures that documented departure and shows that the
  comparison sees a one-row index change.
* ``released``: the 055a4e3 network (the code of the README that publishes the checkpoint; its
  model files equal dc7411d's) and ours with ``KADIS_CONFIG`` (``vtamiq.kadis``); the b3fd9d2
  network (the May 2022 refactor) is fed the same inputs.

Weights: seeded random values for every tensor of the authors' state dict (a function of the
tensor's name, shape and ``--seed``), loaded strictly into theirs and, through our converter
``vtamiq_2022``, strictly into ours.  Positional, scale and [CLS] tables get values as large as
a patch token, so that a wrong table row changes the output.

Inputs: for each image pair, our sampler draws the corners (``VTAMIQ.sampler``); the authors'
own data pipeline (8-bit PIL images, their ``transform``, their ``get_iqa_patches`` with their
multi-scale average pooling and their position arithmetic) is run with a stand-in sampler that
returns those corners, so both networks see the same patches, and each side computes the
positions and scales its own way.  At 055a4e3 ``get_iqa_patches`` shuffles the patches but
writes positions and scales in drawing order; the tool replays that permutation (NumPy seed) to
give each patch its own position, and reports how many patches the shuffle separates from their
positions (the pipeline as published; see the model card).

Unit level: the positional index (every valid corner of several image sizes, read through the
authors' embedding modules with an identity table), the scale index, one RCAB, one residual
group, the whole DiffNet and the head on seeded random vectors, the [CLS] features.

``--golden`` prints the outputs of the authors' networks in a small configuration on seeded
inputs (``golden_pairs``/``golden_samples``); ``tests/test_vtamiq_reference.py`` holds them.
"""
from __future__ import annotations

import argparse
import contextlib
import copy
import importlib
import inspect
import io
import math
import subprocess
import sys
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from iqametrics.convert import get_converter  # noqa: E402
from iqametrics.convert.vtamiq import ours_to_upstream  # noqa: E402
from iqametrics.models.vtamiq import KADIS_CONFIG, PAPER_CONFIG, VTAMIQ  # noqa: E402
from iqametrics.nn.patch_sampling import (  # noqa: E402
    PATCH_SIZE,
    PatchSample,
    average_pyramid,
    extract_patches,
    patches_per_level,
    pyramid_levels,
)

GOLDEN_SEED = 2021
#: the commits compared (``git log`` of ch-andrei/VTAMIQ)
PAPER_COMMIT = "c67f036"  # 2021-10-08 "Added VTAMIQ code": the paper's configuration
RELEASED_COMMIT = "055a4e3"  # 2022-04-07 "Updated readme": publishes the KADIS-700k checkpoint
REFACTOR_COMMIT = "b3fd9d2"  # 2022-05-19 "Better patch sampling; VTAMIQ refactor"
#: our configurations (the registered ``vtamiq.paper`` and ``vtamiq.kadis`` use these dicts)
CONFIGS = {"paper": {**PAPER_CONFIG, "legacy_pos_index": True}, "released": dict(KADIS_CONFIG)}
#: the small network of the golden values (every kind of block, a fraction of the cost)
SMALL = dict(depth=2, diffnet_groups=2, diffnet_blocks=2)
GOLDEN_SIZE = (80, 96)
GOLDEN_PATCHES = 48
GOLDEN_PAIRS = 3


# ---------------------------------------------------------------------------------------- weights and inputs
def seeded_upstream_state(shapes: Mapping[str, Sequence[int]], seed: int = GOLDEN_SEED) -> Dict[str, torch.Tensor]:
    """Random values for every tensor of the authors' layout, a function of its name, shape and ``seed`` only.

    Uniform draws (``torch.rand`` gives the same numbers on every CPU): weights with std
    1/√fan_in, biases ±0.1, LayerNorm scales 0.5…1.5, PReLU slopes 0.05…0.45, and the
    positional / scale / [CLS] tables with std 1, as large as a patch token.
    """
    state = {}
    for name, shape in shapes.items():
        g = torch.Generator().manual_seed((zlib.crc32(name.encode()) << 8) ^ seed)
        u = torch.rand(tuple(shape), generator=g) * 2 - 1
        if name.endswith(("cls_token", "positional_embeddings", "scale_embeddings")):
            state[name] = u * math.sqrt(3)
        elif name.endswith("bias"):
            state[name] = 0.1 * u
        elif math.prod(shape) == 1:  # PReLU (one shared slope)
            state[name] = 0.25 + 0.2 * u
        elif len(shape) == 1:  # LayerNorm scales
            state[name] = 1 + 0.5 * u
        else:
            state[name] = u * math.sqrt(3 / math.prod(shape[1:]))
    return state


def upstream_shapes(model: VTAMIQ) -> Dict[str, Tuple[int, ...]]:
    """Names and shapes of the authors' state dict for ``model`` (our converter's inverse)."""
    return {k: tuple(v.shape) for k, v in ours_to_upstream(model.state_dict()).items()}


def our_model(config: str, *, small: bool = False, n_patches: int = 1024, seed: int = GOLDEN_SEED) -> VTAMIQ:
    """Ours (``"paper"`` or ``"released"``) with the seeded weights, loaded through the ``vtamiq_2022`` converter."""
    torch.manual_seed(0)
    model = VTAMIQ(**CONFIGS[config], **(SMALL if small else {}), n_patches=n_patches).eval()
    state = seeded_upstream_state(upstream_shapes(model), seed)
    model.load_state_dict(get_converter("vtamiq_2022").convert(state))  # strict
    return model


def golden_pairs() -> Tuple[torch.Tensor, torch.Tensor]:
    """``GOLDEN_PAIRS`` seeded 8-bit pairs [B, 3, 80, 96] (uint8): noise references, distorted by growing noise."""
    g = torch.Generator().manual_seed(GOLDEN_SEED)
    ref = torch.randint(0, 256, (GOLDEN_PAIRS, 3, *GOLDEN_SIZE), generator=g)
    amplitude = torch.arange(1, GOLDEN_PAIRS + 1).view(-1, 1, 1, 1) * 12
    dist = ref + torch.randint(-1, 2, ref.shape, generator=g) * amplitude
    return ref.to(torch.uint8), dist.clamp(0, 255).to(torch.uint8)


def golden_samples(model: VTAMIQ) -> List[PatchSample]:
    """Seeded corners for each golden pair, laid out as the model's sampler lays them (levels, counts)."""
    g = torch.Generator().manual_seed(GOLDEN_SEED + 1)
    h, w = GOLDEN_SIZE
    counts = model.sampler.level_counts(h, w)
    sizes = tuple((h >> k, w >> k) for k in range(len(counts)))
    samples = []
    for _ in range(GOLDEN_PAIRS):
        corners = [
            torch.stack([torch.randint(0, hk - PATCH_SIZE + 1, (n,), generator=g),
                         torch.randint(0, wk - PATCH_SIZE + 1, (n,), generator=g)], 1)
            for n, (hk, wk) in zip(counts, sizes)
        ]
        levels = torch.cat([torch.full((n,), k, dtype=torch.long) for k, n in enumerate(counts)])
        samples.append(PatchSample(torch.cat(corners), levels, sizes))
    return samples


def our_inputs(model: VTAMIQ, ref_u8: torch.Tensor, dist_u8: torch.Tensor, samples: Sequence[PatchSample]):
    """``(ref_patches, dist_patches, position, scale)`` of ours for 8-bit pairs at the given corners
    (what ``VTAMIQ.sample_patches`` returns for the corners its sampler draws)."""
    counts = [int((samples[0].levels == k).sum()) for k in range(len(samples[0].level_sizes))]
    corners = torch.stack([s.corners for s in samples])

    def gather(images):
        return extract_patches(average_pyramid(model._normalise(images.float() / 255.0), len(counts)), corners, counts)

    position = torch.stack([model.position_index(s) for s in samples])
    scale = torch.stack([s.levels for s in samples])
    return gather(ref_u8), gather(dist_u8), position, scale


# ---------------------------------------------------------------------------------------- the authors' code
@dataclass
class AuthorsCode:
    """The classes and functions of one commit of ch-andrei/VTAMIQ, imported from a temporary folder."""

    commit: str
    vtamiq: object  # modules.vtamiq.vtamiq
    transformer: object  # modules.Attention.ViT.transformer
    get_iqa_patches: Optional[object] = None  # their data pipeline (not loaded for b3fd9d2)
    transform: Optional[object] = None

    @property
    def multiscale(self) -> bool:
        return "patch_num_scales" in inspect.signature(self.get_iqa_patches).parameters

    def network(self, *, depth=6, groups=4, rcabs=4, scales=False) -> torch.nn.Module:
        """The authors' VTAMIQ (full reference, no difference embedding, dropout 0.2), untrained, in eval mode."""
        cls = self.vtamiq.VTAMIQ
        params = inspect.signature(cls).parameters
        kwargs = dict(vit_load_pretrained=False, vit_num_keep_layers=depth, num_residual_groups=groups,
                      num_rcabs_per_group=rcabs, dropout=0.2, is_full_reference=True, use_diff_embedding=False)
        if "vit_use_scale_embedding" in params:
            kwargs["vit_use_scale_embedding"] = scales
        elif scales:
            raise ValueError(f"{self.commit} has no scale embeddings")
        if "use_fourier_embeddings" in params:
            kwargs["use_fourier_embeddings"] = False
        with contextlib.redirect_stdout(io.StringIO()):  # their constructors print their configuration
            if "vit_config" in params:  # c67f036 … 055a4e3
                return cls(self.transformer.get_b16_config(), vit_variant="B16", **kwargs).eval()
            return cls(vit_variant=self.transformer.VIT_VARIANT_B16, **kwargs).eval()  # b3fd9d2


def _purge(prefixes=("modules", "data")) -> None:
    for name in list(sys.modules):
        if name.split(".")[0] in prefixes:
            del sys.modules[name]


def load_authors_code(repo: Path, commit: str, workdir: Path, pipeline: bool = True) -> AuthorsCode:
    """Extract ``commit``'s model (and, with ``pipeline``, data) code with ``git archive`` and import it
    (isolated: the top-level ``modules``/``data`` packages are dropped from ``sys.modules`` afterwards)."""
    folder = workdir / commit
    folder.mkdir()
    paths = ["modules/vtamiq", "modules/RCAN", "modules/Attention/ViT"] + (["data"] if pipeline else [])
    archive = subprocess.run(["git", "-C", str(repo), "archive", "--format=tar", commit, *paths],
                             check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    _purge()
    sys.path.insert(0, str(folder))
    try:
        vtamiq = importlib.import_module("modules.vtamiq.vtamiq")
        transformer = importlib.import_module("modules.Attention.ViT.transformer")
        get = transform = None
        if pipeline:  # c67f036: data/utils.py; 055a4e3: data/patch_sampling.py
            utils = importlib.import_module("data.utils")
            transform = utils.transform
            get = getattr(utils, "get_iqa_patches", None) or importlib.import_module("data.patch_sampling").get_iqa_patches
        return AuthorsCode(commit, vtamiq, transformer, get, transform)
    finally:
        sys.path.remove(str(folder))
        _purge()


class GivenCorners:
    """Stands in for the authors' ``PatchSampler``: returns the corners our sampler drew for the level asked."""

    def __init__(self, sample: PatchSample):
        self.corners = {size: sample.corners[sample.levels == k].tolist() for k, size in enumerate(sample.level_sizes)}
        self.calls = []

    def get_sample_params(self, h, w, ho, wo, imgs=None, diff=None, num_samples=1):
        corners = self.corners.get((h, w))
        if corners is None or len(corners) != num_samples:
            raise RuntimeError(f"the authors' pipeline asks for {num_samples} corners of a {h}×{w} level; ours drew "
                               f"{ {k: len(v) for k, v in self.corners.items()} }")
        self.calls.append((h, w))
        return [(i, j, ho, wo) for i, j in corners] if diff is None else [(i, j) for i, j in corners]


def their_inputs(code: AuthorsCode, ref_u8: torch.Tensor, dist_u8: torch.Tensor, sample: PatchSample,
                 num_scales: int = 1, numpy_seed: int = 0):
    """The authors' pipeline on one 8-bit pair [3, H, W] at our corners.

    Returns ``(ref_patches, dist_patches, pos, scales, separated)``, [1, N, ...] each, in our
    patch order; ``pos`` are the authors' normalised coordinates, ``scales`` their [N, 2] levels
    (None at c67f036); ``separated`` counts the patches that the published pipeline hands
    somebody else's position (055a4e3's shuffle), undone here.
    """
    import numpy as np
    from PIL import Image

    imgs = tuple(Image.fromarray(x.permute(1, 2, 0).numpy()) for x in (ref_u8, dist_u8))
    norm = ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])  # their PatchDataset: ImageNet statistics
    tensors = tuple(code.transform(img, None, False, norm) for img in imgs)
    n = sample.corners.shape[0]
    stub = GivenCorners(sample)
    if not code.multiscale:  # c67f036
        ref_p, dist_p, pos = code.get_iqa_patches(imgs, tensors, n, (PATCH_SIZE, PATCH_SIZE), stub)
        return ref_p[None], dist_p[None], pos[None], None, 0
    np.random.seed(numpy_seed)
    ref_p, dist_p, pos, scales = code.get_iqa_patches(imgs, tensors, n, (PATCH_SIZE, PATCH_SIZE), stub, num_scales)
    if stub.calls != [size for k, size in enumerate(sample.level_sizes) if (sample.levels == k).any()]:
        raise RuntimeError(f"the authors' pipeline sampled levels {stub.calls}, ours {sample.level_sizes}")
    np.random.seed(numpy_seed)  # replay their shuffle: patch t went to slot order[t], its position stayed at t
    order = np.arange(n)
    np.random.shuffle(order)
    order = torch.as_tensor(order)
    separated = int((order != torch.arange(n)).sum())
    return ref_p[order][None], dist_p[order][None], pos[None], scales[None], separated


def their_rows(embedding: torch.nn.Module, attr: str, values: torch.Tensor) -> torch.Tensor:
    """The table rows the authors' embedding module reads for ``values`` (a copy with an identity table)."""
    probe = copy.deepcopy(embedding)
    table = getattr(probe, attr)
    with torch.no_grad():
        setattr(probe, attr, torch.nn.Parameter(torch.arange(table.shape[1], dtype=torch.float32).view(1, -1, 1)))
        rows = probe(values.reshape(-1, 2))
    return rows.reshape(-1).round().long()


def their_forward(net: torch.nn.Module, ref_p, dist_p, pos, scales) -> torch.Tensor:
    args = ((ref_p, dist_p), pos) if scales is None else ((ref_p, dist_p), pos, scales)
    return net(*args).reshape(-1)


def their_features(net: torch.nn.Module, patches, pos, scales) -> torch.Tensor:
    return net.transformer(patches, pos) if scales is None else net.transformer(patches, pos, scales)


# ---------------------------------------------------------------------------------------- image pairs
def _u8(x: torch.Tensor) -> torch.Tensor:
    return (x.clamp(0, 1) * 255).round().to(torch.uint8)


def _blur(x: torch.Tensor, sigma: float = 1.5) -> torch.Tensor:
    k = torch.exp(-((torch.arange(9.0) - 4) ** 2) / (2 * sigma**2))
    k = (k / k.sum()).view(1, 1, 1, 9).expand(3, 1, 1, 9)
    return F.conv2d(F.conv2d(F.pad(x, (4, 4, 4, 4), mode="reflect"), k, groups=3), k.transpose(2, 3), groups=3)


def image_pairs(data: Path, n_pristine: int, n_clive: int) -> List[Tuple[str, torch.Tensor, torch.Tensor]]:
    """8-bit pairs [3, H, W]: pristine photos at 512×384 and LIVE Challenge photos (native 500×500) with a
    Gaussian-blurred copy (σ = 1.5 px), then seeded noise images of odd sizes with a noisy copy."""
    from iqametrics.io import load_image

    pairs = []
    exts = (".jpg", ".jpeg", ".png", ".bmp")
    pristine = sorted(p for p in (data / "pristine").glob("*") if p.suffix.lower() in exts)[:n_pristine]
    clive = sorted(p for p in (data / "clive" / "images").glob("*") if p.suffix.lower() in exts)[:n_clive]
    for path in pristine + clive:
        x = load_image(path)[None]
        if path in pristine:
            x = F.interpolate(x, size=(384, 512), mode="bilinear", antialias=True, align_corners=False)
        x = _u8(x).float() / 255
        pairs.append((f"{path.parent.name}/{path.name} {x.shape[-1]}×{x.shape[-2]}, blur σ=1.5", _u8(x)[0], _u8(_blur(x))[0]))
    g = torch.Generator().manual_seed(GOLDEN_SEED)
    for h, w in ((97, 131), (200, 64), (33, 250)):
        x = torch.rand(1, 3, h, w, generator=g)
        noisy = x + 0.1 * (torch.rand(x.shape, generator=g) * 2 - 1)
        pairs.append((f"random {w}×{h}, uniform noise ±0.1", _u8(x)[0], _u8(noisy)[0]))
    return pairs


# ---------------------------------------------------------------------------------------- comparisons
def _max_abs(a: torch.Tensor, b: torch.Tensor) -> float:
    return (a.double() - b.double()).abs().max().item()


def compare_positions(code: AuthorsCode, net: torch.nn.Module, ours: VTAMIQ, sizes) -> List[Tuple[str, int, int]]:
    """Every valid corner of each image size: the authors' table row (their pipeline + their embedding
    module) against ours.  Returns ``(size, corners, mismatches)`` rows."""
    rows = []
    embedding = net.transformer.embeddings.positional_embeddings
    for h, w in sizes:
        i, j = torch.meshgrid(torch.arange(h - PATCH_SIZE + 1), torch.arange(w - PATCH_SIZE + 1), indexing="ij")
        corners = torch.stack([i.flatten(), j.flatten()], 1)
        sample = PatchSample(corners, torch.zeros(len(corners), dtype=torch.long), ((h, w),))
        image = torch.randint(0, 256, (3, h, w), generator=torch.Generator().manual_seed(h * w), dtype=torch.uint8)
        _, _, pos, _, _ = their_inputs(code, image, image, sample)
        theirs = their_rows(embedding, "positional_embeddings", pos)
        mine = ours.position_index(sample)
        rows.append((f"{w}×{h}", len(corners), int((theirs != mine).sum())))
    return rows


def compare_diffnet(models: Dict[torch.dtype, Tuple[torch.nn.Module, VTAMIQ]], seed: int) -> List[Tuple[str, float, float, float]]:
    """One RCAB, one residual group, the DiffNet and the head on seeded random vectors, in fp32 and fp64:
    ``(block, max|theirs|, max|Δ| fp32, max|Δ| fp64)``; ``models[dtype] = (theirs, ours)``."""
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand(16, 768, generator=g, dtype=torch.float64) * 2 - 1) * math.sqrt(3)
    blocks = [
        ("one RCAB (`diff_net.0.body.0` / `diffnet.0.blocks.0`)", lambda n: n.diff_net[0].body[0], lambda m: m.diffnet[0].blocks[0]),
        ("one residual group (`diff_net.0` / `diffnet.0`)", lambda n: n.diff_net[0], lambda m: m.diffnet[0]),
        ("DiffNet (4 groups + 1×1 conv / linear)", lambda n: n.diff_net, lambda m: m.diffnet),
        ("head (`q_predictor` / `head`)", lambda n: n.q_predictor, lambda m: m.head),
    ]
    rows = []
    with torch.inference_mode():
        for name, theirs_of, ours_of in blocks:
            row = [name]
            for dtype, (net, ours) in models.items():
                v = x.to(dtype)
                a = theirs_of(net)(v if "head" in name else v[:, :, None, None]).flatten(1)
                if dtype == torch.float32:
                    row.append(a.abs().max().item())
                row.append(_max_abs(a, ours_of(ours)(v).flatten(1)))
            rows.append(tuple(row))
    return rows


@dataclass
class PairResult:
    name: str
    patches: float  # max |their patch − ours|
    rows: int  # positional rows that differ
    scale_rows: int  # scale rows that differ (-1: no scale embedding)
    separated: int  # patches the published 055a4e3 pipeline separates from their positions
    features: Dict[str, float]  # max|f| of their [CLS] (reference), max|f_ref − f_dist|, max|Δf| in fp32 / fp64
    q: Dict[str, float]  # float32 outputs
    q64: Dict[str, float]  # float64 outputs (both networks converted)


def _outputs(ours: VTAMIQ, theirs: Dict[str, torch.nn.Module], ins, variants=None, published=None):
    """Outputs of every network on the same inputs, and the [CLS] features of the reference patches."""
    ref_p, dist_p, position, scale, t_ref, t_dist, pos, scales = ins
    main = next(iter(theirs.values()))
    with torch.inference_mode():
        f_theirs = their_features(main, t_ref, pos, scales)
        f_dist = their_features(main, t_dist, pos, scales)
        f_ours = ours.encode(ref_p, position, scale if ours.scale_embed is not None else None)
        q = {label: their_forward(m, t_ref, t_dist, pos, scales).item() for label, m in theirs.items()}
        q["ours"] = ours.forward_patches(ref_p, dist_p, position, scale).item()
        for label, (m, rows) in (variants or {}).items():
            q[label] = m.forward_patches(ref_p, dist_p, rows, scale).item()
        if published is not None:  # the 055a4e3 pipeline as published: positions and scales not those of the patch
            q["published pipeline"] = their_forward(main, t_ref[:, published], t_dist[:, published], pos, scales).item()
    return q, f_theirs, f_dist, f_ours


def compare_pair(name, ref_u8, dist_u8, models: Dict[torch.dtype, tuple], code: AuthorsCode) -> PairResult:
    """``models[dtype] = (ours, {commit: theirs}, {label: our variant})`` for float32 and float64."""
    ours = models[torch.float32][0]
    ref, dist = ref_u8[None].float() / 255, dist_u8[None].float() / 255
    sample = ours.sampler.sample(ref, dist)[0]
    ref_p, dist_p, position, scale = our_inputs(ours, ref_u8[None], dist_u8[None], [sample])
    public = ours.sample_patches(ref, dist)
    if not (torch.equal(public[0], ref_p) and torch.equal(public[1][0], dist_p) and torch.equal(public[2], position)):
        raise RuntimeError("our_inputs differs from VTAMIQ.sample_patches")
    t_ref, t_dist, pos, scales, separated = their_inputs(code, ref_u8, dist_u8, sample, ours.sampler.num_scales)
    emb = models[torch.float32][1][code.commit].transformer.embeddings
    rows = int((their_rows(emb.positional_embeddings, "positional_embeddings", pos) != position.flatten()).sum())
    scale_rows = -1
    if scales is not None:
        their_scale = their_rows(emb.scale_embeddings, "scale_embeddings", scales)
        scale_rows = int((their_scale != scale.flatten() + 1).sum())
    published = None
    if separated:
        order = torch.as_tensor(_replayed_order(t_ref.shape[1]))
        published = torch.empty_like(order)
        published[order] = torch.arange(len(order))
    results = {}
    for dtype, (m, theirs, variants) in models.items():
        ins = tuple(t.to(dtype) for t in (ref_p, dist_p)) + (position, scale) + tuple(t.to(dtype) for t in (t_ref, t_dist)) + (pos, scales)
        rows_of = {label: (v, v.position_index(sample)[None]) for label, v in variants.items()}
        results[dtype] = _outputs(m, theirs, ins, rows_of, published if dtype == torch.float32 else None)
    q, f_theirs, f_dist, f_ours = results[torch.float32]
    q64, f64, _, f_ours64 = results[torch.float64]
    features = {"max": f_theirs.abs().max().item(), "diff": (f_theirs - f_dist).abs().max().item(),
                "d32": _max_abs(f_theirs, f_ours), "d64": _max_abs(f64, f_ours64)}
    return PairResult(name, max(_max_abs(t_ref, ref_p), _max_abs(t_dist, dist_p)), rows, scale_rows, separated,
                      features, q, q64)


def _replayed_order(n: int, numpy_seed: int = 0):
    import numpy as np

    np.random.seed(numpy_seed)
    order = np.arange(n)
    np.random.shuffle(order)
    return order


# ---------------------------------------------------------------------------------------- reports
def _fmt(v: float) -> str:
    return "0" if v == 0 else f"{v:.3g}"


def _report_config(label: str, commits: Sequence[str], results: List[PairResult], units, positions) -> str:
    main = commits[0]
    print(f"\n### {label}: {', '.join(commits)} against ours\n")
    print("| pair | max \\|Δ patch\\| | position / scale rows differing | max \\|f\\| | max \\|f_ref − f_dist\\| | "
          "max \\|Δf\\| fp32 / fp64 | " + " | ".join(f"q {c}" for c in commits) + " | q ours | max \\|Δq\\| fp32 | max \\|Δq\\| fp64 |")
    print("|---" * (8 + len(commits)) + "|")
    for r in results:
        dq = max(abs(r.q["ours"] - r.q[c]) for c in commits)
        dq64 = max(abs(r.q64["ours"] - r.q64[c]) for c in commits)
        f = r.features
        print(f"| {r.name} | {_fmt(r.patches)} | {r.rows} / {'–' if r.scale_rows < 0 else r.scale_rows} | {f['max']:.3g} | "
              f"{f['diff']:.3g} | {_fmt(f['d32'])} / {_fmt(f['d64'])} | " + " | ".join(f"{r.q[c]:.7g}" for c in commits)
              + f" | {r.q['ours']:.7g} | {_fmt(dq)} | {_fmt(dq64)} |")
    qs = [r.q64[main] for r in results]
    spread = max(qs) - min(qs)
    dq = max(abs(r.q["ours"] - r.q[c]) for r in results for c in commits)
    dq64 = max(abs(r.q64["ours"] - r.q64[c]) for r in results for c in commits)
    df64 = max(r.features["d64"] / r.features["max"] for r in results)
    rounding = {k: max(abs(r.q[k] - r.q64[k]) for r in results) for k in (*commits, "ours")}
    print(f"\nOutputs of {main} (fp64) range over {min(qs):.5g} … {max(qs):.5g} (spread {spread:.3g}).")
    print(f"* float64 (both networks converted): max |Δq| = {_fmt(dq64)} ({dq64 / spread:.2g} of the spread), "
          f"[CLS] max |Δf| / max |f| = {df64:.2g}.")
    print(f"* float32: max |Δq| = {_fmt(dq)} ({dq / spread:.2g} of the spread). Float32 rounding of each network "
          "(max |q fp32 − q fp64| of the same network): " + ", ".join(f"{k} {v:.2g}" for k, v in rounding.items()) + ".")
    # equal as functions (fp64), and in fp32 no further apart than the two networks' own rounding errors
    verdict = "PASS" if dq64 <= 1e-9 * spread and dq <= rounding[main] + rounding["ours"] + 1e-6 * spread else "FAIL"
    print(f"* criterion: fp64 |Δq| ≤ 1e-9 × spread and fp32 |Δq| ≤ the sum of the two networks' fp32 rounding "
          f"errors (+ 1e-6 × spread): **{verdict}**.")
    extra = sorted({k for r in results for k in r.q} - {"ours", *commits})
    for k in extra:
        d = [abs(r.q[k] - r.q[main]) for r in results if k in r.q]
        print(f"* {k}: max |q − q {main}| = {max(d):.3g} ({max(d) / spread:.2g} of the spread)")
    separated = [r.separated for r in results if r.separated]
    if separated:
        print(f"* the published {main} pipeline gives {min(separated)}–{max(separated)} patches per pair another "
              "patch's position and scale (its shuffle; undone above)")
    print("\n| block (seeded random vectors, 16 × 768) | max \\|theirs\\| | max \\|Δ\\| fp32 | max \\|Δ\\| fp64 |\n|---|---|---|---|")
    for name, scale, d32, d64 in units:
        print(f"| {name} | {scale:.4g} | {_fmt(d32)} | {_fmt(d64)} |")
    print("\n| image size (every valid corner) | corners | table rows differing |\n|---|---|---|")
    for size, n, bad in positions:
        print(f"| {size} | {n} | {bad} |")
    return verdict


def golden(repo: Path, workdir: Path, seed: int) -> None:
    """Print the authors' outputs (float64 and float32) for the small configuration on the golden inputs,
    and ours for comparison; ``tests/test_vtamiq_reference.py`` holds them."""
    ref_u8, dist_u8 = golden_pairs()
    for config, commit, scales in (("paper", PAPER_COMMIT, False), ("released", RELEASED_COMMIT, True)):
        code = load_authors_code(repo, commit, workdir)
        net = code.network(depth=SMALL["depth"], groups=SMALL["diffnet_groups"], rcabs=SMALL["diffnet_blocks"],
                           scales=scales)
        net.load_state_dict(seeded_upstream_state({k: tuple(v.shape) for k, v in net.state_dict().items()}, seed))
        ours = our_model(config, small=True, n_patches=GOLDEN_PATCHES, seed=seed)
        samples = golden_samples(ours)
        ins = [their_inputs(code, r, d, s, ours.sampler.num_scales) for r, d, s in zip(ref_u8, dist_u8, samples)]
        cat = lambda k: None if ins[0][k] is None else torch.cat([t[k] for t in ins])  # noqa: E731
        mine = our_inputs(ours, ref_u8, dist_u8, samples)
        for dtype in (torch.float64, torch.float32):
            n, m = copy.deepcopy(net).to(dtype), copy.deepcopy(ours).to(dtype)
            with torch.inference_mode():
                q = their_forward(n, cat(0).to(dtype), cat(1).to(dtype), cat(2), cat(3))
                q_ours = m.forward_patches(mine[0].to(dtype), mine[1].to(dtype), *mine[2:])
            digits = 17 if dtype == torch.float64 else 8
            print(f"{config} ({commit}) {dtype}: {[float(f'{v:.{digits}g}') for v in q.tolist()]}\n"
                  f"    ours: {[float(f'{v:.{digits}g}') for v in q_ours.tolist()]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("repo", type=Path, help="a clone of github.com/ch-andrei/VTAMIQ (working copy or bare)")
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--pristine", type=int, default=3, help="pristine photos (at 512×384)")
    parser.add_argument("--clive", type=int, default=2, help="LIVE Challenge photos (native size)")
    parser.add_argument("--n-patches", type=int, default=1024)
    parser.add_argument("--seed", type=int, default=GOLDEN_SEED)
    parser.add_argument("--golden", action="store_true", help="only print the golden values for the tests")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        if args.golden:
            golden(args.repo, workdir, args.seed)
            return
        pairs = image_pairs(args.data, args.pristine, args.clive)
        # 400 = 16 + 384 and 136 = 16 + 120: many corners on cell boundaries; c67f036 divides by H − 16 (no 16-px side)
        sizes = {"paper": [(400, 40), (136, 64), (123, 457)], "released": [(400, 40), (16, 300), (136, 64), (123, 457)]}
        print(f"Command: `{' '.join(['python', *sys.argv])}`; torch {torch.__version__}, "
              f"{torch.get_num_threads()} threads; weights: seeded random (seed {args.seed}); "
              f"{args.n_patches} patches per image.")
        verdicts = []
        for config, commits, scales in (("paper", [PAPER_COMMIT], False),
                                        ("released", [RELEASED_COMMIT, REFACTOR_COMMIT], True)):
            codes = {c: load_authors_code(args.repo, c, workdir, pipeline=c == commits[0]) for c in commits}
            theirs = {c: codes[c].network(scales=scales) for c in commits}
            ours = our_model(config, n_patches=args.n_patches, seed=args.seed)
            expected = upstream_shapes(ours)
            for c, net in theirs.items():
                layout = {k: tuple(v.shape) for k, v in net.state_dict().items()}
                if layout != expected:
                    raise RuntimeError(f"{c}: the authors' layout differs from our converter's inverse: "
                                       f"{sorted(set(layout) ^ set(expected))[:6]}")
                net.load_state_dict(seeded_upstream_state(layout, args.seed))
                print(f"{c}: {len(layout)} tensors, names and shapes identical to our converter's inverse "
                      f"(ours_to_upstream of {config}); loaded strictly on both sides.")
            variants = {}
            if config == "paper":  # the default +1 offset of vtamiq.paper: a documented departure
                variants["ours, +1 offset (default)"] = VTAMIQ(**PAPER_CONFIG, n_patches=args.n_patches).eval()
                variants["ours, +1 offset (default)"].load_state_dict(ours.state_dict())
            models = {torch.float32: (ours, theirs, variants),
                      torch.float64: (copy.deepcopy(ours).double(), {c: copy.deepcopy(m).double() for c, m in theirs.items()}, {})}
            code = codes[commits[0]]
            results = []
            for name, r, d in pairs:
                results.append(compare_pair(name, r, d, models, code))
                print(f"  {config}: {name} done", file=sys.stderr, flush=True)
            units = compare_diffnet({dt: (m[1][commits[0]], m[0]) for dt, m in models.items()}, args.seed)
            del models
            positions = compare_positions(code, theirs[commits[0]], ours, sizes[config])
            label = "vtamiq.paper (PAPER_CONFIG, legacy_pos_index=True)" if config == "paper" else "vtamiq.kadis (KADIS_CONFIG)"
            verdicts.append(_report_config(label, commits, results, units, positions))
        print(f"\nOverall: {', '.join(verdicts)}")


if __name__ == "__main__":
    main()
