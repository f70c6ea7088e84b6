"""Informer semantics over raw JSON: list once, watch from there, never poll.

One thread per (kind, namespace). The list is paginated (as kubectl does) and each object is
rendered to a lean Row on arrival, so the full object is never kept. The watch resumes from
the last resourceVersion (bookmarks keep it fresh); a 410 Gone means the version was
compacted away and triggers a relist; a broken connection is retried from the same version
with exponential backoff and jitter, so an apiserver restart costs no relist.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import random
import re
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import urllib3

from mlops_tui.backends.cache import RowStore
from mlops_tui.backends.errors import BackendError, ConfigError, Forbidden, Unauthorized
from mlops_tui.backends.kubernetes.transport import (
    Gone,
    Transport,
    decode_object,
    iter_lines,
    not_kubernetes,
)
from mlops_tui.backends.models import KindInfo, Row
from mlops_tui.backends.names import check_namespace, quote_segment

log = logging.getLogger(__name__)

Obj = dict[str, Any]
Render = Callable[[Obj, float], Row]


_LIST_META = re.compile(rb'"metadata":\{([^{}]*)\}')
_CONTINUE = re.compile(rb'"continue":"([^"]*)"')


def _continue_token(body: bytes, server: str = "", what: str = "list") -> str:
    """The list's continue token, read from the head of the body without decoding it all:
    the API server writes the list's flat ``metadata`` before ``items``."""
    meta = _LIST_META.search(body, 0, 4096)
    if meta is None or body.find(b'"items"', 0, meta.start()) != -1:
        page = decode_object(body, server, what)
        return str(((page.get("metadata")) or {}).get("continue") or "")
    token = _CONTINUE.search(meta.group(1))
    return token.group(1).decode() if token else ""


def collection_path(kind: KindInfo, namespace: str) -> str:
    """The URL path of ``kind``'s objects in ``namespace`` ("" = all namespaces).

    Raises:
        ConfigError: ``namespace`` is not a valid namespace name.
    """
    q = quote_segment  # every segment, server-sent ones too: none can reshape the path
    base = (f"/apis/{q(kind.group)}/{q(kind.version)}" if kind.group
            else f"/api/{q(kind.version)}")
    if kind.namespaced and namespace:
        return f"{base}/namespaces/{q(check_namespace(namespace))}/{q(kind.name)}"
    return f"{base}/{q(kind.name)}"


def object_path(kind: KindInfo, namespace: str, name: str, *subresource: str) -> str:
    """The URL path of one object (and a subresource: ``scale``, ``log``, ``eviction``).

    Raises:
        ConfigError: ``namespace`` is invalid, or ``name`` cannot be an object's name.
    """
    # the API server decodes %2F back to '/' before routing, so quoting alone would let
    # ``web/log`` reach a subresource: refuse what no object can be named, as the API's
    # own ValidatePathSegmentName does ('.', '..', '/' and '%')
    if name in ("", ".", "..") or "/" in name or "%" in name:
        raise ConfigError(f"invalid name {name!r}: no object is named so (it may not be "
                          "empty, '.' or '..', nor hold '/' or '%')")
    return "/".join((collection_path(kind, namespace), *map(quote_segment, (name,
                                                                             *subresource))))


class Backoff:
    """Exponential backoff with jitter: 0.5 s, 1 s, 2 s ... capped, each scaled by 50-100 %."""

    def __init__(self, base: float = 0.5, cap: float = 30.0) -> None:
        self.base, self.cap, self.attempt = base, cap, 0

    def next(self) -> float:
        delay = min(self.cap, self.base * 2 ** self.attempt)
        self.attempt += 1
        return delay * random.uniform(0.5, 1.0)

    def reset(self) -> None:
        self.attempt = 0


class Informer:
    """Keeps ``store`` equal to the server's set of ``kind`` objects in ``namespace``."""

    def __init__(self, transport: Transport, kind: KindInfo, namespace: str, render: Render,
                 store: RowStore, *, page_size: int = 1000, watch_timeout: int = 300,
                 on_object: Callable[[str, Obj], None] | None = None,
                 on_delete: Callable[[str], None] | None = None,
                 on_relist: Callable[[set[str]], None] | None = None,
                 backoff: Backoff | None = None) -> None:
        self.transport = transport
        self.kind = kind
        self.namespace = namespace if kind.namespaced else ""
        self.render = render
        self.store = store
        self.page_size = page_size
        self.watch_timeout = watch_timeout
        self.on_object = on_object  # sees raw objects (e.g. to keep the few nodes for joins)
        self.on_delete = on_delete
        self.on_relist = on_relist  # sees every uid after a (re)list: what vanished is gone
        self.backoff = backoff or Backoff()
        self.path = collection_path(kind, self.namespace)
        self.resource_version = ""
        self.list_requests = 0
        self.watch_requests = 0
        self.relists = 0
        self._stop = threading.Event()
        self._resp: urllib3.BaseHTTPResponse | None = None
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name=f"informer-{kind.name}-{self.namespace or 'all'}")

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        resp = self._resp
        if resp is not None:
            # wakes a read blocked in another thread; best effort on a dying socket
            with contextlib.suppress(Exception):
                resp.shutdown()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    # -- the loop -------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if not self.resource_version:
                    self._list()
                self._watch()
                self.backoff.reset()
            except Gone:
                log.info("%s: resourceVersion %s is gone, relisting", self.path,
                         self.resource_version)
                self.resource_version = ""
                self.relists += 1
            except (Unauthorized, Forbidden) as exc:
                self._fail(str(exc), slow=True)
            except Exception as exc:  # noqa: BLE001 - an odd answer must not end the watch for good
                if self._stop.is_set():
                    break
                self._fail(str(exc) if isinstance(exc, BackendError) else
                           f"watch of {self.kind.name} broke: {exc.__class__.__name__}")

    def _fail(self, message: str, slow: bool = False) -> None:
        self.store.set_error(message)
        delay = self.backoff.next()
        if slow:  # credentials rarely fix themselves within a second
            delay = max(delay, 5.0)
        log.warning("%s: %s; retrying in %.1fs", self.path, message, delay)
        self._stop.wait(delay)

    def _render(self, obj: Obj, now: float) -> Row | None:
        try:
            if self.on_object:
                self.on_object(obj["metadata"]["uid"], obj)
            return self.render(obj, now)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            meta = (obj.get("metadata") if isinstance(obj, dict) else None) or {}
            log.warning("cannot render %s %s/%s: %r", self.kind.kind, meta.get("namespace"),
                        meta.get("name"), exc)
            return None

    def _pages(self) -> Iterator[bytes]:
        """Raw list pages, fetched one ahead: a helper thread asks for page n+1 (its
        continue token sits at the head of page n) while this thread decodes page n, so
        the server's time and ours overlap instead of adding up."""
        pages: queue.Queue[bytes | BaseException | None] = queue.Queue(maxsize=2)

        def fetch() -> None:
            token = ""
            try:
                while not self._stop.is_set():
                    query: list[tuple[str, Any]] = [("limit", self.page_size)]
                    if token:
                        query.append(("continue", token))
                    self.list_requests += 1
                    resp = self.transport.open("GET", self.path, query=query,
                                               read_timeout=self.transport.timeout * 6)
                    try:
                        body = resp.data
                    finally:
                        resp.release_conn()
                    pages.put(body)
                    token = _continue_token(body, self.transport.server, f"GET {self.path}")
                    if not token:
                        break
            except BaseException as exc:  # noqa: BLE001 - re-raised in the informer thread
                pages.put(exc)
            finally:
                pages.put(None)

        fetcher = threading.Thread(target=fetch, daemon=True, name=f"{self._thread.name}-list")
        fetcher.start()
        while (item := pages.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item

    def _list(self) -> None:
        rows: list[Row] = []
        now = time.time()
        version = ""
        for body in self._pages():
            page = decode_object(body, self.transport.server, f"GET {self.path}")
            # the rows go in whole at the end: one reset for the table, not one re-sort a
            # page; meanwhile the store reports how many have arrived
            items = page.get("items") or []
            if not isinstance(items, list):
                raise not_kubernetes(self.transport.server, f"GET {self.path}",
                                     "its items are not a list")
            rows.extend(r for r in (self._render(o, now) for o in items) if r)
            self.store.set_progress(len(rows))
            version = (page.get("metadata") or {}).get("resourceVersion", "") or version
            if self._stop.is_set():
                return
        self.resource_version = version
        self.store.replace(rows)
        if self.on_relist:
            self.on_relist({row.uid for row in rows})

    def _watch(self) -> None:
        query: list[tuple[str, Any]] = [
            ("watch", "true"), ("resourceVersion", self.resource_version),
            ("allowWatchBookmarks", "true"), ("timeoutSeconds", self.watch_timeout),
        ]
        self.watch_requests += 1
        resp = self.transport.open("GET", self.path, query=query,
                                   read_timeout=self.watch_timeout + 30)
        self._resp = resp
        self.store.clear_error()
        try:
            for line in iter_lines(resp):
                if self._stop.is_set():
                    return
                if line:
                    self._event(decode_object(line, self.transport.server,
                                              f"watch {self.path}"))
        finally:
            self._resp = None
            if self._stop.is_set():
                resp.close()  # half-read: close, never hand it back to the pool
            else:
                resp.release_conn()

    def _event(self, event: Obj) -> None:
        etype, obj = event.get("type"), event.get("object")
        if not isinstance(obj, dict):
            raise not_kubernetes(self.transport.server, f"watch {self.path}",
                                 "an event without an object")
        if etype == "ERROR":
            if obj.get("code") == 410:
                raise Gone(obj.get("message", "too old resource version"))
            raise BackendError(f"watch error: {obj.get('message', obj)}")
        meta = obj.get("metadata") or {}
        if meta.get("resourceVersion"):
            self.resource_version = meta["resourceVersion"]
        if etype == "BOOKMARK":
            return
        if etype == "DELETED":
            self.store.delete(meta.get("uid", ""))
            if self.on_delete:
                self.on_delete(meta.get("uid", ""))
            return
        row = self._render(obj, time.time())
        if row is not None:
            self.store.upsert(row)
