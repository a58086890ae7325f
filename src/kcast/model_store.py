"""Where model files live: the locations ``model_registry`` records, and reading them back.

A model's location (``model_registry.path``) is one of:

* a path relative to ``KCAST_MODEL_DIR`` (``v1_baseline/v1_baseline-20250101-1f8a2310.json``),
  read under the model folder of whichever machine loads it (a container mounts its own);
* ``gs://BUCKET/PATH`` in Cloud Storage (the ``gcs`` extra), downloaded once into
  ``KCAST_CACHE_DIR/models/SHA256/`` and read from there;
* an absolute path: a model trained outside the model folder, read where it is.

``kcast train`` records the SHA-256 of every model file it writes. A file whose hash is not the
recorded one is refused with a ``ModelError``, so a worker reloading it keeps its old model.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

from kcast.errors import ConfigError, ModelError

GCS = "gs://"
CACHE_FOLDER = "models"  # under KCAST_CACHE_DIR


class SavableSystem(Protocol):
    """What ``save_model`` needs of a trained system (a ``kcast.systems.base.BasePredictor``)."""

    system_id: str
    version_: str | None

    def save(self, path: Path) -> Path: ...


@dataclass(frozen=True)
class StoredModel:
    """A model file written by ``save_model``: where the registry says it is, and its hash."""

    location: str
    sha256: str


def meta_path(model_path: Path) -> Path:
    """The metadata file that sits beside a model file."""
    name = model_path.name.removesuffix(".json")
    return model_path.with_name(f"{name}.meta.json")


def is_gcs(location: str | Path) -> bool:
    return str(location).startswith(GCS)


def split_gcs(uri: str) -> tuple[str, str]:
    """``(bucket, object path)`` of ``gs://BUCKET/PATH``; a ``ConfigError`` for anything else."""
    bucket, _, name = uri.removeprefix(GCS).partition("/")
    if not is_gcs(uri) or not bucket or not name.strip("/"):
        raise ConfigError(f"{uri!r} is not a Cloud Storage location: give gs://BUCKET/PATH")
    return bucket, name.strip("/")


def gcs_folder(uri: str) -> tuple[str, str]:
    """``(bucket, prefix)`` of a folder ``gs://BUCKET`` or ``gs://BUCKET/PATH``."""
    bucket, _, prefix = uri.removeprefix(GCS).partition("/")
    if not is_gcs(uri) or not bucket or "/" in bucket:
        raise ConfigError(f"{uri!r} is not a Cloud Storage folder: give gs://BUCKET/PATH")
    return bucket, prefix.strip("/")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def registry_location(path: Path, model_dir: Path) -> str:
    """How the registry records the local model file ``path``: relative to ``model_dir`` when
    it lies under it, else its absolute path."""
    path, root = Path(path).resolve(), Path(model_dir).resolve()
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)


def storage_client() -> Any:
    """A Cloud Storage client: Google's with application default credentials, or the emulator
    at ``STORAGE_EMULATOR_HOST`` (anonymous)."""
    try:
        from google.cloud import storage
    except ImportError as exc:
        raise ConfigError(
            "gs:// model locations need the gcs extra: pip install 'kcast[gcs]'"
        ) from exc
    return storage.Client()


# --------------------------------------------------------------------------------------------
# writing (kcast train)
# --------------------------------------------------------------------------------------------


def save_model(system: SavableSystem, model_dir: str | Path, registry_dir: Path) -> StoredModel:
    """Write a trained system's model file (and its metadata) under ``model_dir``, a local
    folder or ``gs://BUCKET/PATH``, as ``SYSTEM/VERSION.json``. A local file is recorded
    relative to ``registry_dir`` (``KCAST_MODEL_DIR``) when it lies under it."""
    name = f"{system.system_id}/{system.version_}.json"
    if not is_gcs(model_dir):
        path = system.save(Path(model_dir) / name)
        return StoredModel(registry_location(path, registry_dir), sha256_of(path))
    from google.api_core import exceptions

    bucket_name, prefix = gcs_folder(str(model_dir))
    target = PurePosixPath(prefix, name)
    location = f"{GCS}{bucket_name}/{target}"
    with tempfile.TemporaryDirectory(prefix="kcast-model-") as tmp:
        path = system.save(Path(tmp) / name)
        bucket = storage_client().bucket(bucket_name)
        try:
            # the metadata first: a reader that finds the model finds its metadata beside it
            bucket.blob(str(meta_path(target))).upload_from_filename(meta_path(path))
            bucket.blob(str(target)).upload_from_filename(path, content_type="application/json")
        except exceptions.GoogleAPIError as exc:
            raise ModelError(f"cannot write model {location}: {exc}") from exc
        return StoredModel(location, sha256_of(path))


# --------------------------------------------------------------------------------------------
# reading (every command that loads a model, and the worker's reload)
# --------------------------------------------------------------------------------------------


def local_path(location: str, model_dir: Path) -> Path:
    """The local file of a registry location that is not in Cloud Storage."""
    path = Path(location)
    return path if path.is_absolute() else Path(model_dir) / path


def fetch(location: str, sha256: str | None, model_dir: Path, cache_dir: Path) -> Path:
    """The local model file (metadata beside it) of a registry location, checked against
    ``sha256`` when one was recorded. A Cloud Storage model is downloaded into the cache once;
    a cached copy is used while its hash is the recorded one."""
    if not is_gcs(location):
        path = local_path(location, model_dir)
        if sha256 and path.exists():
            check_hash(path, sha256, location)
        return path
    if not sha256:
        raise ModelError(f"model {location} has no SHA-256 in model_registry; train it again")
    bucket_name, name = split_gcs(location)
    folder = Path(cache_dir).expanduser() / CACHE_FOLDER / sha256
    path = folder / PurePosixPath(name).name
    meta = meta_path(path)
    if path.exists() and meta.exists() and sha256_of(path) == sha256:
        return path
    folder.mkdir(parents=True, exist_ok=True)
    bucket = storage_client().bucket(bucket_name)
    with tempfile.TemporaryDirectory(dir=folder, prefix=".download-") as tmp:
        got, got_meta = Path(tmp) / path.name, Path(tmp) / meta.name
        _download(bucket, name, got, location)
        _download(bucket, str(meta_path(PurePosixPath(name))), got_meta, location)
        check_hash(got, sha256, location)
        os.replace(got_meta, meta)
        os.replace(got, path)  # the model last: its presence means both are there
    return path


def _download(bucket: Any, name: str, target: Path, location: str) -> None:
    from google.api_core import exceptions

    try:
        bucket.blob(name).download_to_filename(target)
    except exceptions.NotFound:
        raise ModelError(f"model file gs://{bucket.name}/{name} does not exist") from None
    except exceptions.GoogleAPIError as exc:
        raise ModelError(f"cannot read model {location}: {exc}") from exc


def check_hash(path: Path, sha256: str, location: str) -> None:
    """A ``ModelError`` when the file's SHA-256 is not the one recorded at training."""
    actual = sha256_of(path)
    if actual != sha256:
        raise ModelError(
            f"model {location}: its SHA-256 is {actual[:12]}..., not the {sha256[:12]}... "
            "recorded when it was trained; the file was changed or damaged. Train again or "
            "restore the file (the model serving now keeps serving)"
        )
