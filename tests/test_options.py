"""What a registered name means cannot be changed by options or weights (create and the CLI), and
a metric built directly knows what it is: the config tables of iqametrics.config."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

import iqametrics
from iqametrics import cli
from iqametrics.registry import OptionError, OptionValueError, get_config, metric_options

# (name, option, value, the registered name the message must point to)
VARIANT_OPTIONS = [
    ("musiq", "tag", "ava", "musiq.ava"),
    ("musiq", "num_classes", 10, "musiq.ava"),
    ("musiq.ava", "num_classes", 1, "musiq"),
    ("musiq.spaq", "tag", "koniq", "musiq"),
    ("fsim", "chromatic", True, "fsimc"),
    ("fsimc", "chromatic", False, "fsim"),
    ("lpips", "net", "vgg", "lpips.vgg"),
    ("lpips.squeeze", "net", "alex", "lpips"),
    ("vtamiq.paper", "num_scales", 5, "vtamiq"),
    ("vtamiq", "position", "corner", "vtamiq.paper"),
]


@pytest.mark.parametrize("name, key, value, target", VARIANT_OPTIONS)
def test_options_that_select_another_variant_are_refused(name, key, value, target):
    with pytest.raises(OptionError, match=rf"{key}=.*would change which model '{name.split('.koniq')[0]}' means.*'{target}'"):
        iqametrics.create(name, pretrained=False, **{key: value})


def test_every_variant_argument_of_every_metric_is_refused():
    """Whatever a registered name fixes is refused as an option, with its own value or a sibling's."""
    checked = 0
    for name in iqametrics.list_metrics():
        config = get_config(name)
        for key, value in config.variant_args.items():
            with pytest.raises(OptionError, match=rf"{key} is not an option of '{name}': the name fixes it"):
                iqametrics.create(name, pretrained=False, **{key: value})
            assert key not in metric_options(name)
            checked += 1
    assert checked == 19  # musiq ×4, lpips ×3, fsim ×2, vtamiq ×2 (two keys each), tfiqa ×4, liteiqa ×2


def test_unknown_variant_value_lists_the_registered_variants():
    with pytest.raises(OptionError, match="no registered name has it.*lpips, lpips.vgg, lpips.squeeze"):
        iqametrics.create("lpips", pretrained=False, net="resnet")


def test_unknown_option_lists_the_valid_ones():
    with pytest.raises(OptionError, match=r"ssim has no option 'foo'; its options are: .*downsample"):
        iqametrics.create("ssim", foo=1)
    with pytest.raises(OptionError, match=r"musiq has no option 'fo'; its options are: .*batch_tokens.*resize"):
        iqametrics.create("musiq", pretrained=False, fo=1)
    # the listing is what create accepts: every listed option builds
    assert "downsample" in metric_options("ssim") and "quantize" in metric_options("brisque")
    assert "amp" in metric_options("musiq") and "amp" not in metric_options("brisque")


def _photo(tmp_path):
    path = tmp_path / "a.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(path)
    return str(path)


def test_cli_refuses_variant_and_unknown_options(tmp_path):
    runner = CliRunner()
    photo = _photo(tmp_path)
    result = runner.invoke(cli.main, ["score", "-m", "musiq", photo, "--option", "tag=ava"])
    assert result.exit_code == 2 and "musiq.ava" in result.output
    result = runner.invoke(cli.main, ["compare", "-m", "fsim", photo, photo, "--option", "chromatic=true"])
    assert result.exit_code == 2 and "fsimc" in result.output
    result = runner.invoke(cli.main, ["score", "-m", "brisque", photo, "--option", "foo=bar"])
    assert result.exit_code == 2 and "'foo'" in result.output and "libsvm_rounding, quantize" in result.output


# ----------------------------------------------------------------------------- weights
def test_a_metric_without_learned_weights_takes_none(tmp_path):
    photo = _photo(tmp_path)
    with pytest.raises(ValueError, match="ssim has no learned weights"):
        iqametrics.create("ssim", weights=photo)
    result = CliRunner().invoke(cli.main, ["score", "-m", "brisque", photo, "--weights", "musiq.koniq"])
    assert result.exit_code == 2 and "brisque has no learned weights" in result.output


def test_a_manifest_key_must_be_the_metrics_own(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # refused before anything is fetched
    with pytest.raises(ValueError, match="'musiq.ava' is not one of musiq's weights.*belongs to musiq.ava"):
        iqametrics.create("musiq", weights="musiq.ava")
    with pytest.raises(ValueError, match="'backbone.vgg16' is not one of lpips's weights"):
        iqametrics.create("lpips", weights="backbone.vgg16")
    # its own key, and the same file from another source (key@source), are accepted (then fetched)
    from iqametrics.registry import _check_weights, _resolve

    _check_weights(_resolve("musiq"), "musiq.koniq")
    _check_weights(_resolve("musiq"), "musiq.koniq@official")


# ----------------------------------------------------------------------------- metadata on the class
def test_a_metric_built_directly_knows_its_info():
    from iqametrics.models.classic_fr import FSIM, SSIM
    from iqametrics.models.classic_nr import BRISQUE
    from iqametrics.models.lpips import LPIPS

    assert SSIM().info is iqametrics.get_info("ssim")
    assert BRISQUE().info is iqametrics.get_info("brisque")
    assert FSIM(chromatic=True).info is iqametrics.get_info("fsimc")
    assert LPIPS(net="vgg").info is iqametrics.get_info("lpips.vgg")
    assert iqametrics.create("fsimc").info is FSIM(chromatic=True).info
    with pytest.raises(ValueError, match="is not lpips.vgg"):
        LPIPS(net="alex", variant="lpips.vgg")


def test_an_unregistered_subclass_is_not_the_registered_metric():
    from iqametrics.models.classic_fr import SSIM

    class MySSIM(SSIM):
        pass

    assert MySSIM().info is None and MySSIM().name == "MySSIM"


def test_registry_does_not_import_the_metric_module():
    code = "import iqametrics.registry, sys; print('iqametrics.metric' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_info_shows_what_the_name_fixes_its_defaults_and_options():
    runner = CliRunner()
    shown = runner.invoke(cli.main, ["info", "musiq.ava"]).output
    assert "fixed: num_classes=10" in shown and "options: amp, " in shown
    data = json.loads(runner.invoke(cli.main, ["info", "hyperiqa", "--json"]).output)
    assert data["fixed"] == {} and data["defaults"] == {"resize": None} and "num_crops" in data["options"]


@pytest.mark.parametrize("name, options, message", [
    ("ssim", {"downsample": "maybe"}, "downsample takes true or false (default True)"),  # a truthy string
    ("ssim", {"k1": "a"}, "k1 takes a number (default 0.01)"),
    ("ms_ssim", {"window_size": 11.0}, "window_size takes an integer (default 11)"),
    ("liteiqa", {"channels_last": "no"}, "channels_last takes true or false"),
    ("vif", {"orientations": "03"}, "orientations takes a list"),
    ("hyperiqa", {"num_crops": True}, "num_crops takes an integer"),
])
def test_an_option_of_another_kind_than_its_default_is_refused(name, options, message):
    with pytest.raises(OptionValueError) as err:
        iqametrics.create(name, pretrained=False, **options)
    assert message in str(err.value)


@pytest.mark.parametrize("name, options, message", [
    ("psnr", {"data_range": 0}, "data_range must be a finite number above 0, got 0"),  # was -inf dB
    ("psnr", {"data_range": -1.0}, "data_range must be a finite number above 0"),  # was the PSNR of data_range 1
    ("ssim", {"window_size": 0}, "window_size must be an integer of at least 1, got 0"),  # was SSIM 1 for any pair
    ("ssim", {"sigma": -1.5}, "sigma must be a finite number above 0"),
    ("ms_ssim", {"k2": float("inf")}, "k2 must be a finite number above 0"),
    ("vif", {"levels": 0}, "levels must be an integer of at least 1"),
    ("vifp", {"sigma_nsq": 0.0}, "sigma_nsq must be a finite number above 0, got 0.0"),
])
def test_classic_options_that_only_make_sense_above_zero(name, options, message):
    with pytest.raises(OptionValueError) as err:
        iqametrics.create(name, **options)
    assert message in str(err.value)


def test_options_of_the_right_kind_are_taken():
    # an integer for a float, any sequence for a tuple, None where the metric gives it a meaning,
    # and any kind an option's annotation admits (MUSIQ's compile: a flag or a backend name)
    iqametrics.create("musiq", pretrained=False, compile="eager")
    assert iqametrics.create("psnr", data_range=255).options["data_range"] == 255
    assert list(iqametrics.create("vif", orientations=range(6)).options["orientations"]) == list(range(6))
    iqametrics.create("hyperiqa", pretrained=False, resize=None)
    iqametrics.create("hyperiqa", pretrained=False, resize=[384, 512])


def test_liteiqa_batch_pixels_reads_pixel_counts_as_the_cli_does():
    assert iqametrics.create("liteiqa", batch_pixels="4M").batch_pixels == 4_000_000
    assert iqametrics.create("liteiqa", batch_pixels=1000).batch_pixels == 1000
    with pytest.raises(OptionValueError, match="expected a pixel count such as 24000000 or 24M, got 'lots'"):
        iqametrics.create("liteiqa", batch_pixels="lots")  # was "'<' not supported between 'str' and 'int'"


def test_restating_what_a_name_fixes_says_so():
    with pytest.raises(OptionError, match=r"scales is not an option of 'liteiqa': the name fixes it \(scales=\(1\.0,\)\)"):
        iqametrics.create("liteiqa", pretrained=False, scales=[1.0])
    with pytest.raises(OptionError, match=r"scales=\(1\.0, 0\.5\) would change which model 'liteiqa' means"):
        iqametrics.create("liteiqa", pretrained=False, scales=(1.0, 0.5))
