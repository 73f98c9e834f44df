"""Check MUSIQ's preprocessing against TensorFlow, op for op.

The official MUSIQ preprocessing (google-research/musiq/model/preprocessing.py) is TensorFlow:
``tf.image.resize(method=GAUSSIAN)`` for the 224/384 copies, ``tf.round`` for their sizes,
``tf.image.extract_patches(padding="SAME")`` for the 32×32 patches and a TF1 nearest-neighbour
resize of ``range(10)`` for the hashed positions.  This script runs those same TF ops on real
photos and compares every token (pixels, spatial id, scale id) with ``MUSIQNet.tokenize``.

Two steps, because TensorFlow and PyTorch live in different virtual environments here:

    # 1. with a Python that has tensorflow (CPU is enough) and pillow:
    python tools/compare_musiq_tf.py emit --out /tmp/musiq_tf.npz IMAGE...
    # 2. with iqametrics' environment:
    python tools/compare_musiq_tf.py check /tmp/musiq_tf.npz

Images are decoded with Pillow in both steps so that only the preprocessing is compared
(the official code decodes with ``tf.image.decode_jpeg``, see the model card).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

PATCH, GRID, LENGTHS = 32, 10, (224, 384)


def _decode(path: str) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as img:
        return np.asarray(img.convert("RGB"))


def emit(paths, out: str, extra_sizes) -> None:
    import tensorflow as tf

    def hashed(count_h, count_w):
        grid = tf.reshape(tf.range(GRID, dtype=tf.int32), [GRID, 1, 1])
        hw = tf.compat.v1.image.resize(grid, [count_w, 1], method=tf.image.ResizeMethod.NEAREST_NEIGHBOR)[:, 0, 0]
        hh = tf.compat.v1.image.resize(grid, [count_h, 1], method=tf.image.ResizeMethod.NEAREST_NEIGHBOR)[:, 0, 0]
        return tf.reshape(hh[:, None] * GRID + hw[None, :], [-1])

    def tokens(image, scale_id):
        h, w = image.shape[0], image.shape[1]
        p = tf.image.extract_patches(image[None], [1, PATCH, PATCH, 1], [1, PATCH, PATCH, 1], [1, 1, 1, 1], padding="SAME")
        p = tf.reshape(p, [-1, PATCH * PATCH * 3])
        ids = hashed(int(np.ceil(h / PATCH)), int(np.ceil(w / PATCH)))
        return np.concatenate(
            [p.numpy(), ids.numpy()[:, None].astype(np.float32), np.full((p.shape[0], 1), scale_id, np.float32)], axis=1
        )

    arrays = {}
    images = [(p, _decode(p)) for p in paths]
    # synthetic images of awkward sizes (odd sizes, extreme aspect ratios, exact 224/384 sides)
    rng = np.random.default_rng(0)
    for h, w in extra_sizes:
        images.append((f"random_{h}x{w}", rng.integers(0, 256, (h, w, 3), dtype=np.uint8)))
    for k, (name, pixels) in enumerate(images):
        x = tf.cast(tf.constant(pixels), tf.float32) / 255.0 * 2.0 - 1.0  # normalize_value_range
        h, w = pixels.shape[:2]
        seqs = []
        for scale_id, L in enumerate(LENGTHS):
            ratio = tf.cast(L, tf.float32) / tf.cast(max(h, w), tf.float32)
            rh = int(tf.cast(tf.round(tf.cast(h, tf.float32) * ratio), tf.int32))
            rw = int(tf.cast(tf.round(tf.cast(w, tf.float32) * ratio), tf.int32))
            resized = tf.image.resize(x, (rh, rw), method=tf.image.ResizeMethod.GAUSSIAN)
            seqs.append(tokens(resized, scale_id))
        seqs.append(tokens(x, len(LENGTHS)))
        arrays[f"pixels_{k}"] = pixels
        arrays[f"tokens_{k}"] = np.concatenate(seqs)
        arrays[f"name_{k}"] = np.array(str(name))
        print(f"{name}: {h}×{w}, {arrays[f'tokens_{k}'].shape[0]} tokens", file=sys.stderr)
    # the hashed index along one axis for every patch count up to 400 (float32 rounding hazards)
    arrays["hash_axis"] = np.concatenate([hashed(1, n).numpy() for n in range(1, 401)])
    np.savez_compressed(out, **arrays)


def check(path: str) -> int:
    import torch

    from iqametrics.models.musiq import MUSIQNet

    net = MUSIQNet(resize="gaussian")
    data = np.load(path)
    worst = 0.0
    k = 0
    while f"tokens_{k}" in data.files:
        ref = data[f"tokens_{k}"]
        pixels = torch.from_numpy(data[f"pixels_{k}"]).permute(2, 0, 1).float() / 255.0
        tok = net.tokenize([pixels])
        ours = tok.patches.permute(0, 2, 3, 1).reshape(tok.patches.shape[0], -1).numpy()
        ok_shape = ours.shape[0] == ref.shape[0]
        if not ok_shape:
            print(f"{data[f'name_{k}']}: {ours.shape[0]} tokens, TF {ref.shape[0]}")
            return 1
        err = float(np.abs(ours - ref[:, :-2]).max())
        same_ids = bool((tok.spatial.numpy() == ref[:, -2]).all() and (tok.scale.numpy() == ref[:, -1]).all())
        worst = max(worst, err)
        print(f"{str(data[f'name_{k}']):>40}: {ours.shape[0]:5d} tokens, max |pixel diff| {err:.3g}, ids equal: {same_ids}")
        if not same_ids:
            return 1
        k += 1
    print(f"worst pixel difference over {k} images: {worst:.3g}")
    if "hash_axis" in data.files:
        from iqametrics.nn.musiq_tokens import hashed_positions

        ours = torch.cat([hashed_positions(1, n, GRID) for n in range(1, 401)]).numpy()
        equal = bool((ours == data["hash_axis"]).all())
        print(f"hashed positions for 1..400 patches per axis equal TF's: {equal}")
        if not equal:
            return 1
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("emit")
    e.add_argument("images", nargs="*")
    e.add_argument("--out", required=True)
    e.add_argument("--extra", default="1x1,7x500,500x7,31x33,224x100,384x384,385x200,1000x750,333x500",
                   help="synthetic H×W sizes to add, comma-separated")
    c = sub.add_parser("check")
    c.add_argument("npz")
    args = parser.parse_args()
    if args.cmd == "emit":
        sizes = [tuple(int(v) for v in s.split("x")) for s in args.extra.split(",") if s]
        emit(args.images, args.out, sizes)
        return 0
    return check(args.npz)


if __name__ == "__main__":
    sys.exit(main())
