"""Image decoding (modes, EXIF, 16-bit, broken files) and file discovery."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from iqametrics.io import (
    DEFAULT_MAX_IMAGE_PIXELS,
    ImageDecodeError,
    ImageTooLargeError,
    discover_images,
    discover_pairs,
    load_image,
    max_image_pixels,
    parse_pixel_count,
    pil_to_tensor,
)


@pytest.fixture
def rgb_array():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(12, 20, 3), dtype=np.uint8)


def _as_tensor(arr):
    return torch.from_numpy(arr).permute(2, 0, 1).float() / 255


def test_rgb_png_roundtrip(tmp_path, rgb_array):
    Image.fromarray(rgb_array).save(tmp_path / "a.png")
    x = load_image(tmp_path / "a.png")
    assert x.dtype == torch.float32 and x.shape == (3, 12, 20)
    torch.testing.assert_close(x, _as_tensor(rgb_array), rtol=0, atol=0)


def test_grey_is_replicated(tmp_path, rgb_array):
    Image.fromarray(rgb_array[..., 0]).save(tmp_path / "g.png")
    x = load_image(tmp_path / "g.png")
    assert x.shape == (3, 12, 20)
    assert torch.equal(x[0], x[1]) and torch.equal(x[1], x[2])
    torch.testing.assert_close(x[0], torch.from_numpy(rgb_array[..., 0]).float() / 255, rtol=0, atol=0)


def test_bilevel(tmp_path):
    arr = np.zeros((8, 8), dtype=bool)
    arr[:4] = True
    Image.fromarray(arr).save(tmp_path / "b.png")
    x = load_image(tmp_path / "b.png")
    assert x.shape == (3, 8, 8) and x[:, :4].min() == 1 and x[:, 4:].max() == 0


def test_rgba_composited_on_white(tmp_path):
    arr = np.zeros((4, 4, 4), dtype=np.uint8)
    arr[..., 0] = 200  # red channel
    arr[:2, :, 3] = 255  # top half opaque, bottom half fully transparent
    Image.fromarray(arr, mode="RGBA").save(tmp_path / "t.png")
    x = load_image(tmp_path / "t.png")
    torch.testing.assert_close(x[:, :2], torch.tensor([200 / 255, 0, 0]).view(3, 1, 1).expand(3, 2, 4))
    assert torch.all(x[:, 2:] == 1.0), "transparent pixels become white"


def test_palette_with_transparency(tmp_path):
    img = Image.new("P", (4, 4), 0)
    img.putpalette([10, 20, 30, 40, 50, 60] + [0] * 762)
    img.putpixel((0, 0), 1)
    img.info["transparency"] = 0
    img.save(tmp_path / "p.png", transparency=0)
    x = load_image(tmp_path / "p.png")
    torch.testing.assert_close(x[:, 0, 0], torch.tensor([40, 50, 60]) / 255.0)
    assert torch.all(x[:, 1:, :] == 1.0)


def test_cmyk_jpeg(tmp_path, rgb_array):
    Image.fromarray(rgb_array).convert("CMYK").save(tmp_path / "c.jpg", quality=95)
    x = load_image(tmp_path / "c.jpg")
    assert x.shape == (3, 12, 20) and 0 <= x.min() and x.max() <= 1
    reference = _as_tensor(rgb_array)
    assert (x - reference).abs().mean() < 0.08  # JPEG loss only; no channel inversion


def test_16bit_grey_is_8bit_equivalent(tmp_path, rgb_array):
    g8 = rgb_array[..., 0]
    Image.fromarray(g8.astype(np.uint16) * 257).save(tmp_path / "g16.png")
    x = load_image(tmp_path / "g16.png")
    torch.testing.assert_close(x[0], torch.from_numpy(g8).float() / 255, rtol=0, atol=0)


def _write_png16_rgb(path, arr16):
    import struct
    import zlib

    h, w, _ = arr16.shape
    raw = b"".join(b"\x00" + arr16[y].astype(">u2").tobytes() for y in range(h))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def test_16bit_rgb_png(tmp_path, rgb_array):
    _write_png16_rgb(tmp_path / "c16.png", rgb_array.astype(np.uint16) * 257)
    x = load_image(tmp_path / "c16.png")
    torch.testing.assert_close(x, _as_tensor(rgb_array), rtol=0, atol=0)


def test_exif_orientation_applied(tmp_path, rgb_array):
    img = Image.fromarray(rgb_array)  # 20 wide, 12 high
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise on display
    img.save(tmp_path / "r.jpg", exif=exif.tobytes(), quality=95)
    x = load_image(tmp_path / "r.jpg")
    assert x.shape == (3, 20, 12)


def test_truncated_jpeg_raises_named_error(tmp_path, rgb_array):
    Image.fromarray(np.tile(rgb_array, (8, 8, 1))).save(tmp_path / "full.jpg", quality=90)
    data = (tmp_path / "full.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageDecodeError) as err:
        load_image(tmp_path / "cut.jpg")
    assert "cut.jpg" in str(err.value) and "truncated" in err.value.reason


def test_text_file_named_png(tmp_path):
    (tmp_path / "note.png").write_text("not an image")
    with pytest.raises(ImageDecodeError, match="not a recognised image format"):
        load_image(tmp_path / "note.png")


def test_missing_file(tmp_path):
    with pytest.raises(ImageDecodeError, match="no such file"):
        load_image(tmp_path / "nope.png")


def test_pil_modes_direct(rgb_array):
    for mode in ("RGB", "L", "LA", "RGBA", "P", "YCbCr", "I;16"):
        img = Image.fromarray(rgb_array).convert(mode) if mode != "I;16" else Image.fromarray(rgb_array[..., 0].astype(np.uint16) * 257)
        x = pil_to_tensor(img)
        assert x.shape == (3, 12, 20) and x.dtype == torch.float32 and 0 <= x.min() and x.max() <= 1, mode
    with pytest.raises(ValueError, match="mode 'F'"):
        pil_to_tensor(Image.new("F", (2, 2)))


# ------------------------------------------------------------------------- discovery
@pytest.fixture
def tree(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "deep").mkdir()
    for name in ("z.png", "a.jpg", "b/c.PNG", "b/deep/d.bmp", "notes.txt", ".hidden.png"):
        (tmp_path / name).write_bytes(b"x")
    return tmp_path


def test_discover_folder_recursive_sorted(tree):
    found = [p.relative_to(tree).as_posix() for p in discover_images([tree])]
    assert found == ["a.jpg", "b/c.PNG", "b/deep/d.bmp", "z.png"]


def test_discover_glob_and_files_dedup(tree):
    found = discover_images([str(tree / "*.png"), tree / "z.png", tree / "notes.txt"])
    assert [p.name for p in found] == ["z.png", "notes.txt"]
    recursive = discover_images([str(tree / "**" / "*.bmp")])
    assert [p.name for p in recursive] == ["d.bmp"]


def test_discover_errors(tree):
    with pytest.raises(FileNotFoundError, match="no such file"):
        discover_images([tree / "missing.png"])
    with pytest.raises(FileNotFoundError, match="no image files match"):
        discover_images([str(tree / "*.tif")])


def test_discover_pairs(tmp_path):
    for side in ("ref", "dist"):
        (tmp_path / side / "sub").mkdir(parents=True)
    for rel in ("a.png", "sub/b.png"):
        (tmp_path / "ref" / rel).write_bytes(b"x")
    (tmp_path / "dist" / "a.png").write_bytes(b"x")
    (tmp_path / "dist" / "sub" / "b.jpg").write_bytes(b"x")  # same stem, other extension
    pairs = discover_pairs(tmp_path / "ref", tmp_path / "dist")
    assert [(r.name, d.name) for r, d in pairs] == [("a.png", "a.png"), ("b.png", "b.jpg")]
    (tmp_path / "dist" / "orphan.png").write_bytes(b"x")
    with pytest.raises(FileNotFoundError, match="orphan.png"):
        discover_pairs(tmp_path / "ref", tmp_path / "dist")
    with pytest.raises(ValueError, match="two files or two folders"):
        discover_pairs(tmp_path / "ref" / "a.png", tmp_path / "dist")


# ------------------------------------------------------------------------- per-image pixel limit
@pytest.fixture
def pillow_limit(monkeypatch):
    """Pillow's bomb limit shrunk to 1,000 pixels (warning above, error above 2,000) for fast tests."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    monkeypatch.delenv("IQAMETRICS_MAX_IMAGE_PIXELS", raising=False)


def test_image_over_the_limit_is_refused_with_size_and_remedy(tmp_path, pillow_limit):
    Image.new("RGB", (60, 50)).save(tmp_path / "huge.png")  # 3,000 px: over Pillow's error limit too
    with pytest.raises(ImageTooLargeError) as err:
        load_image(tmp_path / "huge.png", max_pixels=2500)
    message = str(err.value)
    assert "huge.png" in message and "60×50 = 3,000 px" in message and "limit of 2,500 px" in message
    assert "IQAMETRICS_MAX_IMAGE_PIXELS" in message and "max_pixels" in message
    assert isinstance(err.value, ImageDecodeError)  # scoring reports it as one failed file


def test_limit_replaces_pillows_own_check(tmp_path, pillow_limit):
    """Under our limit nothing of Pillow's fires (warning or error), however small Pillow's is."""
    Image.new("RGB", (60, 50), (10, 20, 30)).save(tmp_path / "big.png")  # 3,000 px > Pillow's 2,000
    Image.new("RGB", (30, 50), (10, 20, 30)).save(tmp_path / "mid.png")  # 1,500 px: Pillow would warn
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for name, shape in (("big.png", (3, 50, 60)), ("mid.png", (3, 50, 30))):
            x = load_image(tmp_path / name, max_pixels="4k")
            assert x.shape == shape and torch.all(x[0] == 10 / 255)
    assert Image.MAX_IMAGE_PIXELS == 1000  # Pillow's setting is left as it was


def test_limit_from_environment(tmp_path, pillow_limit, monkeypatch):
    Image.new("RGB", (40, 30)).save(tmp_path / "a.png")
    monkeypatch.setenv("IQAMETRICS_MAX_IMAGE_PIXELS", "1k")
    with pytest.raises(ImageTooLargeError, match="40×30"):
        load_image(tmp_path / "a.png")
    monkeypatch.setenv("IQAMETRICS_MAX_IMAGE_PIXELS", "0.0012M")
    assert load_image(tmp_path / "a.png").shape == (3, 30, 40)
    monkeypatch.setenv("IQAMETRICS_MAX_IMAGE_PIXELS", "big")
    with pytest.raises(ValueError, match="IQAMETRICS_MAX_IMAGE_PIXELS"):
        load_image(tmp_path / "a.png")


def test_default_limit_is_pillows_error_threshold(monkeypatch):
    monkeypatch.delenv("IQAMETRICS_MAX_IMAGE_PIXELS", raising=False)
    assert max_image_pixels() == DEFAULT_MAX_IMAGE_PIXELS == 2 * 89_478_485


@pytest.mark.parametrize("text, count", [(5, 5), ("24000000", 24_000_000), ("24M", 24_000_000), ("24MP", 24_000_000),
                                         ("1.5e8", 150_000_000), ("500k", 500_000), ("2_000", 2000), ("3px", 3)])
def test_parse_pixel_count(text, count):
    assert parse_pixel_count(text) == count


@pytest.mark.parametrize("text", ["0", "-3", "lots", "", True, "M"])
def test_parse_pixel_count_rejects(text):
    with pytest.raises(ValueError):
        parse_pixel_count(text)
