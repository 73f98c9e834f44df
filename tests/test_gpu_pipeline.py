"""The GPU input pipeline, checked on the CPU: 8-bit transfers, JPEG decoding batch by batch (the
code that runs nvJPEG on a GPU runs torchvision's CPU decoder here), EXIF orientation, and the
fallback of ``decode="gpu"`` on a machine without CUDA."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

import iqametrics
from iqametrics import cli
from iqametrics.batching import Batch, Failure, iter_image_batches, iter_pair_batches
from iqametrics.io import ImageTooLargeError, discover_images, load_image, pil_to_tensor
from iqametrics.jpeg import EncodedJpeg, apply_orientation, decode_batch, read_encoded
from iqametrics.scoring import resolve_decode, run_metrics, score_files


def _array(h=37, w=53, seed=0):
    return (np.random.default_rng(seed).random((h, w, 3)) * 255).astype(np.uint8)


@pytest.mark.parametrize("mode", ["RGB", "L", "RGBA", "P", "I;16", "CMYK"])
def test_uint8_decoding_is_the_float_decoding_times_255(mode, tmp_path):
    img = Image.fromarray(_array())
    if mode == "I;16":
        img = Image.fromarray((_array()[..., 0].astype(np.uint16) * 257 + 3).astype(np.uint16))
    elif mode != "RGB":
        img = img.convert(mode)
    levels, floats = pil_to_tensor(img, dtype=torch.uint8), pil_to_tensor(img)
    assert levels.dtype == torch.uint8 and levels.shape == floats.shape == (3, 37, 53)
    # what a metric does with a uint8 tensor (on its device): exactly the float decoding
    assert torch.equal(levels.float() / 255.0, floats)
    with pytest.raises(TypeError, match="dtype"):
        pil_to_tensor(img, dtype=torch.float16)


def test_jpeg_headers_choose_what_goes_to_the_gpu(tmp_path):
    img = Image.fromarray(_array())
    img.save(tmp_path / "rgb.jpg")
    img.convert("L").save(tmp_path / "grey.jpg")
    img.convert("CMYK").save(tmp_path / "cmyk.jpg")
    img.save(tmp_path / "rgb.png")
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 cut short")
    enc = read_encoded(tmp_path / "rgb.jpg")
    assert isinstance(enc, EncodedJpeg) and enc.shape == (3, 37, 53) and enc.orientation == 1
    assert enc.data.dtype == torch.uint8 and enc.data.numel() == (tmp_path / "rgb.jpg").stat().st_size
    assert read_encoded(tmp_path / "grey.jpg").shape == (3, 37, 53)
    for other in ("cmyk.jpg", "rgb.png", "broken.jpg", "missing.jpg"):  # decoded (or reported) on the CPU
        assert read_encoded(tmp_path / other) is None
    for name in ("rgb.jpg", "rgb.png"):  # the limit is the CPU decoder's, whichever decodes it
        with pytest.raises(ImageTooLargeError, match="limit"):
            read_encoded(tmp_path / name, max_pixels=100)


def test_our_pixel_limit_replaces_pillows_for_gpu_jpegs(tmp_path, monkeypatch):
    Image.fromarray(_array()).save(tmp_path / "rgb.jpg")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # 37×53 is then past Pillow's bomb error (2×)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        enc = read_encoded(tmp_path / "rgb.jpg")
    assert enc is not None and enc.shape == (3, 37, 53)
    assert Image.MAX_IMAGE_PIXELS == 100


@pytest.mark.parametrize("orientation", range(1, 9))
def test_orientation_is_applied_as_pillow_does(orientation, tmp_path):
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / "turned.jpg"
    Image.fromarray(_array()).save(path, exif=exif, quality=90)
    enc = read_encoded(path)
    expected = load_image(path, dtype=torch.uint8)  # Pillow's exif_transpose
    assert enc.shape == tuple(expected.shape)
    ((image, reason),) = decode_batch([enc], "cpu")  # torchvision's CPU decoder: libjpeg-turbo, as Pillow
    assert reason is None and torch.equal(image, expected)
    assert torch.equal(apply_orientation(expected, 1), expected)


def test_the_cpu_fallback_keeps_the_pixel_limit_the_file_was_admitted_under(tmp_path, monkeypatch):
    """A file admitted under a raised limit must not be refused by the default one when nvJPEG fails
    and the CPU decoder takes over."""
    import iqametrics.jpeg as jpeg

    path = tmp_path / "big.jpg"
    Image.fromarray(_array()).save(path, quality=90)
    enc = read_encoded(path, max_pixels=10**9)
    monkeypatch.setenv("IQAMETRICS_MAX_IMAGE_PIXELS", "100")  # the default limit, now below this image

    def nvjpeg_fails(data, device):
        raise RuntimeError("nvJPEG cannot decode this")

    monkeypatch.setattr(jpeg, "_decode", nvjpeg_fails)
    ((image, reason),) = decode_batch([enc], "cpu")
    assert reason is None and tuple(image.shape) == enc.shape


def test_batches_decoded_on_a_device_equal_the_cpu_pipeline_and_bad_files_fail(tmp_path):
    paths = []
    for i in range(5):
        paths.append(tmp_path / f"p{i}.jpg")
        Image.fromarray(_array(seed=i)).save(paths[-1], quality=90)
    Image.fromarray(_array(seed=9)).save(tmp_path / "q.png")
    paths.insert(2, tmp_path / "q.png")  # decoded on the CPU, batched with the JPEGs
    broken = tmp_path / "broken.jpg"  # a sound header, no image data: nvJPEG and Pillow both refuse it
    broken.write_bytes((tmp_path / "p0.jpg").read_bytes()[:400])
    paths.insert(4, broken)

    def collect(**kw):
        batches = list(iter_image_batches(paths, batch_size=3, workers=0, **kw))
        failures = [b for b in batches if isinstance(b, Failure)]
        images = {k: img for b in batches if isinstance(b, Batch) for k, img in zip(b.keys, b.images)}
        return images, failures

    plain, plain_failures = collect(uint8=True)
    device, device_failures = collect(jpeg_device="cpu")
    assert plain.keys() == device.keys() and len(plain) == 6
    for key in plain:
        assert torch.equal(plain[key], device[key])
    assert [f.key for f in device_failures] == [f.key for f in plain_failures] == [str(broken)]


def test_pairs_decoded_on_a_device_name_the_bad_file(tmp_path):
    ref, dist, bad = tmp_path / "r.jpg", tmp_path / "d.jpg", tmp_path / "bad.jpg"
    Image.fromarray(_array()).save(ref)
    Image.fromarray(_array(seed=1)).save(dist)
    bad.write_bytes(ref.read_bytes()[:400])
    out = list(iter_pair_batches([(ref, dist), (ref, bad)], batch_size=2, workers=0, jpeg_device="cpu"))
    (batch,) = [b for b in out if isinstance(b, Batch)]
    (failure,) = [b for b in out if isinstance(b, Failure)]
    assert torch.equal(batch.images[0], load_image(dist, dtype=torch.uint8))
    assert torch.equal(batch.refs[0], load_image(ref, dtype=torch.uint8))
    assert failure.key == (str(ref), str(bad)) and failure.reason.startswith(f"{bad}: ")


def test_uint8_batches_score_exactly_as_float_batches(tmp_path):
    paths = []
    for i in range(4):
        paths.append(tmp_path / f"p{i}.png")
        Image.fromarray(_array(48, 64, seed=i)).save(paths[-1])
    metrics = [iqametrics.create("brisque"), iqametrics.create("piqe")]
    as_floats = list(run_metrics(metrics, iter_image_batches(paths, batch_size=2, workers=0)))
    as_levels = list(run_metrics(metrics, iter_image_batches(paths, batch_size=2, workers=0, uint8=True)))
    assert [r.scores for r in as_floats] == [r.scores for r in as_levels]


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the fallback of a machine without CUDA")
def test_decode_gpu_without_cuda_falls_back_and_says_so_once(tmp_path):
    for i in range(3):
        Image.fromarray(_array(seed=i)).save(tmp_path / f"p{i}.jpg")
    metric = iqametrics.create("brisque")
    assert resolve_decode("cpu", [metric]) == ("cpu", None)
    mode, note = resolve_decode("gpu", [metric])
    assert mode == "cpu" and "CUDA" in note
    with pytest.raises(ValueError, match="decode"):
        resolve_decode("nvjpeg", [metric])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        results = list(score_files([metric], discover_images([tmp_path]), decode="gpu", workers=0))
    assert len(results) == 3 and [str(w.message) for w in caught] == [note]
    out = CliRunner().invoke(cli.main, ["score", str(tmp_path), "--decode", "gpu", "--format", "csv", "-j", "0"])
    assert out.exit_code == 0, out.output
    assert out.output.count("--decode gpu needs the metrics on a CUDA device") == 1
