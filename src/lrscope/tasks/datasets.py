"""The data of the built-in tasks, as preprocessed in-memory tensors.

Nothing here touches the network:

- MNIST-1D is generated locally by the ``mnist1d`` package
  (``make_dataset`` with its default arguments: 4,000 train and 1,000 test
  sequences of length 40, seed 42). The arrays are kept per process and cached
  on disk (``$LRSCOPE_CACHE_DIR``, else ``$XDG_CACHE_HOME/lrscope``, else
  ``~/.cache/lrscope``) under a name derived from the ``mnist1d`` version.
- scikit-learn's 8x8 digits ship with scikit-learn (``load_digits``).
- CIFAR-10 and MNIST are read from their standard distribution formats under a
  data directory (``data_dir`` argument, else ``$LRSCOPE_DATA_DIR``); a missing
  or malformed file raises :class:`~lrscope.errors.DataError` that names the
  file and the expected layout.

Every loader returns :class:`Split`: float32 inputs, int64 labels.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import importlib.metadata
import os
import pickle
import random
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lrscope.errors import DataError

__all__ = [
    "CIFAR10_LAYOUT",
    "MNIST_LAYOUT",
    "Split",
    "cache_dir",
    "load_cifar10",
    "load_digits_split",
    "load_mnist",
    "load_mnist1d",
    "resolve_data_dir",
]

# Per-channel statistics of the CIFAR-10 training set (pixel values in [0, 1]).
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)
# Statistics of the MNIST training set (pixel values in [0, 1]).
MNIST_MEAN = 0.1307
MNIST_STD = 0.3081

CIFAR10_LAYOUT = (
    "the CIFAR-10 python version: a directory 'cifar-10-batches-py' (or the data "
    "directory itself) holding the pickles data_batch_1 .. data_batch_5 and test_batch, "
    "each a dict with b'data' (uint8 array of shape (N, 3072), rows of 1024 red, "
    "1024 green, 1024 blue values) and b'labels' (N ints in 0..9)"
)
MNIST_LAYOUT = (
    "the MNIST IDX files train-images-idx3-ubyte, train-labels-idx1-ubyte, "
    "t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte (each optionally gzipped, '.gz'), "
    "in the data directory or in its subdirectory 'mnist', 'MNIST' or 'MNIST/raw'"
)


@dataclass(frozen=True)
class Split:
    """Train and test tensors: inputs float32 ``(N, *shape)``, labels int64 ``(N,)``."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor


def resolve_data_dir(data_dir: str | os.PathLike[str] | None, dataset: str, layout: str) -> Path:
    """``data_dir`` if given, else ``$LRSCOPE_DATA_DIR``; raises DataError if neither exists."""
    chosen = data_dir if data_dir is not None else os.environ.get("LRSCOPE_DATA_DIR")
    if not chosen:
        raise DataError(
            f"{dataset} is read from disk and never downloaded: pass --data-dir "
            f"(or set LRSCOPE_DATA_DIR) to a directory holding {layout}"
        )
    path = Path(chosen).expanduser()
    if not path.is_dir():
        raise DataError(f"data directory {str(path)!r} does not exist; expected {layout}")
    return path


def cache_dir() -> Path:
    """Where generated datasets are cached on disk."""
    env = os.environ.get("LRSCOPE_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "lrscope"


# --------------------------------------------------------------------- MNIST-1D
_MNIST1D_MEMORY: dict[str, Split] = {}


def _mnist1d_generate(args: dict[str, Any]) -> dict[str, np.ndarray]:
    """Run ``mnist1d``'s generator, leaving the global numpy/random state untouched."""
    from mnist1d.data import make_dataset
    from mnist1d.utils import ObjectView

    np_state = np.random.get_state()
    py_state = random.getstate()
    try:
        data = make_dataset(ObjectView(dict(args)))
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)
    return {k: np.asarray(data[k]) for k in ("x", "y", "x_test", "y_test")}


def _mnist1d_args() -> dict[str, Any]:
    from mnist1d.data import get_dataset_args

    args: dict[str, Any] = get_dataset_args(as_dict=True)
    args.pop("url", None)  # only used for downloading, which we never do
    return args


def _mnist1d_key() -> str:
    """Cache key: the installed ``mnist1d`` version, whose default arguments we use.

    Found without importing ``mnist1d`` (it imports matplotlib and requests),
    so a cached dataset loads without either.
    """
    try:
        version = importlib.metadata.version("mnist1d")
    except importlib.metadata.PackageNotFoundError as exc:
        raise DataError(
            "the mnist1d package is not installed; it generates MNIST-1D locally "
            "(pip install 'lrscope[torch]')"
        ) from exc
    text = f"mnist1d=={version};default-args;train-split-0.8"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _write_npz_atomic(path: Path, arrays: dict[str, np.ndarray]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, **arrays)  # type: ignore[arg-type]
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_mnist1d() -> Split:
    """MNIST-1D with the package's default arguments: 4,000 train, 1,000 test, length 40.

    The generator already centres the data and scales it to unit standard
    deviation. The result is memoised per process and cached on disk.
    """
    key = _mnist1d_key()
    if key in _MNIST1D_MEMORY:
        return _MNIST1D_MEMORY[key]
    path = cache_dir() / f"mnist1d-{key}.npz"
    arrays: dict[str, np.ndarray] | None = None
    if path.is_file():
        try:
            with np.load(path, allow_pickle=False) as npz:
                arrays = {k: npz[k] for k in ("x", "y", "x_test", "y_test")}
        except (OSError, ValueError, KeyError):
            arrays = None  # a corrupt cache is regenerated
    if arrays is None:
        arrays = _mnist1d_generate(_mnist1d_args())
        # an unwritable cache only costs regeneration time
        with contextlib.suppress(OSError):
            _write_npz_atomic(path, arrays)
    split = Split(
        x_train=torch.from_numpy(arrays["x"].astype(np.float32)),
        y_train=torch.from_numpy(arrays["y"].astype(np.int64)),
        x_test=torch.from_numpy(arrays["x_test"].astype(np.float32)),
        y_test=torch.from_numpy(arrays["y_test"].astype(np.int64)),
    )
    _MNIST1D_MEMORY[key] = split
    return split


# ----------------------------------------------------------------------- digits
def load_digits_split(test_fraction: float = 0.2, random_state: int = 0) -> Split:
    """scikit-learn's 1,797 8x8 digits, a stratified 80/20 split, shape ``(1, 8, 8)``.

    Pixels (0..16) are scaled by the train set's mean and standard deviation.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    x = np.asarray(bunch.images, dtype=np.float32)
    y = np.asarray(bunch.target, dtype=np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(
        x, y, test_size=test_fraction, random_state=random_state, stratify=y
    )
    mean, std = float(x_tr.mean()), float(x_tr.std())
    return Split(
        x_train=torch.from_numpy((x_tr - mean) / std).unsqueeze(1),
        y_train=torch.from_numpy(y_tr),
        x_test=torch.from_numpy((x_te - mean) / std).unsqueeze(1),
        y_test=torch.from_numpy(y_te),
    )


# --------------------------------------------------------------------- CIFAR-10
class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles dicts, lists, bytes and numpy arrays, nothing else (no code runs)."""

    _ALLOWED = frozenset(
        {
            ("numpy.core.multiarray", "_reconstruct"),
            ("numpy._core.multiarray", "_reconstruct"),
            ("numpy", "ndarray"),
            ("numpy", "dtype"),
            ("numpy.core.multiarray", "scalar"),
            ("numpy._core.multiarray", "scalar"),
            ("_codecs", "encode"),
        }
    )

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"global {module}.{name} is not allowed")


def _read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    if not path.is_file():
        raise DataError(f"CIFAR-10 file {str(path)!r} is missing; expected {CIFAR10_LAYOUT}")
    try:
        with path.open("rb") as handle:
            batch = _ArrayUnpickler(handle, encoding="bytes").load()
        data = np.asarray(batch[b"data"])
        labels = np.asarray(batch[b"labels"], dtype=np.int64)
    except (pickle.UnpicklingError, EOFError, KeyError, TypeError, ValueError, OSError) as exc:
        raise DataError(
            f"CIFAR-10 file {str(path)!r} is malformed ({exc}); expected {CIFAR10_LAYOUT}"
        ) from exc
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise DataError(
            f"CIFAR-10 file {str(path)!r} has b'data' of dtype {data.dtype} and shape "
            f"{data.shape}; expected {CIFAR10_LAYOUT}"
        )
    bad_range = labels.size > 0 and not 0 <= labels.min() <= labels.max() < 10
    if labels.shape != (data.shape[0],) or bad_range:
        raise DataError(
            f"CIFAR-10 file {str(path)!r} has {labels.size} labels for {data.shape[0]} "
            f"images or labels outside 0..9; expected {CIFAR10_LAYOUT}"
        )
    return data, labels


def _cifar_tensor(data: np.ndarray) -> torch.Tensor:
    x = torch.from_numpy(data.reshape(-1, 3, 32, 32).astype(np.float32) / 255.0)
    mean = torch.tensor(CIFAR10_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(CIFAR10_STD).view(1, 3, 1, 1)
    return (x - mean) / std


def load_cifar10(data_dir: str | os.PathLike[str] | None) -> Split:
    """CIFAR-10 from the python pickles, normalised per channel, shape ``(3, 32, 32)``."""
    root = resolve_data_dir(data_dir, "CIFAR-10", CIFAR10_LAYOUT)
    folder = root / "cifar-10-batches-py"
    if not folder.is_dir():
        folder = root
    train = [_read_cifar_batch(folder / f"data_batch_{i}") for i in range(1, 6)]
    x_test, y_test = _read_cifar_batch(folder / "test_batch")
    return Split(
        x_train=_cifar_tensor(np.concatenate([d for d, _ in train])),
        y_train=torch.from_numpy(np.concatenate([lab for _, lab in train])),
        x_test=_cifar_tensor(x_test),
        y_test=torch.from_numpy(y_test),
    )


# ------------------------------------------------------------------------ MNIST
_IDX_DTYPES = {0x08: np.uint8}


def _find_idx(root: Path, stem: str) -> Path:
    for folder in (root, root / "mnist", root / "MNIST", root / "MNIST" / "raw"):
        for name in (stem, stem + ".gz"):
            if (folder / name).is_file():
                return folder / name
    raise DataError(
        f"MNIST file {stem!r} (or {stem}.gz) is missing under {str(root)!r}; "
        f"expected {MNIST_LAYOUT}"
    )


def _read_idx(path: Path, ndim: int) -> np.ndarray:
    """An IDX file of unsigned bytes with ``ndim`` dimensions (big-endian header)."""
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as handle:
            raw = handle.read()
    except OSError as exc:
        raise DataError(
            f"MNIST file {str(path)!r} cannot be read ({exc}); expected {MNIST_LAYOUT}"
        ) from exc
    header = 4 + 4 * ndim
    if len(raw) < header or raw[0:2] != b"\x00\x00" or raw[2] not in _IDX_DTYPES or raw[3] != ndim:
        raise DataError(
            f"MNIST file {str(path)!r} has no IDX header for {ndim}-d unsigned bytes "
            f"(magic 0x000008{ndim:02x}); expected {MNIST_LAYOUT}"
        )
    dims = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    count = int(np.prod(dims))
    if len(raw) - header != count:
        raise DataError(
            f"MNIST file {str(path)!r} declares shape {dims} ({count} bytes) but holds "
            f"{len(raw) - header} bytes of data; expected {MNIST_LAYOUT}"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def _mnist_pair(root: Path, prefix: str) -> tuple[torch.Tensor, torch.Tensor]:
    images_path = _find_idx(root, f"{prefix}-images-idx3-ubyte")
    labels_path = _find_idx(root, f"{prefix}-labels-idx1-ubyte")
    images = _read_idx(images_path, 3)
    labels = _read_idx(labels_path, 1).astype(np.int64)
    if images.shape[0] != labels.shape[0] or images.shape[1:] != (28, 28):
        raise DataError(
            f"MNIST files {str(images_path)!r} and {str(labels_path)!r} hold images of "
            f"shape {images.shape} and {labels.shape[0]} labels; expected N images of "
            f"28x28 and N labels ({MNIST_LAYOUT})"
        )
    if labels.size and labels.max() > 9:
        raise DataError(f"MNIST file {str(labels_path)!r} has labels outside 0..9")
    x = (images.astype(np.float32) / 255.0 - MNIST_MEAN) / MNIST_STD
    return torch.from_numpy(x).unsqueeze(1), torch.from_numpy(labels)


def load_mnist(data_dir: str | os.PathLike[str] | None) -> Split:
    """MNIST from the IDX files, normalised by the train mean and std, shape ``(1, 28, 28)``."""
    root = resolve_data_dir(data_dir, "MNIST", MNIST_LAYOUT)
    x_train, y_train = _mnist_pair(root, "train")
    x_test, y_test = _mnist_pair(root, "t10k")
    return Split(x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
