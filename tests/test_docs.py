"""Documentation that is generated or promised stays in sync with the code."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

import iqametrics

REPO = Path(__file__).resolve().parents[1]
# the generator is tooling (tools/), not part of the installed package
_spec = importlib.util.spec_from_file_location("gen_docs", REPO / "tools" / "gen_docs.py")
gen_docs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gen_docs)
metrics_doc_path, render = gen_docs.metrics_doc_path, gen_docs.render


def test_metrics_table_in_sync():
    path = metrics_doc_path()
    if not path.is_file():
        pytest.skip("docs/ not present (installed package without the source tree)")
    text = path.read_text()
    assert render(text) == text, "docs/metrics.md is stale: run `python tools/gen_docs.py`"


def test_every_registered_metric_is_listed():
    path = metrics_doc_path()
    if not path.is_file():
        pytest.skip("docs/ not present")
    text = path.read_text()
    for name in iqametrics.list_metrics():
        assert f"`{name}`" in text, name


def test_readme_quickstart_has_two_commands():
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    blocks = section.split("```")[1::2]
    commands = [line for block in blocks for line in block.strip().splitlines()[1:] if line.strip()]
    assert len(commands) == 2, f"the Quickstart should hold exactly two commands, found {commands}"
    assert "iqa score" in commands[0] and "examples/" in commands[0]
    assert "pytest" in commands[1]


def _doc_texts():
    paths = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
    return {p: p.read_text() for p in paths if p.is_file()}


def test_download_examples_name_metrics_whose_weights_can_be_downloaded():
    """`iqa download NAMES` in the docs must not send users to weights that do not exist."""
    import re

    from iqametrics.weights import availability

    examples = 0
    for path, text in _doc_texts().items():
        for match in re.finditer(r"^\s*iqa download ((?:[a-z][\w.@-]*\s+)+)", text, re.MULTILINE):
            for name in match.group(1).split():
                examples += 1
                kind = availability(iqametrics.get_info(name).weights)
                assert kind in ("download", "bundled"), f"{path.name}: `iqa download {name}`: weights are {kind}"
    assert examples, "no `iqa download` example found"


def test_docs_claim_no_pinned_revision_the_manifest_does_not_have():
    import re

    from iqametrics.weights import load_manifest

    revisions = {e.revision for e in load_manifest().values() if e.repo_id}
    if all(re.fullmatch(r"[0-9a-f]{40}", r) for r in revisions):
        pytest.skip("every Hub revision is a commit hash")
    claim = re.compile(r"revision pinned by|revision the manifest pins|revisions? (?:is|are) pinned|\(revision pinned\)")
    texts = {**_doc_texts(), **{path: path.read_text() for path in (REPO / "iqametrics" / "weights").glob("*.py")}}
    for path, text in texts.items():
        assert not claim.search(text), f"{path.name} claims pinned revisions; the manifest has {sorted(revisions)}"
