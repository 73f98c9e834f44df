"""Every packaged recipe trains (a smoke run), exports, and its export scores as the run's model did."""
from __future__ import annotations

import csv
import json

import pytest
import torch
import torch.nn.functional as F

import iqametrics
from iqametrics.io import load_image
from iqametrics.train.export import export_run
from iqametrics.train.recipes import list_recipes, load_recipe
from iqametrics.train.trainer import train

# one step of two items, validation on three: the mechanics of each model's task, not its accuracy
SMOKE = ["train.max_steps=1", "train.batch_size=2", "train.workers=0", "data.repeats=1", "data.limit=3"]
# files that cannot be downloaded here (ImageNet backbones, the MUSIQ ImageNet checkpoint): start
# untrained; fewer test-time crops and patches keep each run to seconds; two training labels are
# too few to fit an equalisation
OFFLINE = {"hyperiqa-koniq": ["model.task_options.imagenet_backbone=false", "model.options.num_crops=1"],
           "pyramidiqa-koniq": ["model.task_options.imagenet_backbone=false", "model.options.num_crops=1"],
           "musiq-koniq": ['model.init=""'],
           "vtamiq-kadis": ["model.task_options.imagenet_backbone=false", 'model.task_options.labels="distortion"',
                            "model.options.n_patches=64", "model.task_options.n_patches=32"],
           "vtamiq-kadid": ["model.task_options.imagenet_backbone=false", 'model.task_options.labels="distortion"',
                            "model.options.n_patches=64", "model.task_options.n_patches=32"],
           **{name: ["model.task_options.imagenet_backbone=false", "model.task_options.crop=64",
                     "model.options.crop_size=64", "model.options.n_crops=1"]
              for name in ("prfnet-clic-step1", "prfnet-clic-step2")},
           "tfiqa-fr-kadid": ["model.task_options.imagenet_backbone=false"],
           "tfiqa-nr-koniq": ["model.task_options.imagenet_backbone=false", "model.options.num_crops=1"],
           "tfiqa-uni-koniq-kadid": ["model.task_options.imagenet_backbone=false"],
           "liteiqa-clive": ['model.task_options.imagenet_backbone=""', "model.task_options.crop=64"]}


def test_every_recipe_is_valid_and_documents_its_sources():
    names = list_recipes()
    assert {"hyperiqa-koniq", "pyramidiqa-koniq", "musiq-koniq", "vtamiq-kadis", "vtamiq-kadid"} <= set(names)
    for name in names:
        recipe = load_recipe(name)
        assert recipe.name == name and recipe.description and recipe.source, name
        iqametrics.get_info(recipe.model.metric)  # a registered metric
        assert name in OFFLINE, f"add {name} to the smoke runs below"


def _fr_pairs(folder, pristine_paths, n=6):
    """Blurred copies of 128×96 crops of pristine photos, labelled by blur strength (MOS 5 = pristine)."""
    folder.mkdir()
    rows = []
    for i, path in enumerate(pristine_paths[:n]):
        ref = F.interpolate(load_image(path)[None], size=(96, 128), mode="area")[0]
        k = 2 * (i % 3) + 3
        dist = F.avg_pool2d(ref[None], k, stride=1, padding=k // 2, count_include_pad=False)[0]
        for name, img in ((f"ref{i}.png", ref), (f"dist{i}.png", dist)):
            array = (img.permute(1, 2, 0).clamp(0, 1) * 255).round().to(torch.uint8).numpy()
            from PIL import Image

            Image.fromarray(array).save(folder / name)
        rows.append((f"dist{i}.png", f"ref{i}.png", 5.0 - i % 3, "train" if i < n // 2 else "val"))
    table = folder / "pairs.csv"
    with open(table, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["dist", "ref", "mos", "split"])
        w.writerows(rows)
    return table


def _official_layouts(root):
    """KonIQ-10k and KADID-10k folders in their own layouts (the readers' test fixtures), with
    images large enough for VGG16's five stages."""
    from . import train_layouts as lay

    lay.write_koniq10k(root / "koniq")
    rows = lay.write_kadid10k(root / "kadid")
    for i, name in enumerate(sorted({r[0] for r in rows} | {r[1] for r in rows})):
        lay.image(root / "kadid" / "images" / name, seed=i, size=(96, 128))
    return f"koniq10k:{root / 'koniq'}", f"kadid10k:{root / 'kadid'}"


def _triplets(folder, pristine_paths, n=6):
    """(reference, lightly blurred, strongly blurred) triplets; the label says A (the light blur) is closer."""
    table = _fr_pairs(folder, pristine_paths, n)
    rows = []
    for i in range(n):
        ref = load_image(folder / f"ref{i}.png")
        strong = F.avg_pool2d(ref[None], 9, stride=1, padding=4, count_include_pad=False)[0]
        array = (strong.permute(1, 2, 0).clamp(0, 1) * 255).round().to(torch.uint8).numpy()
        from PIL import Image

        Image.fromarray(array).save(folder / f"strong{i}.png")
        rows.append((f"ref{i}.png", f"dist{i}.png", f"strong{i}.png", 1.0, "train" if i < n // 2 else "val"))
    table = folder / "triplets.csv"
    with open(table, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["ref", "a", "b", "label", "split"])
        w.writerows(rows)
    return table


@pytest.mark.slow
@pytest.mark.needs_data
@pytest.mark.parametrize("name", sorted(OFFLINE))
def test_recipe_smoke_run_exports_and_loads_back(name, tmp_path, shared_data, pristine_paths):
    recipe = load_recipe(name)
    if recipe.model.task.startswith("tfiqa"):
        koniq, kadid = _official_layouts(tmp_path)
        data = {"tfiqa_fr": kadid, "tfiqa_nr": koniq, "tfiqa_uni": [koniq, kadid]}[recipe.model.task]
    elif recipe.model.task == "vtamiq":
        data = f"generic:{_fr_pairs(tmp_path / 'pairs', pristine_paths)}"
    elif recipe.model.task == "prfnet":
        data = f"generic:{_triplets(tmp_path / 'pairs', pristine_paths)}"
    else:
        data = f"clive:{shared_data / 'clive'}"
    result = train(name, data, tmp_path / "run", overrides=SMOKE + OFFLINE[name], device="cpu", quiet=True)
    assert result.steps == 1
    if recipe.data.val_split and not recipe.model.task.startswith("tfiqa"):  # the KonIQ fixture has one val image
        assert set(result.final) >= ({"accuracy"} if recipe.model.task == "prfnet" else {"srcc", "krcc"})
    exported = export_run(tmp_path / "run", tmp_path / "export")
    summary = json.loads((tmp_path / "run" / "run.json").read_text())
    assert summary["recipe"] == name and exported.metric == recipe.model.metric

    # the export scores as the run's model did (the same float32 weights, loaded through create)
    options = exported.metric_options  # the run's metric options travel with the export
    run_model = iqametrics.create(recipe.model.metric, weights=str(result.model_path), **options)
    exported_model = iqametrics.create(recipe.model.metric, weights=str(exported.weights), **options)
    if recipe.model.task.startswith("tfiqa"):
        from PIL import Image

        image = torch.rand(1, 3, 96, 128)
        if exported.metric in ("tfiqa.fr", "tfiqa.uni"):
            assert torch.equal(run_model(image * 0.9, image), exported_model(image * 0.9, image))
        else:
            assert torch.equal(run_model(image), exported_model(image))
    elif recipe.model.task in ("vtamiq", "prfnet"):
        ref = load_image(tmp_path / "pairs" / "ref0.png")[None]
        dist = load_image(tmp_path / "pairs" / "dist0.png")[None]
        if recipe.model.task == "prfnet":
            strong = load_image(tmp_path / "pairs" / "strong0.png")[None]
            assert torch.equal(run_model.prefer(ref, dist, strong), exported_model.prefer(ref, dist, strong))
        else:
            assert torch.equal(run_model(dist, ref), exported_model(dist, ref))
    else:
        photo = [sorted((shared_data / "clive" / "images").glob("*.JPG"))[0]]
        assert torch.equal(run_model(photo), exported_model(photo))
