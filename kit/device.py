"""The one place that turns a device setting (`auto`, `cpu`, `cuda`, `cuda:N`) into a torch device.

Training, prediction and the learned drift tracker all call `resolve_device`, so every command
picks CUDA when it is there, runs on the CPU otherwise, and refuses an absent GPU the same way.
"""

from __future__ import annotations

import torch

from kit.errors import KitError

#: Device settings every command accepts (`cuda:N` picks one GPU of several).
DEVICE_CHOICES = ("auto", "cpu", "cuda")


def resolve_device(name: str | torch.device | None, setting: str = "device") -> torch.device:
    """The torch device for a device setting.

    Parameters
    ----------
    name : str, torch.device or None
        ``auto`` or None (CUDA when available, else the CPU), ``cpu``, ``cuda`` or ``cuda:N``;
        a ``torch.device`` is returned as it is.
    setting : str
        How the setting is named in errors (``--device``, ``train.device``).

    Returns
    -------
    torch.device

    Raises
    ------
    KitError
        If the name is none of the above, or CUDA is asked for and absent.

    Examples
    --------
    >>> resolve_device("cpu")
    device(type='cpu')
    >>> resolve_device("tpu")
    Traceback (most recent call last):
    ...
    kit.errors.KitError: device 'tpu': allowed auto, cpu, cuda, cuda:N
    """
    if isinstance(name, torch.device):
        return name
    if name in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    kind, colon, index = str(name).partition(":")
    canonical_index = index.isdigit() and str(int(index)) == index  # torch refuses 'cuda:01'
    if kind not in ("cpu", "cuda") or (colon and (kind == "cpu" or not canonical_index)):
        raise KitError(f"{setting} {name!r}: allowed {', '.join(DEVICE_CHOICES)}, cuda:N")
    if kind == "cuda" and not torch.cuda.is_available():
        raise KitError(f"{setting} {name}: no CUDA device is available")
    if index and int(index) >= torch.cuda.device_count():
        raise KitError(
            f"{setting} {name}: only {torch.cuda.device_count()} CUDA device(s) are available"
        )
    return torch.device(name)


def amp_dtype(device: torch.device) -> torch.dtype | None:
    """The mixed-precision type for training on `device`; None where there is none (the CPU).

    bfloat16 on GPUs that compute in it natively (compute capability 8 and later: A100, H100;
    float32's range, so no loss scaling), float16 with a `torch.amp.GradScaler` on older GPUs
    (where bfloat16 would only be emulated).

    Parameters
    ----------
    device : torch.device
        Where the model trains.

    Returns
    -------
    torch.dtype or None
        ``torch.bfloat16``, ``torch.float16``, or None on the CPU (training stays float32).

    Examples
    --------
    >>> amp_dtype(torch.device("cpu")) is None
    True
    """
    if device.type != "cuda":
        return None
    major, _ = torch.cuda.get_device_capability(device)
    return torch.bfloat16 if major >= 8 else torch.float16
