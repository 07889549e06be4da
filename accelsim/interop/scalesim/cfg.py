"""SCALE-Sim ``.cfg`` files (INI) as :class:`~accelsim.hw.systolic.SystolicSpec` in scalesim mode.

Read as SCALE-Sim 3.0.0 reads them (``scale_config.read_conf_file``), with its quirks, but
strictly: a bad value is an error naming file, line and ``section.key`` instead of a crash
or a silent default (SCALE-Sim turns an unknown dataflow into ``os``).

* ``[architecture_presets]``: ``ArrayHeight`` x ``ArrayWidth``, ``Dataflow``, SRAM sizes in
  KiB (``IfmapSramSzkB``, ...; words are one byte), offsets and request-buffer depths
  (checked, unused; optional, since files of releases before v3 lack them: SCALE-Sim v3's
  default of 60 applies). ``Bandwidth`` is read in USER mode only, and only its first
  element is used: it is the OFMAP drain bandwidth.
* ``[layout]``: in USER mode ``IfmapSRAMBankBandwidth`` / ``FilterSRAMBankBandwidth`` are the
  IFMAP / FILTER DRAM bandwidths (words per cycle) and must be divisible by the bank count.
  Custom layouts are not supported. Optional here (SCALE-Sim 3.0.0 requires it); absent, its
  defaults apply (10 words per cycle).
* ``[sparsity]``: optional; ``SparsitySupport: true`` is not supported.
* ``[run_presets]``: ``InterfaceBandwidth`` is ``CALC`` or ``USER``; Ramulator traces are not
  supported.

SCALE-Sim has no clock: the spec runs at a nominal 1 GHz (cycles are what the reports hold)
at 45 nm, the technology table's reference node.
"""

from __future__ import annotations

import configparser
import difflib
import re
from pathlib import Path
from typing import Callable, TypeVar

from ...errors import SpecError
from ...registry import did_you_mean
from ...hw.systolic.spec import MAX_SIDE, SystolicSpec, build_spec
from ...hw.systolic.timing import DATAFLOWS
from ...hw.technology import Technology

__all__ = ["load_scalesim_cfg", "NOMINAL_FREQUENCY_HZ"]

NOMINAL_FREQUENCY_HZ = 1e9
T = TypeVar("T")

# Keys per section as SCALE-Sim spells them; configparser folds case, so lookups go through
# the lower-case form and messages use the file's own spelling (or this one). Keys SCALE-Sim
# ignores are accepted and ignored; anything else is an error.
_SPELLING = {
    "general": ("run_name",),
    "architecture_presets": (
        "ArrayHeight", "ArrayWidth", "IfmapSramSzkB", "FilterSramSzkB", "OfmapSramSzkB",
        "IfmapOffset", "FilterOffset", "OfmapOffset", "Dataflow", "Bandwidth",
        "ReadRequestBuffer", "WriteRequestBuffer", "MemoryBanks"),
    "layout": ("IfmapCustomLayout", "IfmapSRAMBankBandwidth", "IfmapSRAMBankNum", "IfmapSRAMBankPort",
               "FilterCustomLayout", "FilterSRAMBankBandwidth", "FilterSRAMBankNum", "FilterSRAMBankPort"),
    "sparsity": ("SparsitySupport", "SparseRep", "OptimizedMapping", "BlockSize",
                 "RandomNumberGeneratorSeed"),
    "run_presets": ("InterfaceBandwidth", "UseRamulatorTrace"),
    "network_presets": ("TopologyCsvLoc",),
}
_KNOWN = {section: {key.lower(): key for key in keys} for section, keys in _SPELLING.items()}
_REQUIRED_SECTIONS = ("general", "architecture_presets", "run_presets")
# scale_config's own defaults for an absent [layout] section
_LAYOUT_DEFAULTS = {"ifmapsrambankbandwidth": "10", "filtersrambankbandwidth": "10",
                    "ifmapsrambanknum": "1", "filtersrambanknum": "1",
                    "ifmapcustomlayout": "False", "filtercustomlayout": "False"}
# Request-queue depths appeared in SCALE-Sim v3 (for Ramulator traces); v2's scale_config
# never reads them, so its files lack them. 60 is what v3's scale_config starts from
# (req_buf_sz_rd / req_buf_sz_wr in scale_config.__init__).
_REQUEST_BUFFER_DEFAULT = "60"


class _Cfg:
    """A parsed .cfg with the line of every key, for located errors."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)
        self.parser = configparser.ConfigParser(interpolation=None)  # '%' is just a character
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise SpecError(f"cannot read the file: {exc}", file=self.path) from None
        try:
            self.parser.read_string(text, source=self.path)
        except configparser.Error as exc:
            line = getattr(exc, "lineno", None)
            if line is None and getattr(exc, "errors", None):
                line = exc.errors[0][0]  # type: ignore[attr-defined]
            message = str(exc).splitlines()[0]
            raise SpecError(f"not a SCALE-Sim config (INI): {message}", file=self.path,
                            line=line) from None
        self.lines: dict[tuple[str, str], int] = {}
        self.spelled: dict[tuple[str, str], str] = {}  # (section, lower-case key) -> as written
        self.section_lines: dict[str, int] = {}
        section = None
        for number, raw in enumerate(text.splitlines(), start=1):
            head = re.match(r"^\s*\[([^\]]+)\]", raw)
            if head:
                section = head.group(1).strip()
                self.section_lines[section] = number
                continue
            key = re.match(r"^\s*([^:=#;\s][^:=]*?)\s*[:=]", raw)
            if key and section is not None:
                written = key.group(1).strip()
                self.lines[(section, written.lower())] = number
                self.spelled[(section, written.lower())] = written

    def spelling(self, section: str, key: str) -> str:
        """``key`` as the file writes it, else as SCALE-Sim does."""
        return self.spelled.get((section, key)) or _KNOWN.get(section, {}).get(key, key)

    def error(self, section: str, key: str | None, message: str) -> SpecError:
        line = self.lines.get((section, key)) if key else self.section_lines.get(section)
        return SpecError(message, file=self.path, line=line,
                         field=f"{section}.{self.spelling(section, key)}" if key else section)

    def raw(self, section: str, key: str, default: str | None = None) -> str:
        if not self.parser.has_section(section):
            if default is not None:
                return default
            raise SpecError(f"missing section [{section}]", file=self.path, field=section)
        if not self.parser.has_option(section, key):
            if default is not None:
                return default
            raise self.error(section, None, f"missing key {self.spelling(section, key)!r} in [{section}]")
        return self.parser.get(section, key).strip()

    def value(self, section: str, key: str, convert: Callable[[str], T], default: str | None = None) -> T:
        text = self.raw(section, key, default)
        try:
            return convert(text)
        except ValueError as exc:
            raise self.error(section, key, str(exc)) from None

    def check_known(self) -> None:
        for section in _REQUIRED_SECTIONS:
            if not self.parser.has_section(section):
                raise SpecError(f"missing section [{section}]", file=self.path, field=section)
        for section in self.parser.sections():
            if section not in _KNOWN:
                raise self.error(section, None, f"unknown section [{section}]; "
                                                + did_you_mean(section, list(_KNOWN)))
            for key in self.parser.options(section):
                if key not in _KNOWN[section]:
                    raise self.error(section, key, "unknown key; " + _suggest(section, key))


def _suggest(section: str, key: str) -> str:
    """Close known keys of ``section`` for a lower-case ``key``, compared without case and
    named as SCALE-Sim spells them."""
    known = _KNOWN[section]
    close = difflib.get_close_matches(key, list(known), n=3, cutoff=0.6)
    if close:
        return "did you mean " + " or ".join(repr(known[c]) for c in close) + "?"
    return did_you_mean(key, sorted(known.values()))


def _int(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    def convert(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise ValueError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise ValueError(f"must be at least {minimum}, got {value}")
        if maximum is not None and value > maximum:
            raise ValueError(f"must be at most {maximum}, got {value}")
        return value
    return convert


def _first_of_list(text: str) -> int:
    """SCALE-Sim reads ``Bandwidth`` as a comma list of integers and uses the first."""
    values = [_int(1)(part.strip()) for part in text.split(",")]
    return values[0]


def _bool(text: str) -> bool:
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    raise ValueError(f"expected True or False, got {text!r}")


def _choice(*choices: str) -> Callable[[str], str]:
    def convert(text: str) -> str:
        if text not in choices:
            raise ValueError(f"unknown value {text!r}; {did_you_mean(text, list(choices))}")
        return text
    return convert


def _unsupported(cfg: _Cfg, section: str, key: str, what: str, default: str) -> None:
    if cfg.value(section, key, _bool, default):
        raise cfg.error(section, key, f"{what} is not supported by accelsim's SCALE-Sim model")


def load_scalesim_cfg(path: str | Path) -> SystolicSpec:
    """Read a SCALE-Sim 3.0.0 ``.cfg`` into a systolic spec in ``scalesim`` mode.

    Raises:
        SpecError: INI syntax, a missing section or key, an unknown key, a bad value, an
            unsupported feature (custom layouts, sparsity, Ramulator), with file, line and
            ``section.key``.
    """
    cfg = _Cfg(Path(path))
    cfg.check_known()
    name = cfg.value("general", "run_name", str)
    arch = "architecture_presets"
    rows = cfg.value(arch, "arrayheight", _int(1, MAX_SIDE))
    cols = cfg.value(arch, "arraywidth", _int(1, MAX_SIDE))
    sizes = tuple(cfg.value(arch, key, _int(1)) * 1024.0
                  for key in ("ifmapsramszkb", "filtersramszkb", "ofmapsramszkb"))
    for key in ("ifmapoffset", "filteroffset", "ofmapoffset"):
        cfg.value(arch, key, _int(0))
    for key in ("readrequestbuffer", "writerequestbuffer"):
        cfg.value(arch, key, _int(0), _REQUEST_BUFFER_DEFAULT)
    dataflow = cfg.value(arch, "dataflow", _choice(*DATAFLOWS))
    mode = cfg.value("run_presets", "interfacebandwidth", _choice("CALC", "USER"))
    _unsupported(cfg, "run_presets", "useramulatortrace", "UseRamulatorTrace", "False")
    _unsupported(cfg, "layout", "ifmapcustomlayout", "a custom IFMAP layout", "False")
    _unsupported(cfg, "layout", "filtercustomlayout", "a custom FILTER layout", "False")
    _unsupported(cfg, "sparsity", "sparsitysupport", "SparsitySupport", "false")
    bandwidth = None
    if mode == "USER":
        words = []
        for op in ("ifmap", "filter"):
            bw = cfg.value("layout", f"{op}srambankbandwidth", _int(1), _LAYOUT_DEFAULTS[f"{op}srambankbandwidth"])
            banks = cfg.value("layout", f"{op}srambanknum", _int(1), _LAYOUT_DEFAULTS[f"{op}srambanknum"])
            if bw % banks:
                raise cfg.error("layout", f"{op}srambankbandwidth",
                                f"{bw} words per cycle is not divisible by {banks} banks")
            words.append(bw)
        words.append(cfg.value(arch, "bandwidth", _first_of_list))
        bandwidth = tuple(w * NOMINAL_FREQUENCY_HZ for w in words)  # one-byte words
    return build_spec(
        name=name, source=str(path), frequency_hz=NOMINAL_FREQUENCY_HZ, technology=Technology(),
        rows=rows, cols=cols, dataflow=dataflow, precision="int8", sram_bytes=sizes,  # type: ignore[arg-type]
        dram_bandwidth_bps=bandwidth,  # type: ignore[arg-type]
        bandwidth_mode=mode.lower(), mode="scalesim")
