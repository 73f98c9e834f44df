"""``python -m iqametrics.train.distortions OUT REFERENCES...``: write a folder of synthetic FR pairs."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from .pairs import LABELS, make_pairs, write_pairs
from .table import DISTORTIONS, LEVELS


def _csv_list(value):
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


def _print_table() -> None:
    click.echo(f"{'no':>2}  {'name':28} {'official':22} {'parameter':38} levels 1..5")
    for d in DISTORTIONS:
        levels = ", ".join(f"{v:g}" for v in d.levels)
        click.echo(f"{d.number:>2}  {d.name:28} {d.function:22} {d.parameter:38} {levels}")


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("out", type=click.Path(file_okay=False, path_type=Path), required=False)
@click.argument("references", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--kinds", help="Distortion numbers or names, comma-separated (default: all 25).")
@click.option("--levels", default=",".join(map(str, LEVELS)), show_default=True, help="Levels, comma-separated.")
@click.option("--per-image", type=click.IntRange(min=1), help="Types per reference, drawn at random (KADIS-700k: 1). Default: all.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--max-side", type=int, default=512, show_default=True, help="Shrink references to this longer side (0: keep).")
@click.option("--label", type=click.Choice(LABELS), default="vsi", show_default=True, help="What the mos column holds.")
@click.option("--official-range", is_flag=True, help="Stretch every output to [0, 1] as the MATLAB generator does.")
@click.option("--list", "list_types", is_flag=True, help="Print the 25 types and their levels, and exit.")
def main(out, references, kinds, levels, per_image, seed, max_side, label, official_range, list_types):
    """Distort the photos REFERENCES (files or folders) with KADID-10k's distortion types and write
    the pairs under OUT (refs/, dist/ and pairs.csv with columns dist,ref,mos,kind,level)."""
    if list_types:
        _print_table()
        return
    if out is None or not references:
        raise click.UsageError("give an output folder and at least one reference photo or folder")
    from iqametrics.io import discover_images

    paths = discover_images(references)
    if not paths:
        raise click.UsageError("no image files among the references")
    # one folder given: keys are paths inside it (sub-folders allowed); otherwise file names
    root = references[0] if len(references) == 1 and references[0].is_dir() else None
    try:
        pairs = make_pairs(
            paths,
            kinds=_csv_list(kinds),
            levels=[int(v) for v in _csv_list(levels) or []],
            seed=seed,
            per_image=per_image,
            max_side=max_side or None,
            root=root,
            keep_range=not official_range,
        )
        count = 0

        def counted(items):
            nonlocal count
            for item in items:
                count += 1
                yield item

        csv_path = write_pairs(counted(pairs), out, label=label)
    except ValueError as err:
        raise click.UsageError(str(err)) from None
    click.echo(f"{count} pairs from {len(paths)} references: {csv_path}")


if __name__ == "__main__":
    sys.exit(main())
