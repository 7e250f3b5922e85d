"""The command line: ``python -m qviz scan|calibrate|report|export|sensitivity|compare|app|cache`` (or the ``qviz`` entry point).

Every command takes a path (a file, a model folder) or a built-in name, and the
quantizer options of :class:`qviz.QuantSpec`. Bad input or arguments print one
line ``qviz: error: …`` on stderr and exit with status 2; an unexpected failure
prints one line and exits 1 (``QVIZ_DEBUG=1`` shows the traceback).

Example
-------
>>> main(["scan", "samples", "--bits", "4", "--format", "csv", "--out", "/dev/null"])
0
>>> main(["scan", "no/such/file.pt"])  # prints "qviz: error: file.pt: does not exist; …" on stderr
2
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from .calibrate.calibrator import Calibrator
from .calibrate.registry import METHODS, all_options, options_for, takers
from .sources import SourceError
from .spec import PerChannel, PerGroup, PerTensor, QuantSpec


#: Commands without the quantizer options (compare derives qviz's spec from each quantized tensor).
NO_SPEC_OPTIONS = ("app", "compare", "cache")


class UsageError(Exception):
    """Bad arguments: reported as one line, exit status 2."""


class Parser(argparse.ArgumentParser):
    """argparse that raises instead of printing usage and exiting, so every error is one line."""

    def error(self, message):
        raise UsageError(message)


def spec_parent() -> argparse.ArgumentParser:
    """The quantizer options every command shares (mapped to :class:`QuantSpec` by :func:`spec_from_args`)."""
    p = Parser(add_help=False)
    g = p.add_argument_group("quantizer (qviz.QuantSpec)")
    g.add_argument("--bits", type=int, default=8, help="bit width, 1 to 16 (default 8)")
    sym = g.add_mutually_exclusive_group()
    sym.add_argument("--symmetric", dest="symmetric", action="store_true", default=True, help="range ±max|x| (default)")
    sym.add_argument("--asymmetric", dest="symmetric", action="store_false", help="affine range [min, max] with a zero point")
    g.add_argument("--unsigned", action="store_true", help="unsigned codes [0, 2^bits-1] (default signed)")
    g.add_argument("--narrow-range", action="store_true", help="drop the lowest code (int8 → [-127, 127], as TensorRT)")
    g.add_argument("--midrise", action="store_true", help="mid-rise quantizer (no zero level; default mid-tread)")
    g.add_argument("--granularity", choices=["tensor", "channel", "group"], default="tensor", help="default tensor")
    g.add_argument("--axis", type=int, help="channel axis (default 0) or group axis (default -1)")
    g.add_argument("--group-size", type=int, help="values per group with --granularity group (default 32)")
    g.add_argument("--calibrator", default="minmax", metavar="NAME", help=f"{', '.join(METHODS)} (default minmax)")
    c = p.add_argument_group("calibrator options (qviz.calibrate.registry: each flag reaches the calibrators that take it)")
    for o in all_options().values():
        users = takers(o.name)
        c.add_argument(o.flag, dest=o.name, type=o.type, choices=o.choices or None, metavar=None if o.choices else o.type.__name__.upper(),
                       help=f"{o.help} ({', '.join(users) or 'every calibrator'}; default {o.default})")
    return p


def spec_from_args(a) -> QuantSpec:
    """A :class:`QuantSpec` from the parsed spec options (``ValueError`` with what to change)."""
    if a.granularity == "tensor":
        if a.axis is not None or a.group_size is not None:
            raise UsageError("--axis and --group-size need --granularity channel or group")
        gran = PerTensor()
    elif a.granularity == "channel":
        if a.group_size is not None:
            raise UsageError("--group-size needs --granularity group")
        gran = PerChannel(0 if a.axis is None else a.axis)
    else:
        gran = PerGroup(32 if a.group_size is None else a.group_size, -1 if a.axis is None else a.axis)
    return QuantSpec(bits=a.bits, signed=not a.unsigned, symmetric=a.symmetric, narrow_range=a.narrow_range,
                     quantizer="midrise" if a.midrise else "midtread", granularity=gran)


def method_options(a, allow_all: bool = False) -> tuple[str, dict]:
    """``(calibrator, options)`` from ``--calibrator`` and the calibrator option flags (``--percentile``, …)."""
    names = list(METHODS) + (["all"] if allow_all else [])
    if a.calibrator not in names:
        raise UsageError(f"argument --calibrator: invalid choice {a.calibrator!r} (choose from {', '.join(names)})")
    options = {}
    for o in all_options().values():
        value = getattr(a, o.name, None)
        if value is None:
            continue
        users = takers(o.name)
        if a.calibrator != "all" and a.calibrator not in users:
            raise UsageError(f"{o.flag} needs --calibrator {' or '.join(users)}")
        options[o.name] = value
    for m in METHODS if a.calibrator == "all" else [a.calibrator]:
        try:  # every check of the options (the method's and the statistics') runs when a Calibrator is made
            Calibrator(QuantSpec(), m, **options_for(m, options))
        except ValueError as e:
            raise UsageError(f"--calibrator {m}: {e}") from None
    return a.calibrator, options


class Progress:
    """``\\r``-updated progress line on stderr, only when stderr is a terminal or ``--progress`` is given."""

    def __init__(self, enabled: bool):
        from .progress import ScanMeter

        self.enabled, self.width, self.meter = enabled, 0, ScanMeter()

    def __call__(self, done: int, total: int, name: str, values: tuple[int, int] | None = None) -> None:
        if not self.enabled:
            return
        n = 24 * done // max(total, 1)
        if values is not None:  # tensors, values, values/s and the ETA (qviz.progress.ScanMeter)
            line = f"\r[{'#' * n}{'.' * (24 - n)}] {self.meter.line(done, total, values)} {name}"[:140]
        else:
            line = f"\r[{'#' * n}{'.' * (24 - n)}] {done}/{total} {name}"[:100]
        sys.stderr.write(line.ljust(self.width))
        self.width = len(line)
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled and self.width:
            sys.stderr.write("\r" + " " * self.width + "\r")
            sys.stderr.flush()


def progress_for(a) -> Progress:
    return Progress(bool(getattr(a, "progress", False)) or sys.stderr.isatty())


def emit(text: str, out: str | None) -> None:
    """``text`` to ``--out`` or stdout."""
    if out:
        with open(out, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        sys.stdout.write(text)


def open_path(path: str):
    """:func:`qviz.open_source`; a reader failure that is not a ``SourceError`` (a bug) still reads as bad input."""
    from .sources import open_source

    try:
        return open_source(path)
    except (SourceError, ValueError, OSError):
        raise
    except Exception as e:  # noqa: BLE001 - e.g. struct.error from a truncated legacy pickle
        name = os.path.basename(str(path).rstrip("/")) or str(path)
        raise SourceError(f"{name}: cannot be read ({type(e).__name__}: {_one_line(e)[:120]}); "
                          "the file may be corrupted or truncated: save or download it again") from None


def build_parser() -> Parser:
    from . import cli_commands as c

    parser = Parser(prog="qviz", description="See what quantization does to a model's tensors, from the command line.",
                    epilog="PATH is a .npy/.npz, .pt/.pth/.bin, .safetensors, .onnx or .gguf file, a model folder, or a built-in "
                           "(samples, digits_cnn, minilm). Example: qviz scan model.safetensors --granularity channel",
                    formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    parent = spec_parent()
    for name, (fn, helptext, example, add) in c.COMMANDS.items():
        p = sub.add_parser(name, parents=[] if name in NO_SPEC_OPTIONS else [parent], help=helptext, description=helptext,
                           epilog=f"example:\n  {example}", formatter_class=argparse.RawDescriptionHelpFormatter)
        add(p)
        p.set_defaults(func=fn)
    return parser


def _one_line(e: BaseException) -> str:
    msg = " ".join(str(e).split()) or type(e).__name__
    if isinstance(e, OSError) and e.filename and e.strerror:
        msg = f"{e.filename}: {e.strerror}"
    return msg


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns the exit status (0 ok, 1 internal error, 2 bad input or arguments)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        parser = build_parser()
        try:
            args = parser.parse_args(argv)
        except SystemExit as e:  # --help
            return int(e.code or 0)
        if not getattr(args, "command", None):
            raise UsageError("give a command: scan, calibrate, report, export, sensitivity, transforms, compare, app or cache (qviz --help)")
        return int(args.func(args) or 0)
    except (UsageError, SourceError, ValueError, FileNotFoundError, OSError) as e:
        if os.environ.get("QVIZ_DEBUG"):
            raise
        sys.stderr.write(f"qviz: error: {_one_line(e)}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("qviz: interrupted\n")
        return 130
    except Exception as e:  # one line, never a traceback
        if os.environ.get("QVIZ_DEBUG"):
            raise
        sys.stderr.write(f"qviz: internal error: {type(e).__name__}: {_one_line(e)[:300]} "
                         "(re-run with QVIZ_DEBUG=1 to see the traceback)\n")
        return 1


def dump_json(obj) -> str:
    from .export import jsonable

    return json.dumps(jsonable(obj), indent=1, allow_nan=False) + "\n"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
