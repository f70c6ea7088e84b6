"""The rules one model folder of a Triton repository must follow.

Works on a listing (relative path → ``"file"`` / ``"dir"``) and a reader, so the same
rules apply to a local folder and to an S3 prefix (see ``repository.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mlops_tui.backends.triton.results import plain
from mlops_tui.backends.triton.tensors import TensorSpec

#: relative path → "file" or "dir"
Listing = dict[str, str]
#: a config larger than this is not a config
MAX_CONFIG_BYTES = 1024 * 1024
#: the file each backend or platform loads from a version folder, unless
#: ``default_model_filename`` says otherwise; a name ending in "/" is a folder
MODEL_FILES: dict[str, tuple[str, ...]] = {
    "onnxruntime": ("model.onnx",),
    "onnxruntime_onnx": ("model.onnx",),
    "tensorrt": ("model.plan",),
    "tensorrt_plan": ("model.plan",),
    "pytorch": ("model.pt",),
    "pytorch_libtorch": ("model.pt",),
    "tensorflow_savedmodel": ("model.savedmodel/",),
    "tensorflow_graphdef": ("model.graphdef",),
    "tensorflow": ("model.savedmodel/", "model.graphdef"),
    "python": ("model.py",),
}
#: backends for which Triton can fill in inputs/outputs itself (auto-complete)
AUTO_COMPLETE = {"onnxruntime", "onnxruntime_onnx", "tensorrt", "tensorrt_plan",
                 "tensorflow", "tensorflow_savedmodel", "tensorflow_graphdef"}
_AUTO_NOTE = ("; Triton can derive them from the model file only with auto-complete on "
              "(not with --strict-model-config=true / --disable-auto-complete-config)")


@dataclass(frozen=True, slots=True)
class Problem:
    """One finding: where (relative to the repository) and what is wrong."""

    path: str
    message: str

    def __str__(self) -> str:
        return plain(f"{self.path}: {self.message}")  # folder names may hold anything


@dataclass(frozen=True, slots=True)
class ModelEntry:
    """One model as its ``config.pbtxt`` declares it (dims without the batch dimension)."""

    name: str
    platform_or_backend: str
    versions: tuple[int, ...]
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    max_batch_size: int


def _datatype(config_pb2: Any, value: int) -> str:
    name = config_pb2.DataType.Name(value).removeprefix("TYPE_")
    return "BYTES" if name == "STRING" else name


def parse_config(text: str) -> Any:
    """``config.pbtxt`` text → Triton's ``ModelConfig`` message.

    Raises:
        google.protobuf.text_format.ParseError: with ``line:column`` in its message.
    """
    from google.protobuf import text_format
    from tritonclient.grpc import model_config_pb2

    return text_format.Parse(text, model_config_pb2.ModelConfig())


def _read_config(path: str, read: Callable[[str], bytes]) -> tuple[Any, Problem | None]:
    from google.protobuf import text_format

    try:
        raw = read(path)
    except OSError as exc:
        return None, Problem(path, f"cannot read: {exc.strerror or exc}")
    if len(raw) > MAX_CONFIG_BYTES:
        return None, Problem(path, f"larger than {MAX_CONFIG_BYTES // 1024} KiB: not a config")
    if b"\x00" in raw:
        return None, Problem(path, "binary data, not a text config")
    try:
        return parse_config(raw.decode("utf-8")), None
    except UnicodeDecodeError:
        return None, Problem(path, "not UTF-8 text")
    except text_format.ParseError as exc:
        return None, Problem(path, f"cannot parse: {plain(str(exc))}")


def _tensors(kind: str, items: Any, config_pb2: Any, model: str,
             problems: list[Problem]) -> tuple[TensorSpec, ...]:
    specs, names = [], set()
    where = f"{model}/config.pbtxt"
    for item in items:
        label = f"{kind} {plain(item.name) or '(no name)'}"
        if not item.name:
            problems.append(Problem(where, f"an {kind} has no name"))
        elif item.name in names:
            problems.append(Problem(where, f"{label} declared twice"))
        names.add(item.name)
        if item.data_type == config_pb2.TYPE_INVALID:
            problems.append(Problem(where, f"{label}: data_type missing"))
        dims = tuple(item.dims)
        if any(d == 0 or d < -1 for d in dims):
            problems.append(Problem(where, f"{label}: dims {list(dims)} invalid (each > 0, "
                                           f"or -1 for any size)"))
        if not dims and not item.HasField("reshape"):
            problems.append(Problem(where, f"{label}: dims missing"))
        specs.append(TensorSpec(plain(item.name), _datatype(config_pb2, item.data_type), dims))
    return tuple(specs)


def _versions(model: str, listing: Listing, problems: list[Problem]) -> list[int]:
    versions = []
    for path, kind in sorted(listing.items()):
        parent, _, child = path.rpartition("/")
        if parent != model or kind != "dir" or child.startswith("."):
            continue
        if child.isdigit():
            versions.append(int(child))
        else:
            problems.append(Problem(path, "version folder name is not a number "
                                          "(Triton ignores it)"))
    if not versions:
        problems.append(Problem(model, "no version folder (e.g. 1/)"))
    return sorted(versions)


def _model_files(config: Any, backend: str, model: str, versions: list[int],
                 listing: Listing, problems: list[Problem]) -> None:
    if config.default_model_filename:
        wanted: tuple[str, ...] = (config.default_model_filename,)
    else:
        wanted = MODEL_FILES.get(backend, ())
    if not wanted:
        return  # an ensemble, or a backend whose files this check does not know
    for version in versions:
        base = f"{model}/{version}/"
        if not any(listing.get(base + w.rstrip("/")) in (("dir",) if w.endswith("/")
                                                         else ("file", "dir"))
                   for w in wanted):
            names = " or ".join(wanted)
            problems.append(Problem(f"{model}/{version}", f"{names} missing ({backend})"))


def check_model(model: str, listing: Listing, read: Callable[[str], bytes],
                repository_models: set[str]) -> tuple[ModelEntry | None, list[Problem]]:
    """Check one model folder.

    Args:
        model: the folder's name.
        listing: the repository's listing.
        read: reads one file (see ``repository.check_listing``).
        repository_models: every model folder (ensemble steps must name one).

    Returns:
        The model as declared (None when its config could not be read) and its problems.
    """
    from tritonclient.grpc import model_config_pb2

    problems: list[Problem] = []
    config_path = f"{model}/config.pbtxt"
    versions = _versions(model, listing, problems)
    config_kind = listing.get(config_path)
    if config_kind in ("dir", "special"):
        what = "a folder" if config_kind == "dir" else "not a regular file"
        return None, [*problems, Problem(config_path, f"{what}, not a config file")]
    if config_kind != "file":
        detected = [b for b in ("onnxruntime", "tensorrt", "tensorflow")
                    if any(listing.get(f"{model}/{v}/{f.rstrip('/')}")
                           for v in versions for f in MODEL_FILES[b])]
        note = _AUTO_NOTE if detected else ""
        problems.append(Problem(config_path, f"missing{note}"))
        return None, problems
    config, problem = _read_config(config_path, read)
    if problem is not None:
        return None, [*problems, problem]
    if config.name and config.name != model:
        problems.append(Problem(config_path, f"name {plain(config.name)!r} differs from the "
                                             f"folder name {model!r}"))
    backend = config.platform or config.backend
    if not backend:
        problems.append(Problem(config_path, "neither backend nor platform set"))
    if config.max_batch_size < 0:
        problems.append(Problem(config_path, f"max_batch_size {config.max_batch_size} "
                                             f"is negative"))
    inputs = _tensors("input", config.input, model_config_pb2, model, problems)
    outputs = _tensors("output", config.output, model_config_pb2, model, problems)
    for kind, declared in (("inputs", inputs), ("outputs", outputs)):
        if not declared:
            note = _AUTO_NOTE if backend in AUTO_COMPLETE else (
                " (unless model.py's auto_complete_config adds them)"
                if backend == "python" else "")
            problems.append(Problem(config_path, f"no {kind} declared{note}"))
    _model_files(config, backend, model, versions, listing, problems)
    for version in config.version_policy.specific.versions:
        if version not in versions:
            problems.append(Problem(config_path, f"version_policy names version {version}, "
                                                 f"which has no folder"))
    if backend == "ensemble":
        steps = config.ensemble_scheduling.step
        if not steps:
            problems.append(Problem(config_path, "ensemble without ensemble_scheduling steps"))
        for step in steps:
            if step.model_name not in repository_models:
                problems.append(Problem(config_path, f"ensemble step names model "
                                                     f"{plain(step.model_name)!r}, which is "
                                                     f"not in the repository"))
    entry = ModelEntry(model, backend, tuple(versions), inputs, outputs, config.max_batch_size)
    return entry, problems
