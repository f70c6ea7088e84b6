"""An async Triton client: one class over tritonclient's HTTP and gRPC asyncio clients.

Everything a caller sees is a plain value (:class:`ModelMetadata`, :class:`ModelStats`,
:class:`RepositoryModel`, :class:`InferResult`) or an error from ``backends/errors.py``
whose message names the server's address and never its headers:

- unreachable, refused, timed out → :class:`ConnectionFailed`;
- an answer that is not Triton's (an HTML page, foreign JSON) → :class:`ConnectionFailed`
  or :class:`ConfigError` "not a Triton server";
- an unknown model → :class:`NotFound`; a rejected request or a failed inference →
  :class:`Invalid` carrying Triton's own message (as plain text);
- 401 / 403 → :class:`Unauthorized` / :class:`Forbidden`.

tritonclient (and with it numpy, aiohttp, grpc) loads on the first call, never at import.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from typing import Any, Self

from mlops_tui.backends.errors import (
    BackendError,
    ConfigError,
    ConnectionFailed,
    Forbidden,
    Invalid,
    NotFound,
    Unauthorized,
    UnsupportedError,
)
from mlops_tui.backends.triton.results import (
    InferResult,
    ModelMetadata,
    ModelStats,
    OutputTensor,
    RepositoryModel,
    config_as_dict,
    parse_model_metadata,
    parse_repository_index,
    parse_statistics,
    plain,
)
from mlops_tui.backends.triton.tensors import InputTensor, TritonEndpoint

__all__ = [
    "InferResult",
    "ModelMetadata",
    "ModelStats",
    "OutputTensor",
    "RepositoryModel",
    "TritonClient",
]

#: loading a model can take far longer than a metadata call
LOAD_TIMEOUT_S = 300.0
_DECODE_FAILURE = "an exception occurred in the client while decoding the response"
#: Triton answers some unknown-model requests with HTTP 400 / INVALID_ARGUMENT and these
_NOT_FOUND = re.compile(r"unknown model|requested model '.*' is not available")
#: wrong answers from something that is not Triton, seen while parsing
_PARSE_ERRORS = (ValueError, KeyError, TypeError, IndexError, AttributeError)


class TritonClient:
    """Talks to one Triton server over HTTP or gRPC (``endpoint.protocol``).

    Args:
        endpoint: where the server answers; its ``headers`` go with every call.
        timeout_s: the longest one call may take (a load gets :data:`LOAD_TIMEOUT_S`).

    Use as ``async with TritonClient(endpoint) as client:`` or call :meth:`close`.
    """

    def __init__(self, endpoint: TritonEndpoint, *, timeout_s: float = 10.0) -> None:
        self.endpoint = endpoint
        self.timeout_s = timeout_s
        self._raw: Any = None  # made on first use: aiohttp and grpc.aio bind to the loop

    def __repr__(self) -> str:
        return f"TritonClient({self.endpoint.protocol}://{self.endpoint.address})"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def _grpc(self) -> bool:
        return self.endpoint.protocol == "grpc"

    @property
    def _where(self) -> str:
        scheme = ("grpcs" if self.endpoint.ssl else "grpc") if self._grpc else (
            "https" if self.endpoint.ssl else "http")
        return f"{scheme}://{self.endpoint.address}"

    def _client(self) -> Any:
        if self._raw is None:
            if self._grpc:
                import tritonclient.grpc.aio as grpcclient

                self._raw = grpcclient.InferenceServerClient(
                    self.endpoint.address, ssl=self.endpoint.ssl)
            else:
                import tritonclient.http.aio as httpclient

                # no session-wide limit: every call gets its own (see _call)
                self._raw = httpclient.InferenceServerClient(
                    self.endpoint.address, ssl=self.endpoint.ssl, conn_timeout=None)
        return self._raw

    async def close(self) -> None:
        """Close the connection (safe to call twice, or when nothing was opened)."""
        raw, self._raw = self._raw, None
        if raw is not None:
            await raw.close()

    async def _call(self, what: str, method: str, *args: Any, timeout: float | None = None,
                    **kwargs: Any) -> Any:
        """Run ``method`` of the tritonclient client, mapping every failure to an error."""
        limit = timeout or self.timeout_s
        raw = self._client()
        kwargs["headers"] = dict(self.endpoint.headers) or None
        if self._grpc:
            kwargs["client_timeout"] = limit
            if kwargs["headers"]:  # gRPC metadata keys must be lower case
                kwargs["headers"] = {k.lower(): v for k, v in kwargs["headers"].items()}
        silent = ConnectionFailed(
            f"{what}: no answer from Triton at {self._where} within {limit:g}s")
        try:
            # gRPC ends the call itself at its deadline; this bounds everything else
            async with asyncio.timeout(limit + (1.0 if self._grpc else 0.0)):
                return await getattr(raw, method)(*args, **kwargs)
        except TimeoutError:
            raise silent from None
        except BackendError:
            raise
        except Exception as exc:  # noqa: BLE001 - every library error becomes one of ours
            raise self._translate(what, exc, silent) from None

    def _translate(self, what: str, exc: Exception, silent: ConnectionFailed) -> BackendError:
        """The backend error for one failed call (``silent``: the one for a timeout)."""
        from tritonclient.utils import InferenceServerException

        if not isinstance(exc, InferenceServerException):
            if isinstance(exc, _PARSE_ERRORS):
                return ConfigError(f"{what}: {self._where} is not a Triton server "
                                   f"(its answer could not be read)")
            reason = plain(str(exc)) or type(exc).__name__
            return ConnectionFailed(f"{what}: cannot reach Triton at {self._where}: {reason}")
        status = str(exc.status() or "").removeprefix("StatusCode.")
        message = plain(exc.message() or "")
        if message.startswith(_DECODE_FAILURE):
            return ConnectionFailed(f"{what}: {self._where} is not a Triton server "
                                    f"(HTTP {status}, not Triton's JSON)")
        if status == "DEADLINE_EXCEEDED":
            return silent
        if status in ("UNAVAILABLE", "CANCELLED"):
            return ConnectionFailed(f"{what}: cannot reach Triton at {self._where}: {message}")
        if status in ("401", "UNAUTHENTICATED"):
            return Unauthorized(f"{what}: Triton at {self._where} refused the credentials")
        if status in ("403", "PERMISSION_DENIED"):
            return Forbidden(f"{what}: {message}")
        if status in ("404", "NOT_FOUND") or _NOT_FOUND.search(message):
            return NotFound(f"{what}: {message}")
        if status in ("501", "UNIMPLEMENTED"):
            return UnsupportedError(f"{what}: {message}")
        if status in ("UNKNOWN", "INTERNAL") and not message:
            return ConnectionFailed(f"{what}: {self._where} is not a Triton gRPC server")
        return Invalid(f"{what}: {message or f'rejected ({status})'}")

    async def _json(self, what: str, method: str, *args: Any, **kwargs: Any) -> Any:
        """A call whose answer is JSON (gRPC answers are converted to the same shape)."""
        if self._grpc:
            kwargs["as_json"] = True
        return await self._call(what, method, *args, **kwargs)

    def _parsed(self, what: str, parse: Callable[[Any], Any], body: Any) -> Any:
        """``parse(body)``; a body of the wrong shape means the server is not Triton."""
        try:
            return parse(body)
        except _PARSE_ERRORS:
            raise ConfigError(f"{what}: {self._where} is not a Triton server "
                              f"(unexpected answer)") from None

    # ------------------------------------------------------------------ health

    async def server_live(self) -> bool:
        """``True`` when the server answers its liveness check.

        Raises:
            ConnectionFailed: nothing answered.
        """
        return bool(await self._call("server live", "is_server_live"))

    async def server_ready(self) -> bool:
        """``True`` when the server is ready for inference (models may still load)."""
        return bool(await self._call("server ready", "is_server_ready"))

    async def server_metadata(self) -> dict:
        """``{"name", "version", "extensions": [...]}`` as the server reports them."""
        body = await self._json("server metadata", "get_server_metadata")

        def parse(b: Any) -> dict:
            return {"name": str(b["name"]), "version": str(b["version"]),
                    "extensions": [str(e) for e in b.get("extensions", [])]}

        return self._parsed("server metadata", parse, body)

    async def model_ready(self, model: str, version: str = "") -> bool:
        """``True`` when ``model`` (optionally one version) is loaded and ready."""
        return bool(await self._call(f"model {model} ready", "is_model_ready", model, version))

    # ------------------------------------------------------------------ models

    async def model_metadata(self, model: str, version: str = "") -> ModelMetadata:
        """Inputs and outputs of ``model`` (shapes with -1 for any size).

        Raises:
            NotFound: the server has no such model (or it is not loaded).
            ConnectionFailed: nothing answered, or not Triton.
        """
        what = f"model {model} metadata"
        body = await self._json(what, "get_model_metadata", model, version)
        return self._parsed(what, parse_model_metadata, body)

    async def model_config(self, model: str, version: str = "") -> dict:
        """The model's configuration as Triton serves it (``config.pbtxt`` plus defaults).

        Both protocols give the same shape (Triton's JSON: enum names, numbers as
        numbers); fields left at their defaults may be missing over gRPC.
        """
        what = f"model {model} config"
        if self._grpc:
            answer = await self._call(what, "get_model_config", model, version)
            return self._parsed(what, lambda a: config_as_dict(a.config), answer)
        return self._parsed(what, _config_body, await self._json(what, "get_model_config",
                                                                 model, version))

    async def statistics(self, model: str = "") -> list[ModelStats]:
        """Counts and average queue/compute times per model version ("" = every model)."""
        what = f"statistics of {model or 'all models'}"
        body = await self._json(what, "get_inference_statistics", model)
        return self._parsed(what, parse_statistics, body)

    async def repository_index(self) -> list[RepositoryModel]:
        """Every model in the server's repository, loaded or not, with its state."""
        body = await self._json("repository index", "get_model_repository_index")
        return self._parsed("repository index", parse_repository_index, body)

    async def load(self, model: str) -> None:
        """Load (or reload) ``model``; returns once Triton reports it loaded.

        Raises:
            Invalid: the model failed to load (Triton's message says why).
        """
        await self._call(f"load {model}", "load_model", model, timeout=LOAD_TIMEOUT_S)

    async def unload(self, model: str) -> None:
        """Unload ``model`` (Triton finishes its in-flight requests first)."""
        await self._call(f"unload {model}", "unload_model", model)

    # ------------------------------------------------------------------ inference

    async def infer(self, model: str, inputs: list[InputTensor], *,
                    version: str = "") -> InferResult:
        """Send one inference request and return every output the model produced.

        Raises:
            Invalid: Triton rejected the request or the model failed (its message).
            NotFound: unknown model.
        """
        what = f"infer {model}"
        module = self._protocol_module()
        try:
            wire = []
            for tensor in inputs:
                item = module.InferInput(tensor.name, list(tensor.array.shape), tensor.datatype)
                item.set_data_from_numpy(tensor.array)
                wire.append(item)
        except Exception as exc:  # noqa: BLE001 - tritonclient raises its own type
            raise Invalid(f"{what}: {plain(str(exc))}") from None
        started = time.perf_counter()
        answer = await self._call(what, "infer", model, wire, model_version=version)
        latency = time.perf_counter() - started
        return self._parsed(what, lambda a: self._result(model, a, latency), answer)

    def _protocol_module(self) -> Any:
        if self._grpc:
            import tritonclient.grpc as module
        else:
            import tritonclient.http as module
        return module

    def _result(self, model: str, answer: Any, latency: float) -> InferResult:
        response = answer.get_response()
        if self._grpc:
            specs = [(o.name, o.datatype, tuple(int(d) for d in o.shape))
                     for o in response.outputs]
        else:
            specs = [(o["name"], o["datatype"], tuple(int(d) for d in o["shape"]))
                     for o in response.get("outputs", [])]
        outputs = []
        for name, datatype, shape in specs:
            array = answer.as_numpy(name)
            if array is None:
                raise ValueError(f"output {name} carried no data")
            outputs.append(OutputTensor(name, datatype, shape, array))
        return InferResult(model=model, outputs=tuple(outputs), latency_s=latency)


def _config_body(body: Any) -> dict:
    """An HTTP config answer; one without a ``name`` is not Triton's."""
    if not isinstance(body, dict) or "name" not in body:
        raise KeyError("name")
    return body
