"""Training targets: the label transforms of the papers (raw, unit, distortion, equalised distortion)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from iqametrics.train.data.records import ImageRecord, LabelledSet
from iqametrics.train.labels import LabelTransform


def _set(values, higher_is_better=True, score_range=(1.0, 5.0)):
    records = tuple(ImageRecord(f"{i}.png", Path(f"{i}.png"), float(v)) for i, v in enumerate(values))
    return LabelledSet("t", "NR", records, {"train": tuple(range(len(records)))}, higher_is_better, score_range, Path("."))


def test_unit_and_distortion_follow_the_range_and_direction():
    mos = _set([1.0, 2.0, 5.0])
    unit = LabelTransform.fit("unit", mos)
    assert [unit(v) for v in (1.0, 3.0, 5.0)] == [0.0, 0.5, 1.0]
    distortion = LabelTransform.fit("distortion", mos)  # MOS: reversed, 0 = pristine
    assert [distortion(v) for v in (1.0, 5.0)] == [1.0, 0.0] and not distortion.higher_is_better_output
    dmos = LabelTransform.fit("distortion", _set([0.0, 50.0, 100.0], higher_is_better=False, score_range=(0, 100)))
    assert dmos(25.0) == 0.25
    assert LabelTransform.fit("raw", mos)(3.3) == 3.3 and LabelTransform.fit("raw", mos).higher_is_better_output


def test_equalised_distortion_is_monotone_spread_and_saved_exactly():
    rng = np.random.default_rng(0)
    values = np.clip(rng.normal(4.0, 0.5, 400), 1, 5)  # bunched near the top, like KADID's pristine-heavy MOS
    t = LabelTransform.fit("equalised_distortion", _set(values))
    targets = np.array([t(v) for v in np.sort(values)])
    assert np.all(np.diff(targets) <= 1e-12)  # higher MOS, lower distortion target
    # equalised: the targets spread over [0, 1] far more evenly than the plain distortion
    plain = np.array([LabelTransform.fit("distortion", _set(values))(v) for v in values])
    assert np.histogram(targets, bins=4, range=(0, 1))[0].min() > np.histogram(plain, bins=4, range=(0, 1))[0].min()
    assert LabelTransform.from_dict(t.to_dict()) == t
    with pytest.raises(ValueError, match="at least 5"):
        LabelTransform.fit("equalised_distortion", _set([1.0, 2.0]))
    with pytest.raises(ValueError, match="labels must be one of"):
        LabelTransform.fit("zscore", _set([1.0, 2.0]))
