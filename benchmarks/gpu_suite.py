"""The GPU suite: one command that checks and measures everything a GPU changes, and writes the
tables into docs/benchmarks.md (between the ``gpu-suite`` markers, with the hardware).

    python benchmarks/gpu_suite.py               # on a CUDA machine: about 7 minutes on one H100
    python benchmarks/gpu_suite.py --dry-run     # the whole suite on the CPU with tiny sizes (tests run it)
    python benchmarks/gpu_suite.py --plan        # writes the section with every figure "unmeasured"

It needs nothing but this checkout (no ../shared/data, no network): its photos are generated
(``common.synthetic_photo``) and saved as JPEG files.  Three parts:

(a) CUDA against CPU, every registered metric: the same weights (pretrained when they are in the
    local cache, else seeded random ones) score the same photos on both; TF32 is switched off for
    this part, so that float32 is compared with float32.  Tolerance: ``|Δ| ≤ atol + rtol · max |CPU
    score|`` per class of arithmetic (:data:`TOLERANCES`).
(b) AMP accuracy, every metric that supports autocast: ``benchmarks/amp_accuracy.py``'s comparison
    (bf16 and fp16 against float32) on the generated photos.
(c) End-to-end throughput from JPEG files of 1024×768, decoding included (the ``score_files`` /
    ``compare_files`` pipeline that ``iqa score`` / ``iqa compare`` run): MUSIQ, HyperIQA, VTAMIQ,
    LPIPS, DISTS and the classic FR metrics at batch sizes 1, 16 and 64, MUSIQ with and without
    ``compile=True``, JPEGs decoded on the GPU (nvJPEG) and, for comparison, by CPU workers.  Images
    per second are counted in the steady state (after two batches) over ``--seconds`` per row;
    PyTorch's default precision settings (TF32 convolutions) apply.  The goal: 1,000 MUSIQ images
    per second on one H100.

Rows that would start after ``--time-limit`` seconds are skipped and marked so.  A metric that raises
on the GPU (or runs out of memory) is reported in its row and the suite goes on (a dry run stops).
The exit status is 1 if a check fails or a row raised.
"""
from __future__ import annotations

import argparse
import contextlib
import copy
import datetime
import json
import math
import os
import platform
import re
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import List, Optional

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from amp_accuracy import AMP_HEADER, AMP_METRICS, amp_rows, degraded_pairs  # noqa: E402
from common import create_or_seeded, hardware, markdown_table, synthetic_photo  # noqa: E402

import iqametrics  # noqa: E402
from iqametrics.batching import Failure  # noqa: E402
from iqametrics.io import load_image  # noqa: E402
from iqametrics.scoring import compare_files, score_files  # noqa: E402

DOCS = ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- gpu-suite:begin -->", "<!-- gpu-suite:end -->"
UNMEASURED = "unmeasured (no GPU lent)"
COMMAND = "python benchmarks/gpu_suite.py"

#: (atol, rtol) of CUDA against CPU, by the arithmetic of the metric (see each entry's reason)
TOLERANCES = {
    # float64 throughout: only the order of summation differs
    "float64": (1e-9, 1e-6),
    # float32 maps reduced over 1e4-1e6 pixels in another order (cuFFT for the phase-congruency and
    # saliency metrics): relative errors of 1e-6-1e-5 per reduction
    "float32": (1e-6, 1e-4),
    # float32 networks: cuDNN picks other convolution algorithms (Winograd, FFT, implicit GEMM) over
    # tens of layers; TF32 off
    "network": (1e-5, 1e-3),
}
ARITHMETIC = {
    **dict.fromkeys(("brisque", "niqe", "piqe", "nlpd", "mad"), "float64"),
    **dict.fromkeys(("psnr", "ssim", "ms_ssim", "gmsd", "fsim", "fsimc", "vsi", "vif", "vifp"), "float32"),
}  # anything else: "network"

CLASSIC_FR = ("psnr", "ssim", "ms_ssim", "gmsd", "fsim", "fsimc", "vsi", "vif", "vifp", "nlpd", "mad")
#: throughput: (metric, options on the GPU, compile variants)
THROUGHPUT = [
    ("musiq", {"amp": "bf16"}, (False, True)),
    ("hyperiqa", {"amp": "bf16", "channels_last": True}, (False,)),
    ("vtamiq", {"amp": "bf16"}, (False,)),
    ("lpips", {"amp": "bf16"}, (False,)),
    ("dists", {"amp": "bf16"}, (False,)),
    ("liteiqa", {"amp": "bf16", "channels_last": True}, (False,)),
    *[(name, {}, (False,)) for name in CLASSIC_FR],
]
#: options that keep the dry run short (fewer crops and patches); never used on a GPU run
DRY_OPTIONS = {
    **dict.fromkeys(("hyperiqa", "hyperiqa.official", "pyramidiqa"), {"num_crops": 1}),
    **dict.fromkeys(("vtamiq", "vtamiq.kadis"), {"n_patches": 16, "depth": 2}),
    **dict.fromkeys(("musiq", "musiq.ava", "musiq.paq2piq", "musiq.spaq"), {"depth": 2, "longer_side_lengths": [48]}),
}
#: pixel budget per batch on the GPU (pairs count both images): MAD keeps float64 maps of ~2 KB per pixel
BATCH_PIXELS = {"mad": 16_000_000}
DEFAULT_BATCH_PIXELS = 128_000_000


# ----------------------------------------------------------------------------- inputs
def write_jpegs(folder: Path, count: int, width: int, height: int, seed: int = 0) -> List[tuple]:
    """``count`` (reference, distorted) JPEG pairs: a generated photo at quality 90, and a blurred
    copy at quality 30."""
    from PIL import ImageFilter

    folder.mkdir(parents=True, exist_ok=True)
    pairs = []
    for i in range(count):
        ref, dist = folder / f"ref{i:03d}.jpg", folder / f"dist{i:03d}.jpg"
        if not (ref.is_file() and dist.is_file()):
            photo = synthetic_photo(width, height, seed + i)
            photo.save(ref, quality=90)
            photo.filter(ImageFilter.GaussianBlur(1.5)).save(dist, quality=30)
        pairs.append((ref, dist))
    return pairs


def _fitted(images, min_size):
    """The images, upscaled where a metric needs more pixels (the dry run's tiny photos)."""
    import torch.nn.functional as F

    mh, mw = min_size
    out = []
    for x in images:
        h, w = x.shape[-2:]
        if h < mh or w < mw:
            scale = max(mh / h, mw / w)
            x = F.interpolate(x[None], size=(math.ceil(h * scale), math.ceil(w * scale)), mode="bilinear",
                              align_corners=False)[0].clamp(0, 1)
        out.append(x)
    return out


# ----------------------------------------------------------------------------- metrics
def _options(name: str, dry: bool) -> dict:
    return dict(DRY_OPTIONS.get(name, {})) if dry else {}


def _create(name: str, device, dry: bool, **options):
    """Pretrained when the weights are in the local cache (offline: never downloads), else seeded random."""
    return create_or_seeded(name, device, cached_only=True, **{**_options(name, dry), **options})


def _score(metric, inputs) -> torch.Tensor:
    if metric.info.kind == "FR" and not metric.scores_pairs:  # a 2AFC comparator (PRFNet): A = the pair, B = a mirror
        refs = [r for _, r in inputs]
        return metric.prefer(refs, [d for d, _ in inputs], [r.flip(-1) for r in refs]).double().cpu()
    if metric.info.kind == "FR":
        return metric([d for d, _ in inputs], [r for _, r in inputs]).double().cpu()
    return metric(inputs).double().cpu()


@contextlib.contextmanager
def _float32_only():
    """TF32 off (CUDA matmuls and convolutions in float32) for the duration."""
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


# ----------------------------------------------------------------------------- (a) CUDA against CPU
def _check_device(name: str, device, photos, pairs, dry: bool, atol: float, rtol: float):
    """(weights, inputs, max |Δ|, bound, ok) of one metric, CUDA against CPU."""
    cpu_metric, weights = _create(name, "cpu", dry)
    gpu_metric = copy.deepcopy(cpu_metric).to(device)
    if cpu_metric.info.kind == "FR":
        inputs = list(zip(_fitted([d for d, _ in pairs], cpu_metric.min_size),
                          _fitted([r for _, r in pairs], cpu_metric.min_size)))
    else:
        inputs = _fitted(photos, cpu_metric.min_size)
    with torch.inference_mode():
        reference = _score(cpu_metric, inputs)
        with _float32_only():
            other = _score(gpu_metric, inputs)
    same_nans = torch.equal(reference.isnan(), other.isnan())  # NaN (an undefined score) must agree too
    finite = ~reference.isnan()
    diff = (other[finite] - reference[finite]).abs().max().item() if finite.any() else 0.0
    bound = atol + rtol * (reference[finite].abs().max().item() if finite.any() else 0.0)
    return weights, len(inputs), diff, bound, same_nans and diff <= bound


def device_rows(names, device, photos, pairs, dry: bool, plan: bool = False):
    rows, failed = [], []
    for name in names:
        arithmetic = ARITHMETIC.get(name, "network")
        atol, rtol = TOLERANCES[arithmetic]
        tolerance = f"{atol:g} + {rtol:g}·max|score| ({arithmetic})"
        if plan:
            rows.append([name, UNMEASURED, UNMEASURED, UNMEASURED, tolerance, UNMEASURED])
            continue
        try:
            weights, n, diff, bound, ok = _check_device(name, device, photos, pairs, dry, atol, rtol)
        except Exception as exc:  # noqa: BLE001 - one metric that breaks on the GPU must not end the suite
            if dry:
                raise
            failed.append(name)
            rows.append([name, "–", "–", "–", tolerance, f"ERROR: {type(exc).__name__}: {exc}"[:200]])
            print(f"(a) {name}: ERROR {exc}", file=sys.stderr, flush=True)
            continue
        if not ok:
            failed.append(name)
        rows.append([name, weights, n, f"{diff:.2e}", tolerance, "ok" if ok else f"FAIL (bound {bound:.2e})"])
        print(f"(a) {name}: {diff:.2e} {'ok' if ok else 'FAIL'}", file=sys.stderr, flush=True)
    return rows, failed


# ----------------------------------------------------------------------------- (c) throughput
def throughput_plan(names, batches, dry: bool) -> List[dict]:
    """The rows of part (c), MUSIQ first (the goal), then the other networks, then the classic metrics."""
    plan = []
    for name, options, compiles in THROUGHPUT:
        if name not in names:
            continue
        for batch in batches:
            for compiled in compiles:
                plan.append(dict(metric=name, batch=batch, compile=compiled, decode="gpu", options=options))
    if "musiq" in names:  # the price of CPU decoding, and of float32, at the largest batch
        largest = max(batches)
        plan.insert(2 * len(batches), dict(metric="musiq", batch=largest, compile=True, decode="cpu",
                                           options={"amp": "bf16"}))
        plan.insert(2 * len(batches) + 1, dict(metric="musiq", batch=largest, compile=True, decode="gpu", options={}))
    if dry:  # the Inductor compiler costs a minute on a CPU: the dry run traces with the eager backend
        for row in plan:
            row["options"] = {**_options(row["metric"], dry), **row["options"]}
            if row["compile"]:
                row["compile"] = "eager"
    return plan


def _precision(options: dict) -> str:
    return f"{options['amp']} autocast" if options.get("amp") else "float32"


def measure_throughput(row: dict, device, pairs, pixels: int, seconds: float, workers: int) -> dict:
    name, batch = row["metric"], row["batch"]
    options = dict(row["options"])
    if name == "musiq":  # one transformer pass for the whole batch on a GPU
        options.setdefault("batch_tokens", max(16384, batch * 1024))
    if row["compile"]:
        options["compile"] = row["compile"]
    torch.manual_seed(0)
    metric = iqametrics.create(name, device=device, pretrained=False, **options)
    fr = metric.info.kind == "FR"
    per_input = pixels * (2 if fr else 1)
    budget = max(per_input, min(batch * per_input, BATCH_PIXELS.get(name, DEFAULT_BATCH_PIXELS)))
    effective = max(1, min(batch, budget // per_input))
    # warm-up outside the clock: compilation, cuDNN's algorithm search, the caching allocator
    refs = [load_image(pairs[i % len(pairs)][0]) for i in range(effective)]
    dists = [load_image(pairs[i % len(pairs)][1]) for i in range(effective)]
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(2):
            metric(dists, refs) if fr else metric(refs)
    warm_s = time.perf_counter() - start

    n_inputs = 20000
    count = failures = 0
    t0 = t_last = None
    n0 = 0
    with warnings.catch_warnings(record=True) as caught:  # a fallback to CPU decoding is noted in the table
        warnings.simplefilter("always")
        if fr:
            inputs = [pairs[i % len(pairs)] for i in range(n_inputs)]
            stream = compare_files([metric], inputs, batch_size=batch, workers=workers, max_batch_pixels=budget,
                                   decode=row["decode"])
        else:
            inputs = [pairs[i % len(pairs)][0] for i in range(n_inputs)]
            stream = score_files([metric], inputs, batch_size=batch, workers=workers,
                                 max_batch_pixels=budget, decode=row["decode"])
        for record in stream:
            if isinstance(record, Failure):
                failures += 1
                continue
            count += 1
            now = time.perf_counter()
            if t0 is None:
                if count >= 2 * effective:  # steady state from the end of the second batch
                    t0, n0 = now, count
                continue
            t_last = now
            if count % effective == 0 and now - t0 >= seconds:
                break
    decode_note = "; ".join(sorted({str(w.message) for w in caught}))
    rate = (count - n0) / (t_last - t0) if t0 is not None and t_last is not None and t_last > t0 else float("nan")
    del stream
    return dict(row, precision=_precision(row["options"]), effective_batch=effective, images_per_s=rate,
                measured=count - n0, failures=failures, warmup_s=warm_s, note=decode_note)


def throughput_rows(results: List[dict], plan: bool = False) -> List[list]:
    rows = []
    for r in results:
        # only MUSIQ offers compile=True; "eager": the dry run's stand-in backend
        compiled = "–" if r["metric"] != "musiq" else {False: "no", True: "yes"}.get(r["compile"], r["compile"])
        if plan or "images_per_s" not in r:
            figure = r.get("skipped", UNMEASURED)
            rows.append([r["metric"], r["batch"], compiled, r["decode"], _precision(r["options"]), figure, figure, figure])
            continue
        note = f" ({r['failures']} failed)" if r["failures"] else ""
        rows.append([r["metric"], f"{r['batch']} ({r['effective_batch']})" if r["effective_batch"] != r["batch"] else r["batch"],
                     compiled, r["decode"] + (" → cpu" if r["note"] else ""), r["precision"],
                     f"{r['images_per_s']:.4g}{note}", r["measured"], f"{r['warmup_s']:.3g}"])
    return rows


# ----------------------------------------------------------------------------- the docs section
def section(meta: dict, a_rows, b_rows, c_rows, goal: str) -> str:
    lines = [
        BEGIN,
        "## GPU suite",
        "",
        "One command checks and measures what a GPU changes (`benchmarks/gpu_suite.py`: planned for 7 minutes on",
        "one H100, rows starting after 440 s are skipped; it generates its JPEGs and needs no `../shared` and no",
        "network) and rewrites this section, from the start marker to the end marker:",
        "",
        f"    {COMMAND}",
        "",
        f"{meta['status']}  ",
        f"Hardware: {meta['hardware']}  ",
        f"Command: `{meta['command']}`",
        "",
        "### (a) CUDA against CPU, every metric",
        "",
        "Same weights on both devices (pretrained where the local cache has them, else seeded random), "
        f"{meta['a_inputs']}; TF32 off. Bound: atol + rtol × the largest CPU score.",
        "",
        markdown_table(["metric", "weights", "inputs", "max |Δ| CUDA vs CPU", "tolerance (arithmetic)", "result"], a_rows),
        "",
        "### (b) AMP against float32",
        "",
        f"`benchmarks/amp_accuracy.py`'s comparison on {meta['b_inputs']}.",
        "",
        markdown_table(AMP_HEADER, b_rows),
        "",
        "### (c) End-to-end throughput from JPEG files",
        "",
        f"{meta['c_inputs']} Batch in brackets: the batch the pixel budget allowed. `gpu → cpu`: decoding fell "
        "back to the CPU. Warm-up (compilation, cuDNN's algorithm search) is not in the figures.",
        "",
        markdown_table(["metric", "batch", "compile", "decode", "precision", "images/s (end to end)",
                        "images timed", "warm-up (s)"], c_rows),
        "",
        goal,
        END,
    ]
    return "\n".join(lines) + "\n"


def write_section(path: Path, text: str) -> None:
    """Replace the marked section of ``path`` with ``text`` (appended if the markers are absent)."""
    content = path.read_text(encoding="utf-8")
    pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END) + r"\n?", re.S)
    if pattern.search(content):
        content = pattern.sub(lambda _: text, content, count=1)
    else:
        content = content.rstrip("\n") + "\n\n" + text
    path.write_text(content, encoding="utf-8")


def _hardware(device) -> str:
    text = hardware()
    if torch.device(device).type == "cuda":
        props = torch.cuda.get_device_properties(torch.device(device))
        text += f"; {props.name}, {props.total_memory / 2**30:.0f} GiB, CUDA {torch.version.cuda}"
    return text + f"; {os.cpu_count()} CPU cores; torchvision " + __import__("torchvision").__version__


# ----------------------------------------------------------------------------- main
def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--dry-run", action="store_true", help="CPU, tiny sizes and counts: checks the suite itself")
    parser.add_argument("--plan", action="store_true", help="measure nothing: write the section, every figure unmeasured")
    parser.add_argument("--docs", default=None, help=f"file whose marked section is rewritten [default: {DOCS.relative_to(ROOT)}; none in a dry run]")
    parser.add_argument("--no-docs", action="store_true", help="print the section only")
    parser.add_argument("--work-dir", default=None, help="where the JPEGs are written [default: a temporary folder]")
    parser.add_argument("--json", default=None, help="also write every result as JSON to this file")
    parser.add_argument("--size", default="1024x768", help="WxH of the throughput JPEGs")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--seconds", type=float, default=2.0, help="timed seconds per throughput row")
    parser.add_argument("--time-limit", type=float, default=440, help="throughput rows starting later are skipped")
    parser.add_argument("--workers", type=int, default=None, help="decoding processes [default: 4 for GPU decoding, cores - 2 for CPU]")
    args = parser.parse_args(argv)
    start = time.perf_counter()

    dry = args.dry_run
    device = "cpu" if dry else args.device
    if not (dry or args.plan) and not torch.cuda.is_available():
        parser.error("no CUDA device here: use --dry-run (CPU, tiny sizes) or --plan")
    width, height = (int(v) for v in args.size.split("x"))
    check_size, amp_size, n_check, n_amp, n_files = (512, 384), (512, 384), 4, 16, 64
    batches, seconds = args.batches, args.seconds
    amps = ["bf16", "fp16"]
    if dry:
        # the throughput photos must fit every metric (MS-SSIM needs 176 px); the checks upscale
        width, height, check_size, amp_size, n_check, n_amp, n_files = 192, 176, (64, 48), (64, 48), 2, 2, 4
        batches, seconds, amps = [2], 0.05, ["bf16"]
    names = iqametrics.list_metrics()

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.work_dir or tmp)
        pairs_files, pairs_small, photos = [], [], []
        if not args.plan:
            pairs_files = write_jpegs(work / f"{width}x{height}", n_files, width, height)
            check_files = write_jpegs(work / "{}x{}".format(*check_size), max(n_check, n_amp), *check_size, seed=1000)
            pairs_small = [(load_image(d), load_image(r)) for r, d in check_files]
            photos = [r for _, r in pairs_small]

        a_rows, failed = device_rows(names, device, photos[:n_check], pairs_small[:n_check], dry, plan=args.plan)
        print(f"(a) {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)

        amp_names = [n for n in AMP_METRICS if n in names]
        if args.plan:
            b_rows = [[n, UNMEASURED, f"{amp} (cuda)", UNMEASURED, UNMEASURED, UNMEASURED, UNMEASURED, UNMEASURED]
                      for n in amp_names for amp in amps]
        else:
            refs = photos[: max(1, n_amp // 2)]
            creator = lambda name, dev: _create(name, dev, dry)  # noqa: E731
            b_rows = []
            for name in amp_names:  # one by one: a metric that breaks must not end the suite
                try:
                    b_rows += amp_rows([name], amps, device, photos[:n_amp], degraded_pairs(refs), 8, creator,
                                       {name: _options(name, dry)})
                except Exception as exc:  # noqa: BLE001
                    if dry:
                        raise
                    failed.append(f"{name} (AMP)")
                    b_rows.append([name, "–", "–", "–", f"ERROR: {type(exc).__name__}: {exc}"[:200], "–", "–", "–"])
            print(f"(b) {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)

        plan = throughput_plan(names, batches, dry)
        workers = args.workers
        results = []
        for row in plan:
            if args.plan:
                results.append(row)
                continue
            if time.perf_counter() - start > args.time_limit:
                results.append(dict(row, skipped="skipped (time limit)"))
                continue
            n_workers = 0 if dry else (workers if workers is not None else (4 if row["decode"] == "gpu" else max(1, (os.cpu_count() or 2) - 2)))
            try:
                result = measure_throughput(row, device, pairs_files, width * height, seconds, n_workers)
            except Exception as exc:  # noqa: BLE001 - e.g. out of memory at batch 64: the other rows go on
                if dry:
                    raise
                results.append(dict(row, skipped=f"ERROR: {type(exc).__name__}: {exc}"[:200]))
                failed.append(f"{row['metric']} b{row['batch']} (throughput)")
                if torch.cuda.is_available():
                    torch.cuda.empty_cache()
                continue
            results.append(result)
            print(f"(c) {row['metric']} b{row['batch']} compile={row['compile']} {row['decode']}: "
                  f"{result['images_per_s']:.4g} images/s", file=sys.stderr, flush=True)
        c_rows = throughput_rows(results, plan=args.plan)

    musiq = [r for r in results if r["metric"] == "musiq" and "images_per_s" in r and not math.isnan(r["images_per_s"])]
    if args.plan or not musiq:
        goal = f"Goal on one H100: at least 1,000 MUSIQ images/s end to end: {UNMEASURED}."
    elif dry:
        goal = "Goal on one H100: at least 1,000 MUSIQ images/s end to end (a dry run measures nothing)."
    else:
        best = max(musiq, key=lambda r: r["images_per_s"])
        reached = "reached" if best["images_per_s"] >= 1000 else "not reached"
        goal = (f"Goal on one H100: at least 1,000 MUSIQ images/s end to end: **{reached}** here, best "
                f"{best['images_per_s']:.0f} images/s (batch {best['batch']}, compile {best['compile']}, "
                f"decode {best['decode']}, {best['precision']}).")
    stamp = datetime.date.today().isoformat()
    meta = dict(
        status=(f"Status: **{UNMEASURED}**; every figure below is to be measured by the command above." if args.plan
                else f"Run of {stamp}{' (dry run: CPU, tiny sizes; not measurements)' if dry else ''}, "
                     f"{time.perf_counter() - start:.0f} s."),
        hardware="not run yet" if args.plan else _hardware(device),
        command=COMMAND + (" --dry-run" if dry else ""),
        a_inputs=f"{n_check} generated photos (NR) and {n_check} JPEG-compressed, blurred pairs (FR) of "
                 f"{check_size[0]}×{check_size[1]}, upscaled where a metric needs more",
        b_inputs=f"{n_amp} generated photos of {amp_size[0]}×{amp_size[1]} (NR) and {max(1, n_amp // 2)} of them "
                 "against a JPEG (quality 20) and a blurred copy (FR)",
        c_inputs=f"{n_files} generated photos of {width}×{height} saved as JPEG (quality 90; FR: against a "
                 f"blurred copy at quality 30), read in a loop; {seconds:g} s timed per row after two batches; "
                 "random weights (speed does not depend on them); HyperIQA channels-last.",
    )
    text = section(meta, a_rows, b_rows, c_rows, goal)
    print(text)
    docs = None if args.no_docs else (args.docs or (None if dry else str(DOCS)))
    if docs:
        write_section(Path(docs), text)
        print(f"wrote the section into {docs}", file=sys.stderr)
    if args.json:
        Path(args.json).write_text(json.dumps(dict(meta=meta, device=a_rows, amp=b_rows, throughput=results,
                                                   python=platform.python_version()), indent=2, default=str))
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
