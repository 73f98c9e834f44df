"""Build hook: ship the repository-root ``weights_manifest.json`` inside the wheel.

The manifest stays at the repository root as the single source of truth; at build time it is
copied next to the package modules so that an installed (non-editable) iqametrics finds it.
"""
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
MANIFEST = "weights_manifest.json"


class BuildPyWithManifest(build_py):
    def run(self):
        super().run()
        target = Path(self.build_lib) / "iqametrics" / MANIFEST
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / MANIFEST, target)


setup(cmdclass={"build_py": BuildPyWithManifest})
