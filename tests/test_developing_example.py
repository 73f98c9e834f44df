"""The worked example of docs/developing.md (a model module and its converter) runs as written."""
from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[1] / "docs" / "developing.md"

CHECKS = '''
import torch
import iqametrics
from iqametrics.convert import get_converter
from iqametrics.registry import OptionError

exec(CONVERTER, {"__name__": "sharpiqa_convert"})
module = {"__name__": "sharpiqa_model"}
exec(MODULE, module)

torch.manual_seed(0)
m = iqametrics.create("sharpiqa", pretrained=False)
assert m.info.name == "sharpiqa" and m.info.aliases == ("sharpiqa.koniq",), m.info
x = torch.rand(2, 3, 64, 80)
assert m(x).shape == (2,)
torch.testing.assert_close(m(x[:1]), m(x)[:1], rtol=1e-5, atol=1e-5)
assert iqametrics.create("sharpiqa.spaq", pretrained=False).resize is None
assert iqametrics.create("sharpiqa", pretrained=False, resize=None).resize is None
ava = iqametrics.create("sharpiqa.ava", pretrained=False)(x)
assert ((ava >= 1) & (ava <= 10)).all()
try:
    iqametrics.create("sharpiqa", pretrained=False, num_classes=10)
    raise SystemExit("num_classes was accepted")
except OptionError as exc:
    assert "'sharpiqa.ava'" in str(exc), exc
assert module["SharpIQA"](num_classes=10).info.name == "sharpiqa.ava"

converter = get_converter("sharpiqa.official")
upstream = {"state_dict": {"module." + k: v for k, v in converter.inverse(m.state_dict()).items()}}
assert converter.detect(upstream)
ours = converter.convert(upstream)
assert set(ours) == set(m.state_dict()) and all(torch.equal(ours[k], v) for k, v in m.state_dict().items())
torch.save(upstream, PATH)
loaded = iqametrics.create("sharpiqa", weights=PATH)
assert all(torch.equal(loaded.state_dict()[k], v) for k, v in m.state_dict().items())
print("ok")
'''


def _block(text: str, marker: str) -> str:
    blocks = [b for b in re.findall(r"```python\n(.*?)```", text, flags=re.S) if marker in b]
    assert len(blocks) == 1, f"expected one python block with {marker!r} in {DOC}"
    # the example is written as modules of the package: run it from outside with absolute imports
    code = blocks[0].replace("from ..", "from iqametrics.").replace("from . import", "from iqametrics.convert import")
    return code


@pytest.mark.slow
def test_worked_example_runs(tmp_path):
    text = DOC.read_text()
    module = _block(text, "register_metrics(SharpIQA")
    converter = _block(text, '@register_converter("sharpiqa.official"')
    program = f"MODULE = {module!r}\nCONVERTER = {converter!r}\nPATH = {str(tmp_path / 'sharp.pth')!r}\n" + textwrap.dedent(CHECKS)
    out = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, cwd=DOC.parents[1],
                         env={"HF_HUB_OFFLINE": "1", "IQAMETRICS_OFFLINE": "1", "OMP_NUM_THREADS": "1",
                              "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stderr[-3000:]
