"""What a user asks to deploy: a model repository, a runtime, and the resources it needs.

Pure and checked at the edge: every field a user types is validated here with a message
that names it, so the manifests built from a :class:`DeploySpec` never hold user text the
API server would refuse (or a shell would read twice).
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from mlops_tui.backends import names
from mlops_tui.backends.deploy.source import ModelSource, parse_model_source

__all__ = ["DEFAULT_INIT_IMAGE", "DEFAULT_TRITON_IMAGE", "DeploySpec", "ModelSource",
           "parse_model_source", "quantity_problem", "spec_from"]

DEFAULT_TRITON_IMAGE = "nvcr.io/nvidia/tritonserver:24.10-py3"
DEFAULT_INIT_IMAGE = "busybox:1.36"
# Arguments the manifests set themselves; an extra argument may not set them again.
RESERVED_ARGS = ("--model-repository", "--model-store", "--metrics-port", "--http-port",
                 "--grpc-port", "--strict-model-config")
# Labels that select the deployment's pods; a user label may not change them.
RESERVED_LABELS = ("app.kubernetes.io/name", "app.kubernetes.io/managed-by")

# apimachinery's quantity grammar (no sign: a negative resource is never meant)
_QUANTITY = re.compile(r"^(\d+(\.\d*)?|\.\d+)([KMGTPE]i|[mkMGTPE]|[eE][+-]?\d+)?$")
_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")
_LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
_IMAGE = re.compile(r"^[A-Za-z0-9][\x21-\x7e]*$")
_REGION = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


def quantity_problem(value: str) -> str | None:
    """Why ``value`` is not a Kubernetes quantity (``500m``, ``16Gi``), or None."""
    return None if _QUANTITY.match(value) else (
        f"{value!r} is not a Kubernetes quantity (e.g. 500m, 2, 16Gi)")


def _label_key_problem(key: str) -> str | None:
    prefix, _, name = key.rpartition("/")
    if prefix and (len(prefix) > names.SUBDOMAIN_MAX or names.subdomain_problem(prefix)):
        return f"label key {key!r}: the prefix must be a DNS subdomain"
    if not _LABEL_NAME.match(name):
        return (f"label key {key!r}: the name must be 1-63 letters, digits, '-', '_' or '.', "
                "starting and ending with a letter or digit")
    return None


def _check_labels(value: dict[str, str], what: str) -> dict[str, str]:
    for key, val in value.items():
        problem = _label_key_problem(key)
        if problem:
            raise ValueError(f"{what}: {problem}")
        if not _LABEL_VALUE.match(val):
            raise ValueError(f"{what}: value {val!r} of {key!r} must be at most 63 letters, "
                             "digits, '-', '_' or '.', starting and ending with a letter or "
                             "digit")
    return value


class Toleration(BaseModel):
    """A pod toleration, as the API spells it (checks :attr:`DeploySpec.tolerations`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    key: str | None = Field(default=None, max_length=316)
    operator: Literal["Exists", "Equal"] | None = None
    value: str | None = Field(default=None, max_length=63)
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute", ""] | None = None
    tolerationSeconds: int | None = None


class DeploySpec(BaseModel):
    """One model server to deploy (see the module docstring for the checks).

    ``s3_secret`` names a Secret holding ``AWS_ACCESS_KEY_ID`` and ``AWS_SECRET_ACCESS_KEY``
    (and optionally ``AWS_SESSION_TOKEN``); without it an s3:// repository is read with
    whatever the node's role gives (an IAM instance profile or IRSA), which
    :meth:`notes` says. ``pvc_size`` makes the manifests create the claim.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    namespace: str = "default"
    runtime: Literal["triton", "kserve"] = "triton"
    model_repository: str
    image: str = Field(default=DEFAULT_TRITON_IMAGE, max_length=512)
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] | None = None
    init_image: str = Field(default=DEFAULT_INIT_IMAGE, max_length=512)
    replicas: int = Field(default=1, ge=0, le=1000)
    gpus: int = Field(default=0, ge=0, le=16)
    cpu: str | None = None
    memory: str | None = None
    node_selector: dict[str, str] = Field(default_factory=dict)
    tolerations: list[dict[str, Any]] = Field(default_factory=list)
    s3_secret: str | None = None
    s3_region: str | None = None
    strict_model_config: bool = True
    extra_args: list[str] = Field(default_factory=list)
    labels: dict[str, str] = Field(default_factory=dict)
    startup_timeout_s: int = Field(default=600, ge=10, le=86_400)
    service_type: Literal["ClusterIP", "NodePort", "LoadBalancer"] = "ClusterIP"
    pvc_size: str | None = None
    storage_class: str | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        problem = names.label_problem(value)
        if problem:
            raise ValueError(f"{value!r} {problem}")
        if not value[0].isalpha():  # a Service name is a DNS-1035 label
            raise ValueError(f"{value!r} must start with a letter (it names the Service too)")
        return value

    @field_validator("namespace")
    @classmethod
    def _namespace(cls, value: str) -> str:
        problem = names.label_problem(value)
        if problem:
            raise ValueError(f"{value!r} {problem}")
        return value

    @field_validator("model_repository")
    @classmethod
    def _repository(cls, value: str) -> str:
        parse_model_source(value)
        return value

    @field_validator("image", "init_image")
    @classmethod
    def _image(cls, value: str) -> str:
        if not _IMAGE.match(value):
            raise ValueError(f"{value!r} is not an image reference (no spaces or control "
                             "characters)")
        return value

    @field_validator("cpu", "memory", "pvc_size")
    @classmethod
    def _quantity(cls, value: str | None) -> str | None:
        problem = value is not None and quantity_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("node_selector")
    @classmethod
    def _node_selector(cls, value: dict[str, str]) -> dict[str, str]:
        return _check_labels(value, "node selector")

    @field_validator("tolerations")
    @classmethod
    def _tolerations(cls, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [Toleration.model_validate(item).model_dump(exclude_none=True)
                for item in value]

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: dict[str, str]) -> dict[str, str]:
        taken = [key for key in RESERVED_LABELS if key in value]
        if taken:
            raise ValueError(f"label {taken[0]!r} is set by the deployment itself")
        return _check_labels(value, "labels")

    @field_validator("s3_secret", "storage_class")
    @classmethod
    def _object_name(cls, value: str | None) -> str | None:
        problem = value is not None and names.subdomain_problem(value)
        if problem:
            raise ValueError(f"{value!r} {problem}")
        return value

    @field_validator("s3_region")
    @classmethod
    def _region(cls, value: str | None) -> str | None:
        if value is not None and not _REGION.match(value):
            raise ValueError(f"{value!r} is not a region name (e.g. us-east-1)")
        return value

    @field_validator("extra_args")
    @classmethod
    def _extra_args(cls, value: list[str]) -> list[str]:
        for arg in value:
            if not arg.startswith("--") or any(ord(ch) < 32 for ch in arg):
                raise ValueError(f"{arg!r}: each argument is one --option[=value], without "
                                 "control characters")
            if arg.split("=", 1)[0] in RESERVED_ARGS:
                raise ValueError(f"{arg!r}: {arg.split('=', 1)[0]} is set from the other "
                                 "fields")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> DeploySpec:
        source = self.source
        if self.pvc_size is not None and source.kind != "pvc":
            raise ValueError("pvc_size creates the claim of a pvc:// model repository; "
                             f"{self.model_repository!r} is not one")
        if self.storage_class is not None and self.pvc_size is None:
            raise ValueError("storage_class is used only with pvc_size (creating the claim)")
        if (self.s3_secret or self.s3_region) and source.kind != "s3":
            raise ValueError("s3_secret and s3_region are for an s3:// model repository")
        return self

    @property
    def source(self) -> ModelSource:
        """The parsed :attr:`model_repository`."""
        return parse_model_source(self.model_repository)

    def notes(self) -> list[str]:
        """What a user should know about this spec before deploying (one line each)."""
        out = []
        source = self.source
        if source.kind == "s3" and not self.s3_secret:
            out.append("no s3_secret: the server reads the bucket with the node's own "
                       "credentials (an instance role or IRSA), or fails to")
        if source.kind == "s3" and not self.s3_region and not source.endpoint:
            out.append("no s3_region: AWS_DEFAULT_REGION is not set for the server")
        if self.pvc_size and self.replicas > 1:
            out.append("the claim is created ReadWriteMany: replicas on several nodes share "
                       "it, which the storage class must support")
        return out


def spec_from(data: Any) -> DeploySpec:
    """A :class:`DeploySpec` from plain data (a parsed YAML mapping).

    Raises:
        ValueError: one line per problem, each naming the field.
    """
    from pydantic import ValidationError

    try:
        return DeploySpec.model_validate(data)
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            where = ".".join(str(p) for p in error["loc"]) or "spec"
            lines.append(f"{where}: {error['msg'].removeprefix('Value error, ')}")
        raise ValueError("; ".join(lines)) from None
