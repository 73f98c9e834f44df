"""Sharded scoring's pieces in one process: shards, part files, preparing and merging an output.

The same functions run under torchrun in tests/test_sharded_cli.py; here a world of one (whose
collectives are no-ops) stands in for process 0.
"""
from __future__ import annotations

import csv
import json

import pytest
from click.testing import CliRunner

from iqametrics import cli, sharding
from iqametrics.distributed import Context

CSV = dict(fmt="csv", key_columns=["path"], metrics=["m"])
PAIRS = dict(fmt="jsonl", key_columns=["ref", "dist"], metrics=["m"])


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.reader(f))


def test_shards_interleave_and_cover_every_input_once():
    shards = [list(sharding.shard(10, r, 3)) for r in range(3)]
    assert shards == [[0, 3, 6, 9], [1, 4, 7], [2, 5, 8]]
    assert list(sharding.shard(2, 2, 3)) == []
    with pytest.raises(ValueError, match="rank"):
        sharding.shard(10, 3, 3)


def test_part_files_are_found_by_rank_and_read_back(tmp_path):
    out = tmp_path / "s.csv"
    for rank in (10, 2, 0):
        with sharding.PartWriter(sharding.part_path(out, rank)) as part:
            part.write(rank, f"f{rank}", {"m": 0.5 + rank})
    (tmp_path / "s.csv.part-x").write_text("not a part")  # not ours: ignored
    (tmp_path / "t.csv.part-1").write_text("")  # another output's part
    assert [p.name for p in sharding.part_files(out)] == ["s.csv.part-0", "s.csv.part-2", "s.csv.part-10"]
    with sharding.PartWriter(sharding.part_path(out, 3)) as part:
        part.write(7, ("r.png", "d.png"), {"m": float("nan")})
    ((index, key, scores),) = sharding.read_part(sharding.part_path(out, 3))
    assert index == 7 and key == ("r.png", "d.png") and scores["m"] != scores["m"]  # NaN survives


def test_merge_writes_discovery_order_in_the_output_format_and_removes_the_parts(tmp_path):
    out = tmp_path / "s.csv"
    keys = ["a", "b", "c", "d", "e"]
    with sharding.PartWriter(sharding.part_path(out, 0)) as p0, sharding.PartWriter(sharding.part_path(out, 1)) as p1:
        p1.write(3, "d", {"m": 4.0})  # the order a rank finishes its batches in does not matter
        p0.write(2, "c", {"m": 3.0})
        p1.write(1, "b", {"m": 2.0})
        p0.write(0, "a", {"m": 1.0})  # "e" failed: no row
    assert sharding.merge(out, keys, **CSV) == 4
    assert _rows(out) == [["path", "m"], ["a", "1"], ["b", "2"], ["c", "3"], ["d", "4"]]
    assert sharding.part_files(out) == []


def test_merge_appends_only_what_the_output_lacks(tmp_path):
    """A merge killed half-way left some rows in the output and every part: rerun, nothing twice."""
    out = tmp_path / "s.csv"
    out.write_text("path,m\na,1\n")
    with sharding.PartWriter(sharding.part_path(out, 0)) as part:
        part.write(0, "a", {"m": 1.0})
        part.write(1, "b", {"m": 2.0})
    assert sharding.merge(out, ["a", "b"], **CSV) == 1
    assert _rows(out) == [["path", "m"], ["a", "1"], ["b", "2"]]


def test_merge_places_rows_by_key_when_the_inputs_changed(tmp_path):
    """Parts from before a resumption whose inputs changed: rows go to their key's position now,
    rows of inputs that are gone after every input (nothing scored is lost)."""
    out = tmp_path / "p.jsonl"
    with sharding.PartWriter(sharding.part_path(out, 0)) as part:
        part.write(0, ("r", "gone"), {"m": 9.0})
        part.write(1, ("r", "x"), {"m": 1.0})  # x is now at position 2
        part.write(0, ("r", "new"), {"m": 0.0})
    sharding.merge(out, [("r", "new"), ("r", "y"), ("r", "x")], **PAIRS)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["dist"], r["m"]) for r in rows] == [("new", 0.0), ("x", 1.0), ("gone", 9.0)]


def test_prepare_refuses_leftovers_without_resume_or_overwrite(tmp_path):
    ctx = Context()
    out = tmp_path / "s.csv"
    sharding.part_path(out, 1).write_text("")
    with pytest.raises(sharding.ShardingError, match="part file.*--resume.*--overwrite"):
        sharding.prepare(ctx, out, resume=False, overwrite=False, **CSV)
    out.write_text("path,m\n")
    with pytest.raises(sharding.ShardingError, match="exists"):
        sharding.prepare(ctx, out, resume=False, overwrite=False, **CSV)
    with pytest.raises(sharding.ShardingError, match="table"):
        sharding.prepare(ctx, out, resume=True, overwrite=False, fmt="table", key_columns=["path"], metrics=["m"])
    assert sharding.prepare(ctx, out, resume=False, overwrite=True, **CSV) == set()
    assert not out.exists() and [p.name for p in sharding.part_files(out)] == ["s.csv.part-0"]


def test_prepare_with_resume_cuts_half_rows_and_collects_done_keys_of_every_part(tmp_path):
    ctx = Context()
    out = tmp_path / "s.csv"
    out.write_text("path,m\na,1\nb,2")  # killed while writing b's row
    sharding.part_path(out, 1).write_text(json.dumps({"index": 2, "key": "c", "scores": {"m": 3.0}}) + '\n{"index": 3, "ke')
    sharding.part_path(out, 5).write_text(json.dumps({"index": 4, "key": "e", "scores": {"m": 5.0}}) + "\n")  # a bigger world
    assert sharding.prepare(ctx, out, resume=True, overwrite=False, **CSV) == {"a", "c", "e"}
    assert out.read_text() == "path,m\na,1\n"
    assert sharding.part_path(out, 1).read_text().count("\n") == 1
    with pytest.raises(sharding.ShardingError, match="columns"):
        sharding.prepare(ctx, out, resume=True, overwrite=False, fmt="csv", key_columns=["path"], metrics=["other"])


def test_under_torchrun_the_cli_needs_an_output_file(monkeypatch, tmp_path):
    monkeypatch.setenv("WORLD_SIZE", "2")
    image = tmp_path / "a.png"
    from PIL import Image

    Image.new("RGB", (32, 32), (10, 20, 30)).save(image)
    result = CliRunner().invoke(cli.main, ["score", str(image)])
    assert result.exit_code == 2 and "under torchrun, give --output FILE" in result.output
