"""The deploy wizard's fields: what each accepts, and the action requests they make.

Pure functions over the text a user typed: every check runs on the text before any
``int()`` (thousands of digits are "too large", not a conversion), and every message is one
line naming the field. Nothing here touches a widget or a backend.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from mlops_tui.backends.names import label_problem

MAX_REPLICAS = 1000  # the deploy action's own bounds
MAX_GPUS = 16
MAX_CONCURRENCY = 4096
MAX_SWEEP_LEVELS = 32
MAX_TEXT = 4096  # longest path, image or URL a field takes
_SHOWN = 40  # characters of a user's text quoted back in a message
DEFAULT_IMAGE = "nvcr.io/nvidia/tritonserver:24.10-py3"
PROTOCOLS = ("grpc", "http")
# registry[:port]/path[:tag][@digest], as the container runtimes read an image reference
_IMAGE = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+)?"
                    r"(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
                    r"(?::[\w][\w.-]{0,127})?(?:@[a-z0-9]+:[a-f0-9]{32,})?$", re.IGNORECASE)
_SCHEMES = ("pvc://", "s3://")
_FORM_FIELDS = ("replicas", "gpus", "namespace", "name", "image")


def _quoted(text: str) -> str:
    return repr(text if len(text) <= _SHOWN else text[:_SHOWN] + "…")


def _control_problem(text: str, what: str) -> str | None:
    if any(unicodedata.category(ch) in ("Cc", "Cf") for ch in text):
        return f"{what} contains control characters"
    if len(text) > MAX_TEXT:
        return f"{what} is longer than {MAX_TEXT:,} characters"
    return None


def count_problem(text: str, what: str, low: int, high: int) -> str | None:
    """Why ``text`` is not a whole number in ``low..high``, or None when it is."""
    text = text.strip()
    if not text:
        return f"type a number of {what} ({low} to {high:,})"
    digits = text.lstrip("+-")
    if not digits.isascii() or not digits.isdigit() or len(text) - len(digits) > 1:
        return f"{what} must be a whole number, not {_quoted(text)}"
    if text.startswith("-") and digits.strip("0"):
        return f"{what} must be {low} or more"
    if len(digits.lstrip("0")) > len(str(high)) or int(digits) > high:
        return f"{what} must be at most {high:,}"
    if int(digits) < low:
        return f"{what} must be {low} or more"
    return None


def name_problem(text: str, what: str) -> str | None:
    """Why ``text`` cannot name ``what`` (a DNS-1123 label, as namespaces and the
    deployment's Service need), or None."""
    problem = _control_problem(text, what)
    if problem:
        return problem
    problem = label_problem(text.strip())
    return f"{what} {problem}" if problem else None


def repository_problem(text: str) -> str | None:
    """Why ``text`` is not a model repository to check: a path, ``pvc://CLAIM/PATH`` or
    ``s3://BUCKET/PATH``; None when it can be checked."""
    text = text.strip()
    if not text:
        return "type a model repository: a path, pvc://CLAIM/PATH or s3://BUCKET/PATH"
    problem = _control_problem(text, "the repository")
    if problem:
        return problem
    for scheme in _SCHEMES:
        if text.lower().startswith(scheme):
            head = text[len(scheme):].split("/", 1)[0]
            what = "claim" if scheme == "pvc://" else "bucket"
            if not head:
                return f"{scheme} needs a {what}: {scheme}{what.upper()}/PATH"
            return None
    if "://" in text:
        return f"unknown scheme in {_quoted(text)}: use a path, pvc:// or s3://"
    return None


def image_problem(text: str) -> str | None:
    """Why ``text`` is not a container image reference, or None."""
    text = text.strip()
    if not text:
        return "type an image, e.g. " + DEFAULT_IMAGE
    problem = _control_problem(text, "the image")
    if problem:
        return problem
    if len(text) > 512 or not _IMAGE.match(text):
        return f"not an image reference: {_quoted(text)}"
    return None


def model_problem(text: str) -> str | None:
    """Why ``text`` cannot name a model in Triton's repository, or None."""
    text = text.strip()
    if not text:
        return "type the model's name (a folder of the repository)"
    problem = _control_problem(text, "the model")
    if problem:
        return problem
    if "/" in text or text in (".", "..") or len(text) > 255:
        return f"not a model name: {_quoted(text)}"
    return None


def protocol_problem(text: str) -> str | None:
    return None if text.strip().lower() in PROTOCOLS else (
        f"protocol must be grpc or http, not {_quoted(text.strip())}")


def inputs_problem(text: str) -> str | None:
    """Inputs of a test request: random, zeros or a file's path."""
    text = text.strip()
    if not text:
        return "type random, zeros or a path to a JSON/NumPy file"
    return _control_problem(text, "inputs")


def parse_sweep(text: str) -> tuple[tuple[int, ...], str | None]:
    """The concurrency levels of ``1, 4, 16`` (commas or spaces), or a problem."""
    words = [w for w in re.split(r"[,\s]+", text.strip()) if w]
    if not words:
        return (), "type one or more concurrency levels, e.g. 1, 4, 16"
    if len(words) > MAX_SWEEP_LEVELS:
        return (), f"at most {MAX_SWEEP_LEVELS} concurrency levels"
    levels: list[int] = []
    for word in words:
        problem = count_problem(word, "concurrency", 1, MAX_CONCURRENCY)
        if problem:
            return (), problem
        levels.append(int(word))
    return tuple(levels), None


def duration_problem(text: str) -> str | None:
    from mlops_tui.backends.actions import parse_duration

    try:
        parse_duration(text.strip())
    except ValueError as exc:
        return f"duration {exc}"
    return None


def url_problem(text: str) -> str | None:
    """An optional server address (``host:port`` or ``http://host:port``) or None."""
    text = text.strip()
    if not text:
        return None
    if any(ch.isspace() for ch in text) or len(text) > 2048:
        return f"not a server address: {_quoted(text)}"
    return _control_problem(text, "the server address")


def output_problem(text: str) -> str | None:
    return _control_problem(text.strip(), "the output path") if text.strip() else None


def default_name(repository: str) -> str:
    """A deployment name from a repository's last folder (``./models/ResNet_50`` →
    ``resnet-50``); "" when nothing usable is left."""
    tail = repository.strip().rstrip("/").rsplit("/", 1)[-1].lower()
    name = re.sub(r"[^a-z0-9]+", "-", tail).strip("-")[:63].strip("-")
    if name in ("model-repository", "models", "repo", "repository"):
        return "triton"
    return name


@dataclass
class DeployForm:
    """What the wizard has gathered (the text of each field, checked)."""

    repository: str = ""
    runtime: str = "triton"
    replicas: str = "1"
    gpus: str = "0"
    namespace: str = "default"
    name: str = ""
    image: str = DEFAULT_IMAGE
    model: str = ""
    models: tuple[str, ...] = field(default_factory=tuple)  # found by check_repository

    def settings_problems(self) -> dict[str, str]:
        """Field → problem for the settings step (empty when all are good)."""
        checks = {
            "replicas": count_problem(self.replicas, "replicas", 0, MAX_REPLICAS),
            "gpus": count_problem(self.gpus, "GPUs", 0, MAX_GPUS),
            "namespace": name_problem(self.namespace, "the namespace"),
            "name": name_problem(self.name, "the name"),
            "image": image_problem(self.image),
            "model": model_problem(self.model),
        }
        return {key: problem for key, problem in checks.items() if problem}

    def spec_problems(self) -> dict[str, str]:
        """Field → problem from the deploy spec's own checks (after :meth:`settings_problems`
        passed: they catch what this form does not know, e.g. a runtime's limits); a
        problem of no field here is under ``""``."""
        try:
            from mlops_tui.backends.deploy.spec import DeploySpec
        except ImportError:  # an install without the deploy features: the action says
            return {}
        arguments = {key: value for key, value in self.deploy_arguments(dry_run=False).items()
                     if key != "dry_run"}
        try:
            DeploySpec.model_validate({**arguments, "namespace": self.namespace.strip()})
        except ValueError as exc:  # pydantic's ValidationError
            problems: dict[str, str] = {}
            for error in getattr(exc, "errors", list)():
                where = str((error.get("loc") or ("",))[0])
                message = str(error.get("msg", "")).removeprefix("Value error, ")
                key = where if where in _FORM_FIELDS else ""
                problems.setdefault(key, f"{where}: {message}" if key == "" and where
                                    else message)
            return problems or {"": str(exc).splitlines()[0]}
        return {}

    def deploy_arguments(self, *, dry_run: bool) -> dict[str, object]:
        """The ``deploy`` request (checked fields only: call after settings_problems)."""
        return {"name": self.name.strip(), "model_repository": self.repository.strip(),
                "runtime": self.runtime, "replicas": int(self.replicas.strip()),
                "gpus": int(self.gpus.strip()), "image": self.image.strip(),
                "dry_run": dry_run}
