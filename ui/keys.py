"""The URL: how widgets bind to it, and the keys every page shares.

Every setting is a widget with ``bind=QUERY``, so the URL is the view. The keys that
mean the same thing on every page (the quantizer, the calibrator and its options, the
tensor) are the constants below; widgets take their ``key`` from here and
:data:`SHARED_KEYS` (what :mod:`ui.nav`'s links carry to the next page) is built from
them, so a widget and the navigation cannot drift apart. Page-local keys (a chart's
log axis, a page's own controls) stay in their page.
"""

from __future__ import annotations

from qviz.calibrate.registry import all_options

#: the ``bind=`` value of every URL-bound widget
QUERY = "query-params"

# the quantizer (ui.spec_widgets)
BITS = "bits"
SIGNED = "signed"
MODE = "mode"
NARROW = "narrow"
QUANTIZER = "quantizer"
ROUNDING = "rounding"
GRANULARITY = "gran"
AXIS = "axis"
GROUP = "group"
GROUP_AXIS = "gaxis"
# the calibrator (ui.spec_widgets)
CALIBRATOR = "calib"
# the tensor (ui.tensor_picker)
SOURCE = "src"
SAMPLE = "sample"
MODEL = "model"
TENSOR = "tensor"
PATH = "path"  # the Local path source (ui.local_path)

#: URL key of each calibrator option (qviz.calibrate.registry); ``pct`` predates the registry
_OPTION_KEY_OVERRIDES = {"percentile": "pct"}


def option_key(name: str) -> str:
    """The URL key of the calibrator option ``name``."""
    return _OPTION_KEY_OVERRIDES.get(name, name)


#: URL-bound widget keys every page understands
SHARED_KEYS = (BITS, SIGNED, MODE, NARROW, QUANTIZER, ROUNDING, GRANULARITY, AXIS, GROUP, GROUP_AXIS, CALIBRATOR,
               *(option_key(n) for n in all_options()), SOURCE, SAMPLE, MODEL, TENSOR, PATH)
