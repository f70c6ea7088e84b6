"""Runtime ``kserve``: one InferenceService whose predictor is KServe's Triton runtime.

KServe downloads the repository itself (its storage initializer), so only pvc:// and s3://
sources work; S3 credentials reach it through a ServiceAccount listing the Secret, which
KServe reads for ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` (and, from the Secret's
``serving.kserve.io/s3-endpoint`` / ``s3-region`` annotations, where the bucket is).
"""

from __future__ import annotations

from typing import Any

from mlops_tui.backends.deploy.objects import labels_of, meta, resources_of, tolerations_of
from mlops_tui.backends.deploy.spec import DeploySpec

API_VERSION = "serving.kserve.io/v1beta1"
NOT_INSTALLED = ("the cluster serves no InferenceService (serving.kserve.io/v1beta1): "
                 "install KServe, or deploy with runtime triton")


def service_account_name(spec: DeploySpec) -> str:
    """The ServiceAccount that hands the S3 Secret to KServe's storage initializer."""
    return f"{spec.name}-s3"


def storage_uri(spec: DeploySpec) -> str:
    """``pvc://claim/path`` or ``s3://bucket/path``, as KServe's storageUri takes them.

    Raises:
        ValueError: a local directory (KServe cannot read this machine) or an S3 endpoint
            in the URI (KServe takes it from the Secret's annotation).
    """
    source = spec.source
    if source.kind == "local":
        raise ValueError(f"runtime kserve cannot serve the local directory "
                         f"{spec.model_repository!r}: upload it to a PVC (pvc://CLAIM/PATH) "
                         "or to s3://BUCKET/PATH")
    if source.kind == "s3" and source.endpoint:
        raise ValueError(f"runtime kserve reads an S3 endpoint from the Secret's "
                         f"serving.kserve.io/s3-endpoint annotation: give s3://"
                         f"{source.bucket}/{source.path} and annotate the secret with "
                         f"{source.endpoint}")
    return source.uri


def runtime_version(image: str) -> str:
    """The image's tag: KServe's Triton runtime runs ``nvcr.io/nvidia/tritonserver:TAG``.

    Raises:
        ValueError: the image is not a tagged tritonserver image.
    """
    repository, _, tag = image.rpartition(":")
    if not repository.endswith("/tritonserver") or "/" in tag or not tag:
        raise ValueError(f"runtime kserve runs its own Triton image and takes only a tag: "
                         f"image {image!r} is not tritonserver:TAG")
    return tag


def manifests(spec: DeploySpec, served: bool) -> list[dict[str, Any]]:
    """The ServiceAccount (for an S3 Secret) and the InferenceService.

    Raises:
        ValueError: the cluster does not serve InferenceService (``served`` false), or the
            repository or image cannot be used by KServe (see :func:`storage_uri`).
    """
    if not served:
        raise ValueError(NOT_INSTALLED)
    model: dict[str, Any] = {"modelFormat": {"name": "triton"},
                             "runtimeVersion": runtime_version(spec.image),
                             "storageUri": storage_uri(spec)}
    args = ([] if spec.strict_model_config else ["--strict-model-config=false"])
    args += spec.extra_args
    if args:
        model["args"] = args
    resources = resources_of(spec)
    if resources:
        model["resources"] = resources
    predictor: dict[str, Any] = {"minReplicas": spec.replicas,
                                 "maxReplicas": max(spec.replicas, 1), "model": model}
    if spec.node_selector:
        predictor["nodeSelector"] = dict(spec.node_selector)
    tolerations = tolerations_of(spec)
    if tolerations:
        predictor["tolerations"] = tolerations
    objects: list[dict[str, Any]] = []
    if spec.source.kind == "s3" and spec.s3_secret:
        account = service_account_name(spec)
        objects.append({"apiVersion": "v1", "kind": "ServiceAccount",
                        "metadata": meta(spec, account),
                        "secrets": [{"name": spec.s3_secret}]})
        predictor["serviceAccountName"] = account
    inference = {"apiVersion": API_VERSION, "kind": "InferenceService",
                 "metadata": {**meta(spec), "labels": labels_of(spec)},
                 "spec": {"predictor": predictor}}
    objects.append(inference)
    return objects
