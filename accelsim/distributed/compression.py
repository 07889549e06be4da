"""Gradient compression: fewer bytes on the wire against encode and decode work on the device.

Each scheme sends ``wire_bytes`` per gradient value and touches ``codec_bytes`` of device
memory per value to encode and decode it. A compressed allreduce cannot add compressed
values as they pass, so it runs as a scatter-reduce and an all-gather with a decode, a sum
and a re-encode between them (the scheme of 1-bit SGD's aggregators, Seide et al. 2014):
two encodes and two decodes per value, each a memory-bound pass.

* ``fp16``: halves fp32 gradients (Jia et al. 2018 reduced in half precision).
* ``int8``: one byte per value and an fp32 scale per 512 values, after a max pass.
* ``1bit``: the sign, with two fp32 reconstruction values per 512-value column and the
  quantisation error fed back into the next step's gradient, as CNTK's 1-bit SGD (Seide,
  Fu, Droppo, Li and Yu, "1-Bit Stochastic Gradient Descent and its Application to
  Data-Parallel Distributed Training of Speech DNNs", Interspeech 2014) does to keep the
  accuracy of uncompressed SGD.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Compression", "COMPRESSIONS", "compression"]


@dataclass(frozen=True)
class Compression:
    name: str
    wire_bytes: float          # per gradient value sent
    codec_bytes: float         # device memory touched per value, encode + decode, one pass each
    error_feedback: bool = False
    source: str = ""

    def ratio(self, grad_bytes: float) -> float:
        return self.wire_bytes / grad_bytes if self.name != "none" else 1.0

    def codec_s(self, values: float, memory_bps: float) -> float:
        """Two encodes and two decodes of ``values`` gradient values at ``memory_bps``."""
        return 2 * values * self.codec_bytes / memory_bps if self.codec_bytes else 0.0


_GROUP = 512
COMPRESSIONS = {
    "none": Compression("none", 0.0, 0.0),
    # encode: read fp32, write fp16; decode: read fp16, write fp32
    "fp16": Compression("fp16", 2.0, 4 + 2 + 2 + 4, source="Jia et al., arXiv:1807.11205 (2018)"),
    # encode: max pass (read 4), read 4, write 1; decode: read 1, write 4
    "int8": Compression("int8", 1.0 + 4 / _GROUP, 4 + 4 + 1 + 1 + 4),
    # encode: read gradient 4 and residual 4, write residual 4 and the packed sign 1/8, plus a
    # pass for the two reconstruction values (read 4); decode: read 1/8, write 4
    "1bit": Compression("1bit", 1 / 8 + 8 / _GROUP, 4 + 4 + 4 + 1 / 8 + 4 + 1 / 8 + 4, error_feedback=True,
                        source="Seide et al., Interspeech 2014 (CNTK 1-bit SGD)"),
}


def compression(name: str) -> Compression:
    from ..errors import SpecError

    if name not in COMPRESSIONS:
        raise SpecError(f"unknown gradient compression {name!r}; expected one of {', '.join(COMPRESSIONS)}",
                        field="compress")
    return COMPRESSIONS[name]
