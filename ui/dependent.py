"""Dependent widgets follow their parent: model → tensor → block.

Streamlit keeps a keyed widget's state when its options change, so a child widget (the tensor of a
model, the block of a tensor) would keep showing its old value after the parent changed. Each page
calls :func:`follow` with the parent's current value before drawing the child: when the parent differs
from the one remembered in ``st.session_state``, the child keys are cleared and the child widget opens
on its default (the largest tensor, the widest block). The first sight of a parent only records it, so
values that came with a shared link are kept.
"""

from __future__ import annotations

import streamlit as st

_PREFIX = "_parent_of:"


def follow(child: str, parent: object, *keys: str) -> bool:
    """Clear the widget keys ``keys`` (default: ``child``) when ``parent`` changed; True when they were cleared.

    >>> # st.session_state["_parent_of:tensor"] == "digits_cnn"; follow("tensor", "minilm") clears "tensor"
    """
    mark = _PREFIX + child
    state = st.session_state
    seen = mark in state
    changed = seen and state[mark] != parent
    state[mark] = parent
    if changed:
        for k in keys or (child,):
            state.pop(k, None)
    return changed
