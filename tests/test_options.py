"""A metric built directly knows what it is: the config tables of iqametrics.config."""
from __future__ import annotations

import subprocess
import sys

import pytest

import iqametrics


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
