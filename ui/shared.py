"""Results that are the same for every visitor, kept where Streamlit's ``clear_cache`` does not reach.

Any client may send Streamlit's ``clear_cache`` message (the "Clear cache" menu item, or a raw
websocket client): it empties every ``st.cache_data`` and ``st.cache_resource`` of the process,
for all users, with no authentication. Built-in models, their analyses and model-impact results
take seconds to a minute to rebuild, so they live in :func:`shared` instead: a bounded,
thread-safe, least-recently-used cache in this module, one computation per key at a time (a
second caller waits for the first instead of computing again). Uploads never go here: they stay
in their session (``scope="session"``) and are cheap to rebuild.
"""

from __future__ import annotations

import functools
import inspect
import threading
from collections import OrderedDict


SHARED_KEY = "shared:"  # prefix of content keys of tensors that are the same for every visitor


def shared(max_entries: int = 32):
    """Decorator: cache ``fn``'s results by its (hashable) arguments, at most ``max_entries``.

    As with ``st.cache_data``, parameters whose name starts with ``_`` are not part of the key
    (pass the data there and a content digest in another argument).
    """

    def deco(fn):
        cache: OrderedDict = OrderedDict()
        lock = threading.Lock()
        computing: dict = {}
        signature = inspect.signature(fn)

        def key_of(args, kwargs):
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            return tuple((k, v) for k, v in bound.arguments.items() if not k.startswith("_"))

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            key = key_of(args, kwargs)
            with lock:
                if key in cache:
                    cache.move_to_end(key)
                    return cache[key]
                key_lock = computing.setdefault(key, threading.Lock())
            with key_lock:
                with lock:
                    if key in cache:  # computed by the caller we waited for
                        return cache[key]
                try:
                    value = fn(*args, **kwargs)
                finally:
                    with lock:
                        computing.pop(key, None)
                with lock:
                    cache[key] = value
                    while len(cache) > max_entries:
                        cache.popitem(last=False)
            return value

        def contains(*args, **kwargs) -> bool:
            key = key_of(args, kwargs)
            with lock:
                return key in cache

        wrapper.contains = contains  # type: ignore[attr-defined]
        wrapper.clear = lambda: cache.clear()  # type: ignore[attr-defined]
        return wrapper

    return deco


def by_content(max_entries: int = 16, show_spinner: bool | str = False):
    """Decorator for ``fn(key, _data, …)``: the process-wide cache when ``key`` starts with :data:`SHARED_KEY`
    (a sample, a built-in, the operator's file: the next visitor computes nothing), else a session-scoped
    ``st.cache_data`` (an upload's results never reach another session)."""
    import streamlit as st

    def deco(fn):
        session = st.cache_data(show_spinner=show_spinner, max_entries=max_entries, scope="session")(fn)
        everyone = shared(max_entries=max_entries * 4)(fn)

        @functools.wraps(fn)
        def wrapper(key: str, *args, **kwargs):
            return (wrapper.everyone if key.startswith(SHARED_KEY) else wrapper.session)(key, *args, **kwargs)

        wrapper.everyone, wrapper.session = everyone, session  # type: ignore[attr-defined]
        return wrapper

    return deco
