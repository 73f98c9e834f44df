"""Per-size constant caches (filter banks, windows) stay under one byte budget, least recently used evicted."""
from __future__ import annotations

import weakref

import pytest
import torch

from iqametrics.functional import _cache
from iqametrics.functional._cache import cached_constants, set_constant_cache_budget
from iqametrics.functional.mad import _log_gabor_bank
from iqametrics.nn.patch_sampling import _center_bias

BANK_BYTES_64 = 20 * 64 * 64 * 8  # one float64 log-Gabor bank of a 64×64 image


@pytest.fixture
def budget():
    """A small budget for the test; the process default and an empty cache afterwards."""
    saved = _cache.constant_cache_budget()
    _cache.clear_constant_cache()

    def set_(n):
        set_constant_cache_budget(n)
        return n

    yield set_
    _cache.clear_constant_cache()
    set_constant_cache_budget(saved)


def _alive_bytes(refs) -> int:
    """Bytes of the returned tensors that something (the cache) still holds (freed by reference counting)."""
    return sum(t.untyped_storage().nbytes() for t in (r() for r in refs) if t is not None)


def test_mad_banks_stay_under_the_budget(budget):
    limit = budget(int(2.5 * BANK_BYTES_64))
    refs = []
    for h, w in [(64, 64), (64, 72), (72, 64), (80, 64), (64, 88), (96, 64)]:  # each bank ≥ BANK_BYTES_64
        refs.append(weakref.ref(_log_gabor_bank(h, w, torch.device("cpu"), torch.float64)))
        assert _alive_bytes(refs) <= limit
    assert _alive_bytes(refs) > 0  # the cache still serves the latest sizes
    assert _cache.constant_cache_bytes() <= limit


def test_least_recently_used_is_evicted_first(budget):
    budget(int(2.5 * BANK_BYTES_64))
    cpu, f64 = torch.device("cpu"), torch.float64
    first = weakref.ref(_log_gabor_bank(64, 64, cpu, f64))
    second = weakref.ref(_log_gabor_bank(64, 63, cpu, f64))
    assert _log_gabor_bank(64, 64, cpu, f64) is first()  # a hit: (64, 64) is now the most recent
    _log_gabor_bank(63, 64, cpu, f64)  # over the budget: (64, 63) goes
    assert first() is not None and second() is None


def test_value_larger_than_the_budget_is_not_kept(budget):
    budget(BANK_BYTES_64 // 2)
    bank = _log_gabor_bank(64, 64, torch.device("cpu"), torch.float64)
    ref = weakref.ref(bank)
    torch.testing.assert_close(bank, _log_gabor_bank(64, 64, torch.device("cpu"), torch.float64), rtol=0, atol=0)
    del bank
    assert ref() is None and _cache.constant_cache_bytes() == 0


def test_caches_share_one_budget(budget):
    """VTAMIQ's centre-bias maps and MAD's banks are charged to the same budget."""
    limit = budget(int(1.5 * BANK_BYTES_64))
    refs = [weakref.ref(_log_gabor_bank(64, 64, torch.device("cpu"), torch.float64))]
    for side in range(200, 260, 10):  # float64 maps of (side - 15)² pixels, ~0.3-0.5 MB each
        refs.append(weakref.ref(_center_bias(side, side, 0.25)))
        assert _alive_bytes(refs) <= limit


def test_per_function_count_limit_still_applies(budget):
    budget(1 << 30)
    calls = []

    @cached_constants(maxsize=2)
    def ramp(n):
        calls.append(n)
        return torch.arange(n)

    for n in (1, 2, 3, 1):
        ramp(n)
    assert calls == [1, 2, 3, 1]  # 1 was evicted when 3 came in
    ramp(3)
    assert calls == [1, 2, 3, 1]


def test_built_outside_inference_mode(budget):
    budget(1 << 20)

    @cached_constants()
    def ones(n):
        return torch.ones(n)

    with torch.inference_mode():
        t = ones(3)
    assert not t.is_inference()


def test_budget_validation(budget, monkeypatch):
    with pytest.raises(ValueError, match="non-negative"):
        set_constant_cache_budget(-1)
    monkeypatch.setenv("IQAMETRICS_CONSTANT_CACHE_BYTES", "lots")
    with pytest.raises(ValueError, match="IQAMETRICS_CONSTANT_CACHE_BYTES"):
        _cache._budget_from_env()
    monkeypatch.setenv("IQAMETRICS_CONSTANT_CACHE_BYTES", "1e6")
    assert _cache._budget_from_env() == 1_000_000
