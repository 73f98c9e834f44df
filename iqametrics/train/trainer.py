"""The trainer: one loop for every task (NR, FR, 2AFC), on one process or many (torchrun).

What a run does, in order:

1. reads the training (and validation) split, fits the label transform on the training split;
2. builds the metric untrained (``pretrained=False``), starts it from ``model.init`` if given;
3. each epoch, takes the draws of :class:`~iqametrics.train.sampling.EpochPlan` in global
   batches, computes the loss under autocast, accumulates, clips, steps, updates the EMA, sets
   every group's learning rate from the schedule, and logs;
4. validates through the metric's own inference path (SRCC/PLCC, or 2AFC accuracy), keeps the
   best weights, and writes a full checkpoint (``last.pt``);
5. at the end, puts the best (or last) weights back, runs the task's end hook, and writes
   ``model.safetensors`` with ``run.json``: what ``iqa export`` publishes.

Ctrl-C (or SIGTERM) stops after the current step with a checkpoint; ``resume=True`` continues
from it exactly: on one CPU process the resumed run ends with the same weights, bit for bit, as
a run that was never interrupted (same data draws, RNG states, optimiser state and schedule).
"""
from __future__ import annotations

import json
import math
import signal
import threading
import time
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import torch
from torch import nn

from .. import distributed
from ..registry import OptionError, UnknownMetricError, check_options
from .checkpoint import load_checkpoint, rng_state, save_checkpoint, save_weights, set_rng_state
from .config import Recipe, RecipeError, recipe_changes
from .ema import EMA
from .labels import LabelTransform
from .loader import epoch_loader
from .logs import Progress, RunLog
from .objectives import get_loss
from .sampling import EpochPlan, mix_seed
from .schedule import group_schedules, learning_rate
from .tasks import task_for

__all__ = ["Trainer", "RunResult", "TrainingInterrupted", "RunDirectoryError", "DataMismatchError", "source_version",
           "check_recipe", "train_or_reuse"]


def source_version() -> str:
    """The git commit of the iqametrics source that trains (``+dirty`` with local changes), or its version."""
    import subprocess

    from .. import __version__

    root = Path(__file__).resolve().parents[2]
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                                timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return f"iqametrics {__version__}"
    return commit + ("+dirty" if dirty else "")


class TrainingInterrupted(KeyboardInterrupt):
    """The run stopped on request (Ctrl-C, SIGTERM, a callback) after saving a checkpoint."""

    def __init__(self, checkpoint: Path, epoch: int, step: int):
        super().__init__(f"interrupted at epoch {epoch + 1}, step {step}; checkpoint {checkpoint}")
        self.checkpoint, self.epoch, self.step = checkpoint, epoch, step


class RunDirectoryError(ValueError):
    """The output folder holds another run (or none to resume)."""


class DataMismatchError(ValueError):
    """The data sets do not fit the recipe's task (kind, split, size, a missing second set)."""


def training_pool(dataset, split: str):
    """The records a recipe trains (and cross-validates) on: ``split`` of ``dataset``, or all of it for ``"all"``."""
    return dataset if split == "all" else _split(dataset, split)


def fold_split(dataset, folds: int, fold: int, seed: int = 0):
    """(training, validation) sets of fold ``fold`` of ``folds`` (:func:`~iqametrics.train.data.splits.kfold`:
    stable per file; FR and 2AFC records grouped by content, so no content is on both sides)."""
    from .data.splits import kfold, split_groups

    groups = split_groups(dataset.records, dataset.kind)
    train_idx, val_idx = kfold([r.key for r in dataset.records], folds, seed, groups)[fold]
    return dataset.select(train_idx), dataset.select(val_idx)


#: a validation split of fewer items is not scored (correlations of two items say nothing)
MIN_VALIDATION_ITEMS = 3


def run_splits(recipe: Recipe, dataset):
    """(training, validation or None) sets of a run of ``recipe`` on ``dataset``: a fold of the
    training pool (``data.folds``) or the named splits, each cut to ``data.limit``."""
    data = recipe.data
    pool = training_pool(dataset, data.train_split)
    if data.folds:
        train, val = fold_split(pool, data.folds, data.fold, data.fold_seed)
    else:
        train = pool
        val = _split(dataset, data.val_split) if data.val_split else None
    if data.limit:
        train = train.select(range(min(data.limit, len(train))))
        val = val.select(range(min(data.limit, len(val)))) if val is not None else None
    if len(train) == 0:
        raise DataMismatchError(f"the {data.train_split!r} split of {dataset.name} is empty")
    return train, val


def _split(dataset, name: str):
    try:
        return dataset.subset(name)
    except KeyError as exc:  # the message lists the data set's splits
        raise DataMismatchError(exc.args[0]) from None


@dataclass
class RunResult:
    out_dir: Path
    model_path: Path
    epochs: int
    steps: int
    best: Dict[str, Any] = field(default_factory=dict)
    final: Dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


_RESUMABLE_CHANGES = ("train.epochs", "train.max_steps", "train.workers", "train.log_every", "train.val_every")


class Trainer:
    """Train ``recipe`` on ``dataset`` (a LabelledSet) into ``out_dir``.

    Args:
        device: ``auto`` / ``cpu`` / ``cuda`` / ``cuda:N`` (under torchrun each process takes its
            local rank's GPU).
        resume: continue the run in ``out_dir`` from its ``last.pt``.
        overwrite: replace a run already in ``out_dir``.
        quiet: no progress line.
        step_callback: ``f(trainer, global_step) -> bool`` called after every optimiser step;
            returning True stops the run as Ctrl-C would (tests use it to interrupt exactly).
    """

    def __init__(self, recipe: Recipe, dataset, out_dir, *, joint_dataset=None, device: str = "auto", resume: bool = False,
                 overwrite: bool = False, quiet: bool = False,
                 step_callback: Optional[Callable[["Trainer", int], bool]] = None):
        self.recipe = recipe.validate()
        if self.recipe.train.soup_seeds:
            raise RecipeError(f"recipe {recipe.name!r} is a soup of {len(recipe.train.soup_seeds)} runs "
                              "(train.soup_seeds): train it with iqametrics.train.train (iqa train), not one Trainer")
        self.task, self.loss_fn = check_recipe(self.recipe)
        self.dataset = dataset
        self.joint_dataset = joint_dataset
        self.out_dir = Path(out_dir)
        self.resume = resume
        self.overwrite = overwrite
        self.quiet = quiet
        self.step_callback = step_callback
        self.device_name = device
        self._stop_requested = False

    # ------------------------------------------------------------------ setup
    def _check_out_dir(self, ctx) -> Optional[Path]:
        last = self.out_dir / "last.pt"
        if self.resume:
            if not last.is_file():
                raise RunDirectoryError(f"nothing to resume: {last} does not exist")
            return last
        if (self.out_dir / "last.pt").exists() or (self.out_dir / "model.safetensors").exists():
            if not self.overwrite:
                raise RunDirectoryError(f"{self.out_dir} already holds a run: resume it (--resume) or --overwrite it")
            if ctx.is_main:
                for name in ("last.pt", "best.safetensors", "model.safetensors", "log.jsonl", "epochs.csv", "run.json"):
                    (self.out_dir / name).unlink(missing_ok=True)
        return None

    def _joint_split(self):
        """The second data set's training split, for tasks that learn from two at once (TFIQA's UNI)."""
        kind = getattr(self.task, "joint_kind", None)
        if kind is None:
            if self.joint_dataset is not None:
                raise DataMismatchError(f"task {self.recipe.model.task!r} trains on one data set; got a second one")
            return None
        if self.joint_dataset is None:
            raise DataMismatchError(f"task {self.recipe.model.task!r} trains on two data sets: give a second --data ({kind})")
        if self.joint_dataset.kind != kind:
            raise DataMismatchError(f"the second data set must be {kind}, {self.joint_dataset.name} is {self.joint_dataset.kind}")
        joint = _split(self.joint_dataset, self.recipe.data.joint_train_split)
        if self.recipe.data.limit:
            joint = joint.select(range(min(self.recipe.data.limit, len(joint))))
        return joint

    def _splits(self):
        if self.dataset.kind != self.task.kind:
            raise DataMismatchError(f"task {self.recipe.model.task!r} trains {self.task.kind} models, the data set is {self.dataset.kind}")
        return run_splits(self.recipe, self.dataset)

    def _to_device(self, batch: Dict[str, Any], device: torch.device) -> Dict[str, Any]:
        """The task's batch on ``device``; with ``train.channels_last`` its images in the network's memory format."""
        batch = self.task.to_device(batch, device)
        if self.recipe.train.channels_last:
            batch = {k: v.contiguous(memory_format=torch.channels_last) if isinstance(v, torch.Tensor) and v.ndim == 4
                     else v for k, v in batch.items()}
        return batch

    def _optimizer(self, groups: Dict[str, List[nn.Parameter]]):
        o = self.recipe.optim
        unknown = set(o.group_lr) - set(groups)
        if unknown:
            raise RecipeError(f"optim.group_lr names groups the task does not have: {sorted(unknown)}; groups: {sorted(groups)}")
        params = [{"params": ps, "lr": o.group_lr.get(name, o.lr), "name": name} for name, ps in groups.items() if ps]
        if o.name == "adam":  # L2 penalty in the gradient, as the HyperIQA/PyramidIQA codes use
            return torch.optim.Adam(params, betas=tuple(o.betas), weight_decay=o.weight_decay)
        if o.name == "adamw":
            return torch.optim.AdamW(params, betas=tuple(o.betas), weight_decay=o.weight_decay)
        return torch.optim.SGD(params, momentum=o.momentum, weight_decay=o.weight_decay)

    @contextmanager
    def _signals(self):
        """First Ctrl-C/SIGTERM: stop after the current step with a checkpoint; second: abort."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def handler(signum, frame):
            if self._stop_requested:
                raise KeyboardInterrupt
            self._stop_requested = True
            self.progress.message("stopping after this step (a checkpoint is saved); press Ctrl-C again to abort")

        previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for s, h in previous.items():
                signal.signal(s, h)

    # ------------------------------------------------------------------ run
    def fit(self) -> RunResult:
        start_time = time.monotonic()
        ctx = distributed.init(self.device_name)
        self.ctx = ctx
        try:
            return self._fit(ctx, start_time)
        finally:
            distributed.shutdown(ctx)

    def _fit(self, ctx, start_time: float) -> RunResult:
        r = self.recipe
        t = r.train
        resume_from = self._check_out_dir(ctx)
        train_set, val_set = self._splits()
        joint_set = self._joint_split()
        too_few = val_set is not None and len(val_set) < MIN_VALIDATION_ITEMS
        if too_few:  # correlations of two items say nothing: train without selection, keep the last epoch
            val_set = None
        torch.manual_seed(mix_seed(t.seed, ctx.rank))

        state = load_checkpoint(resume_from) if resume_from else None
        if state is not None:
            self._check_same_recipe(json.loads(state["recipe"]))
            self.task.labels = LabelTransform.from_dict(json.loads(state["labels"]))
        else:
            self.task.fit_labels(train_set)
        try:
            metric = self.task.build_metric().to(ctx.device)
        except (UnknownMetricError, OptionError) as exc:  # a name or a value of the recipe's model section
            raise RecipeError(f"model: {exc}") from None
        metric.requires_grad_(True)
        self.task.freeze(metric)
        if t.channels_last:
            metric.to(memory_format=torch.channels_last)
        module = self.task.trained_module(metric)
        groups = self.task.param_groups(metric)
        schedules = group_schedules(r.schedule, groups)
        optimizer = self._optimizer(groups)
        if ctx.is_main:  # after the model and its weights, whose errors should leave no empty folder behind
            self.out_dir.mkdir(parents=True, exist_ok=True)
        net: nn.Module = self.task.network(metric)
        if ctx.distributed:
            net = nn.parallel.DistributedDataParallel(net, device_ids=[ctx.device.index] if ctx.device.type == "cuda" else None)
        amp_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(t.amp)
        scaler = torch.amp.GradScaler(ctx.device.type, enabled=amp_dtype is torch.float16)
        ema = EMA(module, t.ema_decay) if t.ema_decay else None
        loss_fn = self.loss_fn

        epoch, step_in_epoch, global_step = 0, 0, 0
        best: Dict[str, Any] = {}
        if state is not None:
            module.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            scaler.load_state_dict(state["scaler"])
            if ema is not None:
                ema.load_state_dict(state["ema"])
            epoch, step_in_epoch, global_step = state["epoch"], state["step_in_epoch"], state["global_step"]
            best = json.loads(state["best"])
            set_rng_state(state["rng"])
        else:
            self.task.on_train_start(metric, train_set, ctx)

        self.progress = Progress(ctx.is_main and not self.quiet, every=t.log_every)
        if too_few:
            self.progress.message(f"the {r.data.val_split!r} split has fewer than 3 items: no validation, the last epoch is kept")
        log = RunLog(self.out_dir, enabled=ctx.is_main)
        if ctx.is_main and state is None:
            (self.out_dir / "recipe.json").write_text(json.dumps(r.to_dict(), indent=2))
        plan_of = lambda e: EpochPlan(len(train_set), t.batch_size, t.seed, e, r.data.repeats, t.accumulate, ctx.world)  # noqa: E731
        joint_batch = r.data.joint_batch_size or t.batch_size

        def joint_plan_of(e: int, steps: int) -> EpochPlan:
            # the joint set's draws for `steps` steps of `joint_batch`, its items repeated as often as needed
            repeats = max(1, -(-steps * joint_batch // len(joint_set)))
            return EpochPlan(len(joint_set), joint_batch, mix_seed(t.seed, 1), e, repeats, t.accumulate, ctx.world)

        steps_per_epoch = plan_of(0).steps
        if steps_per_epoch == 0:
            raise DataMismatchError(
                f"the training split has {len(train_set)} items × {r.data.repeats} draws, fewer than one batch of {t.batch_size}"
            )
        total_steps = steps_per_epoch * t.epochs
        if t.max_steps:
            total_steps = min(total_steps, t.max_steps)
        saved_rng = rng_state()

        def checkpoint(e: int, s: int, gs: int, rng) -> None:
            if ctx.is_main:
                save_checkpoint(self.out_dir / "last.pt", {
                    "model": module.state_dict(), "optimizer": optimizer.state_dict(), "scaler": scaler.state_dict(),
                    "ema": ema.state_dict() if ema is not None else {}, "epoch": e, "step_in_epoch": s,
                    "global_step": gs, "rng": rng, "best": json.dumps(best), "recipe": r.to_json(),
                    "labels": json.dumps(self.task.labels.to_dict()),
                })
            ctx.barrier()

        with self._signals():
            while epoch < t.epochs and global_step < total_steps:
                plan = plan_of(epoch)
                if r.optim.reset_each_epoch and step_in_epoch == 0:
                    optimizer = self._optimizer(groups)
                loader = epoch_loader(train_set.records, self.task, plan, rank=ctx.rank, start_step=step_in_epoch,
                                      workers=t.workers, pin_memory=ctx.device.type == "cuda")
                batches = iter(loader)
                joint_batches = None
                if joint_set is not None:
                    joint_loader = epoch_loader(joint_set.records, self.task, joint_plan_of(epoch, plan.steps), rank=ctx.rank,
                                                start_step=step_in_epoch, workers=t.workers,
                                                pin_memory=ctx.device.type == "cuda")
                    joint_batches = iter(joint_loader)
                self.task.train_mode(metric)
                losses: List[float] = []
                for step in range(step_in_epoch, plan.steps):
                    for group in optimizer.param_groups:
                        group["lr"] = learning_rate(group.setdefault("initial_lr", group["lr"]), schedules[group["name"]],
                                                    step=global_step, epoch=epoch, total_steps=total_steps,
                                                    total_epochs=t.epochs)
                    step_loss = 0.0
                    for micro in range(t.accumulate):
                        batch = self._to_device(next(batches), ctx.device)
                        if joint_batches is not None:  # one batch of each data set per step (TFIQA's UNI)
                            batch = {"primary": batch, "joint": self._to_device(next(joint_batches), ctx.device)}
                        sync = micro == t.accumulate - 1 or not ctx.distributed
                        with (nullcontext() if sync else net.no_sync()):
                            with (torch.autocast(ctx.device.type, dtype=amp_dtype) if amp_dtype else nullcontext()):
                                loss = self.task.loss(net, batch, loss_fn) / t.accumulate
                            scaler.scale(loss).backward()
                        step_loss += float(loss.detach())
                    if t.clip_grad_norm:
                        scaler.unscale_(optimizer)
                        torch.nn.utils.clip_grad_norm_([p for ps in groups.values() for p in ps], t.clip_grad_norm)
                    scaler.step(optimizer)
                    scaler.update()
                    optimizer.zero_grad(set_to_none=True)
                    self.task.after_step(metric)
                    if ema is not None:
                        ema.update(module)
                    global_step += 1
                    step_in_epoch = step + 1
                    saved_rng = rng_state()
                    losses.append(step_loss)
                    if not math.isfinite(step_loss):
                        raise FloatingPointError(f"the training loss is {step_loss} at epoch {epoch + 1}, step {step_in_epoch}")
                    self.progress.update(epoch, t.epochs, step_in_epoch, plan.steps, step_loss)
                    if global_step % t.log_every == 0:
                        log.step(global_step, loss=step_loss, lr=optimizer.param_groups[0]["lr"], epoch=epoch)
                    stop = self._stop_requested or bool(self.step_callback and self.step_callback(self, global_step))
                    if ctx.any(stop):
                        del batches, loader, joint_batches  # workers end before the checkpoint is written
                        checkpoint(epoch, step_in_epoch, global_step, saved_rng)
                        log.close()
                        raise TrainingInterrupted(self.out_dir / "last.pt", epoch, step_in_epoch)
                    if global_step >= total_steps:
                        break
                del batches, loader, joint_batches
                finished_epoch = step_in_epoch == plan.steps
                row: Dict[str, Any] = {"train_loss": sum(losses) / max(len(losses), 1)}
                last = global_step >= total_steps or (finished_epoch and epoch + 1 == t.epochs)
                if val_set is not None and ((epoch + 1) % t.val_every == 0 or last):
                    scores = self._validate(metric, module, ema, val_set)
                    row.update({f"val_{k}": v for k, v in scores.items()})
                    if self._better(scores, best):
                        best = {"epoch": epoch + 1, "step": global_step, **scores}
                        if ctx.is_main:
                            save_weights(self.out_dir / "best.safetensors", ema.state_dict() if ema else module.state_dict(),
                                         self._metadata(best))
                log.epoch(epoch + 1, global_step, **row)
                if finished_epoch:
                    epoch, step_in_epoch = epoch + 1, 0
                checkpoint(epoch, step_in_epoch, global_step, rng_state())
        log.close()
        self.progress.message(f"trained {global_step} steps in {time.monotonic() - start_time:.0f} s")
        return self._finish(metric, module, ema, train_set, val_set, best, epoch, global_step, start_time)

    # ------------------------------------------------------------------ validation and the end
    def _check_same_recipe(self, saved: Dict[str, Any]) -> None:
        changed = [c for c in recipe_changes(saved, self.recipe) if c not in _RESUMABLE_CHANGES]
        if changed:
            raise RunDirectoryError(f"cannot resume: the recipe differs from the checkpoint's in {changed}")

    def _better(self, scores: Dict[str, float], best: Dict[str, Any]) -> bool:
        key = self.recipe.train.select
        if key == "last":
            return True
        if key not in scores or not math.isfinite(scores[key]):
            return not best
        if key not in best:
            return True
        return scores[key] < best[key] if key == "loss" else scores[key] > best[key]

    def _validate(self, metric, module, ema: Optional[EMA], val_set) -> Dict[str, float]:
        """Scores of the validation split through the metric's inference path (main process only)."""
        scores: Dict[str, float] = {}
        if self.ctx.is_main:
            live = None
            if ema is not None:  # evaluate the averaged weights, then put the live ones back
                live = {k: v.detach().clone() for k, v in module.state_dict().items()}
                module.load_state_dict(ema.state_dict())
            metric.eval()
            try:
                from .validation import validation_scores

                scores = validation_scores(self.task.validation_metric(metric), val_set, self.task.labels,
                                           batch_size=self.recipe.train.batch_size)
            finally:
                if live is not None:
                    module.load_state_dict(live)
                self.task.train_mode(metric)
        self.ctx.barrier()
        return scores

    def _metadata(self, scores: Dict[str, Any]) -> Dict[str, str]:
        return {
            "recipe": self.recipe.to_json(),
            "labels": json.dumps(self.task.labels.to_dict()),
            "metric": self.recipe.model.metric,
            "metric_options": json.dumps(self.recipe.model.options, sort_keys=True),
            "validation": json.dumps(scores),
            "dataset": self.dataset.name,
        }

    def _finish(self, metric, module, ema, train_set, val_set, best, epochs, steps, start_time) -> RunResult:
        ctx = self.ctx
        best_path = self.out_dir / "best.safetensors"
        if best and best_path.is_file():
            from safetensors.torch import load_file

            module.load_state_dict(load_file(str(best_path)))
        elif ema is not None:
            module.load_state_dict(ema.state_dict())
        metric.eval()
        self.task.on_train_end(metric, train_set, ctx)
        if best and best.get("step") == steps:  # the weights just validated: the same scores, no second pass
            final = {k: v for k, v in best.items() if k not in ("epoch", "step")}
        else:
            final = self._validate(metric, module, None, val_set) if val_set is not None else {}
        seconds = time.monotonic() - start_time
        model_path = self.out_dir / "model.safetensors"
        if ctx.is_main:
            save_weights(model_path, module.state_dict(), self._metadata(final))
            summary = {
                "recipe": self.recipe.name, "metric": self.recipe.model.metric, "dataset": self.dataset.name,
                "train_items": len(train_set), "val_items": len(val_set) if val_set is not None else 0,
                "epochs": epochs, "steps": steps, "best": best, "final": final, "seconds": round(seconds, 1),
                "processes": ctx.world, "device": str(ctx.device), "labels": self.task.labels.to_dict(),
                "dataset_licence": getattr(self.dataset, "licence", ""), "commit": source_version(),
            }
            (self.out_dir / "run.json").write_text(json.dumps(summary, indent=2))
        ctx.barrier()
        return RunResult(self.out_dir, model_path, epochs, steps, best, final, seconds)


def resolve_data(spec: str, recipe: Recipe, *, joint: bool = False):
    """Read the data set of ``--data [LAYOUT:]ROOT``: the recipe's layout and options (its joint
    ones for the second data set), or another layout named before the colon (then the recipe's
    layout options do not apply)."""
    from .data import list_layouts, read_dataset

    d = recipe.data
    own_layout, own_options = (d.joint_layout, d.joint_options) if joint else (d.layout, d.options)
    layout, sep, root = spec.partition(":")
    if sep and layout in list_layouts():
        return read_dataset(layout, root, **(own_options if layout == own_layout else {}))
    if not own_layout:
        raise DataMismatchError(f"the recipe names no layout for {spec!r}: write it as LAYOUT:ROOT")
    return read_dataset(own_layout, spec, **own_options)


def train(recipe, data, out_dir, *, overrides=(), **trainer_options) -> RunResult:
    """``iqa train``: load ``recipe`` (a packaged name, a .toml path or a :class:`Recipe`), apply
    ``section.key=value`` overrides, read ``data`` (``[LAYOUT:]ROOT``; a second one, as a list of
    two, for tasks that learn from two data sets) and train into ``out_dir``."""
    from .config import apply_overrides
    from .recipes import load_recipe

    recipe = recipe if isinstance(recipe, Recipe) else load_recipe(recipe)
    recipe = apply_overrides(recipe, overrides)
    specs = [data] if isinstance(data, (str, Path)) else list(data)
    if not 1 <= len(specs) <= 2:
        raise DataMismatchError(f"give one data set, or two for a joint task; got {len(specs)}")
    joint = resolve_data(str(specs[1]), recipe, joint=True) if len(specs) == 2 else None
    dataset = resolve_data(str(specs[0]), recipe)
    if recipe.train.soup_seeds:
        from .soup import train_soup

        return train_soup(recipe, dataset, out_dir, joint_dataset=joint, **trainer_options)
    return Trainer(recipe, dataset, out_dir, joint_dataset=joint, **trainer_options).fit()


#: recipe values that change how a run goes, never its result
_INCIDENTAL = ("train.workers", "train.log_every")


def _changes_from_saved(run_dir: Path, recipe: Recipe) -> Optional[List[str]]:
    """What differs between ``recipe`` and the one ``run_dir`` was trained with (None: none saved)."""
    saved = run_dir / "recipe.json"
    if not saved.is_file():
        return None
    return [c for c in recipe_changes(json.loads(saved.read_text()), recipe) if c not in _INCIDENTAL]


def check_recipe(recipe: Recipe):
    """``recipe``'s task and loss, built, and its metric's options checked: an unknown task or loss,
    or an option any of them does not take, is a :class:`RecipeError` here, before any folder, data
    or weights are touched."""
    task, loss = task_for(recipe), get_loss(recipe.loss.name, recipe.loss.options)
    try:
        check_options(recipe.model.metric, recipe.model.options)
    except UnknownMetricError:
        pass  # not registered: a user's task may build its own metric (if not, building says so)
    except OptionError as exc:
        raise RecipeError(f"model.options: {exc}") from None
    return task, loss


def _finished(run_dir: Path) -> bool:
    return (run_dir / "run.json").is_file() and (run_dir / "model.safetensors").is_file()


def train_or_reuse(recipe: Recipe, dataset, run_dir, *, device: str = "auto", overwrite: bool = False,
                   quiet: bool = False, echo: Optional[Callable[[str], None]] = None, **trainer_options) -> Dict[str, Any]:
    """Train ``recipe`` into ``run_dir``, or reuse the run already there (same recipe, finished), or
    resume it (interrupted); returns its ``run.json``.  A soup recipe trains its members the same way."""
    run_dir = Path(run_dir)
    echo = echo or (lambda text: None)
    if not overwrite and _finished(run_dir):
        run = json.loads((run_dir / "run.json").read_text())
        changes = _changes_from_saved(run_dir, recipe)
        if changes == []:
            echo(f"{run_dir.name}: trained already, reused")
            return run
        # A soup is the average of its members: when only its seeds changed, the members it has are
        # reused and the average is taken again (a single run stays refused: it is not a soup's member).
        if not (recipe.train.soup_seeds and changes == ["train.soup_seeds"] and "soup" in run):
            raise RunDirectoryError(f"{run_dir} holds a run of another recipe: --overwrite it or choose another --out")
    if recipe.train.soup_seeds:
        from .soup import train_soup

        echo(f"{run_dir.name}: a soup of seeds {', '.join(map(str, recipe.train.soup_seeds))}")
        train_soup(recipe, dataset, run_dir, device=device, resume=not overwrite, overwrite=overwrite, quiet=quiet,
                   echo=echo, **trainer_options)
    else:
        resume = not overwrite and (run_dir / "last.pt").is_file()
        echo(f"{run_dir.name}: {'resuming' if resume else 'training'}")
        Trainer(recipe, dataset, run_dir, device=device, resume=resume, overwrite=overwrite, quiet=quiet,
                **trainer_options).fit()
    return json.loads((run_dir / "run.json").read_text())
