"""Which device a metric or a training run may use: one check for ``create(device=...)``, the CLI's
``--device`` and the torchrun context (:func:`iqametrics.distributed.init`).

A device that this machine does not have (``cuda`` without CUDA, ``cuda:3`` on a two-GPU machine)
or a name torch does not know (``gpu``) is refused before anything is built or downloaded, with one
line naming the problem and the devices that are available.
"""
from __future__ import annotations

from typing import List, Union

import torch

__all__ = ["DeviceError", "resolve_device", "available_devices"]


class DeviceError(ValueError):
    """A device that is unknown to torch or absent from this machine."""


def available_devices() -> List[str]:
    """The devices of this machine, as ``--device`` takes them: ``cpu``, ``cuda:N``, ``mps``, ``xpu:N``."""
    found = ["cpu"] + [f"cuda:{i}" for i in range(_count("cuda"))]
    found += ["mps"] * _count("mps")
    return found + [f"xpu:{i}" for i in range(_count("xpu"))]


def _refuse(device, problem: str) -> DeviceError:
    return DeviceError(f"device {str(device)!r} {problem}; devices available here: "
                       f"{', '.join(available_devices())} (or auto)")


def _count(kind: str) -> int:
    """How many devices of ``kind`` this machine has (0 when the backend is absent), or -1 if unknown."""
    if kind == "cuda":
        return torch.cuda.device_count() if torch.cuda.is_available() else 0
    if kind == "mps":
        mps = getattr(torch.backends, "mps", None)
        return 1 if mps is not None and mps.is_available() else 0
    if kind == "xpu":
        xpu = getattr(torch, "xpu", None)
        return xpu.device_count() if xpu is not None and xpu.is_available() else 0
    return -1


def resolve_device(device: Union[str, torch.device] = "auto") -> torch.device:
    """The :class:`torch.device` that ``device`` names, checked against this machine.

    ``"auto"`` is CUDA when available, else the CPU.  ``"cpu"`` (and ``"meta"``) always exist;
    ``cuda``, ``cuda:N``, ``mps`` and ``xpu[:N]`` must exist here.  Other device types torch knows
    are passed through unchecked.  Raises :class:`DeviceError` (a ``ValueError``) naming the
    problem and the devices available.
    """
    if isinstance(device, str) and device.strip().lower() == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = device if isinstance(device, torch.device) else torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise _refuse(device, "is not a device name torch knows") from None
    count = _count(dev.type)
    if count == 0:
        why = {"cuda": "this machine has no CUDA device (or this PyTorch was built without CUDA)",
               "mps": "this machine has no Apple MPS device",
               "xpu": "this machine has no Intel XPU device"}[dev.type]
        raise _refuse(device, f"is not available: {why}")
    if count > 0 and dev.index is not None and dev.index >= count:
        raise _refuse(device, f"is not available: this machine has {count} {dev.type.upper()} device(s)")
    return dev
