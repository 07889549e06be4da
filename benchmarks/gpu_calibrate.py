"""Measured kernel times on a real NVIDIA GPU, to test accelsim's GPU cost model against.

accelsim estimates GPU layer times from a cost model; this script times the same kinds of
work on a card and writes one CSV row per case: GEMMs in each precision (squares and
skinny / transformer shapes, int8 where ``torch._int_mm`` works), the distinct convolutions
of ResNet-50 v1.5 forward and backward, memory-bound operators, and kernel-launch overhead
(eager and CUDA graph). It is standalone (the standard library plus PyTorch, imported in
``main`` so that ``--help`` needs no torch) and does not import accelsim.

    python benchmarks/gpu_calibrate.py                       # writes benchmarks/data/gpu_calibration_<card>.csv
    python benchmarks/gpu_calibrate.py -o FILE --repeats 10 --quick

Each case allocates its inputs once (random data), runs 3 warm-up calls, then times
``--repeats`` calls, each between its own pair of CUDA events; ``mean_s`` and ``min_s`` are
seconds per call (per launch for the launch rows). TF32 is allowed only in ``tf32`` cases;
``cudnn.benchmark`` is on. Rows are appended and flushed one at a time, so an interrupted
run keeps what it measured. A case that fails (int8 shape not supported, out of memory)
gets a row with empty times and the error in ``note``; cases started after ``--budget``
seconds get a "skipped" row. The first row (``kind=device``) records the card's properties
and its clocks and power as ``nvidia-smi`` reports them at the start. A full run is sized
for about 6 minutes on an H100; ``--quick`` keeps one shape per family. Without torch or a
CUDA device it prints one line to stderr and exits with status 2.
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, TextIO

torch: Any = None  # the torch module, bound by main() so that --help works without torch

COLUMNS = (
    "card,torch,cuda,kind,name,precision,m,n,k,batch,c,h,w,out_channels,r,s,stride,pad,"
    "groups,flops,bytes,mean_s,min_s,repeats,tflops,gbps,note"
).split(",")
DIM_COLUMNS = ("m", "n", "k", "batch", "c", "h", "w", "out_channels", "r", "s", "stride",
               "pad", "groups")
DEFAULT_DIR = Path(__file__).resolve().parent.parent / "benchmarks" / "data"
WARMUP = 3
LAUNCHES = 1000
GIB = 1 << 30
ELEMENT_BYTES = {"bf16": 2, "fp16": 2, "tf32": 4, "fp32": 4, "int8": 1}
FLOAT_PRECISIONS = ("bf16", "fp16", "tf32", "fp32")

Timed = Callable[[], object]


@dataclass
class Case:
    """One measurement: ``build`` allocates the inputs once and returns the call to time."""

    kind: str  # gemm, conv, conv_backward, memory, launch
    name: str
    precision: str
    build: Callable[[], Timed]
    dims: dict[str, int] = field(default_factory=dict)
    flops: int = 0
    bytes: int = 0
    note: str = ""
    calls: int = 1  # kernel launches per timed call; the times are divided by it


# ---------------------------------------------------------------------------- helpers


def slug(name: str) -> str:
    """``NVIDIA H100 80GB HBM3`` -> ``nvidia_h100_80gb_hbm3``."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") or "gpu"


def dtype_of(precision: str) -> Any:
    return {"bf16": torch.bfloat16, "fp16": torch.float16, "tf32": torch.float32,
            "fp32": torch.float32, "int8": torch.int8}[precision]


def rand(shape: tuple[int, ...], precision: str, channels_last: bool = False,
         requires_grad: bool = False) -> Any:
    """Random CUDA tensor: normal for floating point, uniform over int8's range for int8."""
    if precision == "int8":
        t = torch.randint(-128, 128, shape, dtype=torch.int8, device="cuda")
    else:
        t = torch.randn(shape, dtype=dtype_of(precision), device="cuda")
    if channels_last:
        t = t.contiguous(memory_format=torch.channels_last)
    return t.requires_grad_(True) if requires_grad else t


def set_tf32(allowed: bool) -> None:
    torch.backends.cuda.matmul.allow_tf32 = allowed
    torch.backends.cudnn.allow_tf32 = allowed


def measure(fn: Timed, repeats: int) -> tuple[float, float]:
    """Mean and min seconds of ``repeats`` calls after ``WARMUP`` calls, by CUDA events."""
    for _ in range(WARMUP):
        fn()
    torch.cuda.synchronize()
    events = []
    for _ in range(repeats):
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        events.append((start, end))
    torch.cuda.synchronize()
    times = [start.elapsed_time(end) / 1e3 for start, end in events]
    return sum(times) / len(times), min(times)


# ---------------------------------------------------------------------------- GEMM

SQUARES = (256, 512, 1024, 2048, 4096, 8192)
# (name, M, N, K): C[M,N] = A[M,K] @ B[K,N]
SKINNY: tuple[tuple[str, int, int, int], ...] = (
    ("decode_gemv_1x4096x4096", 1, 4096, 4096),
    ("decode_16x4096x4096", 16, 4096, 4096),
    ("decode_128x4096x4096", 128, 4096, 4096),
    ("wide_k1024_8192x8192x1024", 8192, 8192, 1024),
    ("gpt2_lm_head_2048x50257x768", 2048, 50257, 768),
    ("bert_ffn_up_8192x3072x768", 8192, 3072, 768),
    ("bert_ffn_down_8192x768x3072", 8192, 768, 3072),
    ("llama7b_mlp_4096x11008x4096", 4096, 11008, 4096),
)


def gemm_shapes(quick: bool) -> list[tuple[str, int, int, int]]:
    squares = [(f"square_{s}", s, s, s) for s in SQUARES]
    if quick:
        return [squares[4], SKINNY[2]]
    return squares + list(SKINNY)


def build_matmul(m: int, n: int, k: int, precision: str) -> Timed:
    a, b = rand((m, k), precision), rand((k, n), precision)
    return lambda: torch.matmul(a, b)


def build_int_mm(m: int, n: int, k: int) -> Timed:
    """``torch._int_mm`` (int8 x int8 -> int32); B column-major if row-major is refused."""
    if not hasattr(torch, "_int_mm"):
        raise RuntimeError(f"torch {torch.__version__} has no torch._int_mm")
    a = rand((m, k), "int8")
    b = rand((k, n), "int8")
    try:
        torch._int_mm(a, b)
    except RuntimeError:
        b = rand((n, k), "int8").t()
        torch._int_mm(a, b)
    return lambda: torch._int_mm(a, b)


def gemm_case(name: str, m: int, n: int, k: int, precision: str) -> Case:
    traffic = "bytes = A + B read once + C written once"
    if precision == "int8":
        build: Callable[[], Timed] = lambda: build_int_mm(m, n, k)
        note = f"torch._int_mm int8 x int8 -> int32 (tflops column = TOPS); {traffic}"
        out_bytes = 4
    else:
        build = lambda: build_matmul(m, n, k, precision)
        note = f"torch.matmul; {traffic}"
        out_bytes = ELEMENT_BYTES[precision]
    return Case("gemm", name, precision, build, dims={"m": m, "n": n, "k": k},
                flops=2 * m * n * k,
                bytes=(m * k + k * n) * ELEMENT_BYTES[precision] + m * n * out_bytes,
                note=note)


def gemm_cases(quick: bool) -> Iterator[Case]:
    shapes = gemm_shapes(quick)
    for precision in FLOAT_PRECISIONS:
        for name, m, n, k in shapes:
            yield gemm_case(name, m, n, k, precision)
    for name, m, n, k in shapes:
        if m % 16 == 0 and k % 16 == 0:
            yield gemm_case(name, m, n, k, "int8")


# ---------------------------------------------------------------------------- convolution


@dataclass(frozen=True)
class ConvShape:
    """A conv2d layer without bias: C -> K channels on an HxH input, RxR kernel."""

    name: str  # torchvision module path of the first layer with this shape
    c: int
    hw: int
    k: int
    rs: int
    stride: int
    pad: int
    count: int  # how many of ResNet-50's 53 convolutions have this shape

    @property
    def out_hw(self) -> int:
        return (self.hw + 2 * self.pad - self.rs) // self.stride + 1

    def flops(self, batch: int) -> int:
        return 2 * batch * self.k * self.c * self.out_hw ** 2 * self.rs ** 2

    def tensor_bytes(self, batch: int, precision: str) -> tuple[int, int, int]:
        """Bytes of x, w and y."""
        e = ELEMENT_BYTES[precision]
        return (batch * self.c * self.hw ** 2 * e, self.k * self.c * self.rs ** 2 * e,
                batch * self.k * self.out_hw ** 2 * e)


# The distinct convolutions of ResNet-50 v1.5 (torchvision) at 224x224: the stride-2 of a
# stage's first block is on its 3x3 (conv2) and on its 1x1 projection (downsample).
# layer1.0.conv3 and layer1.0.downsample share a shape (64 -> 256, 56x56, stride 1).
RESNET50_CONVS: tuple[ConvShape, ...] = (
    ConvShape("conv1", 3, 224, 64, 7, 2, 3, 1),
    ConvShape("layer1.0.conv1", 64, 56, 64, 1, 1, 0, 1),
    ConvShape("layer1.0.conv2", 64, 56, 64, 3, 1, 1, 3),
    ConvShape("layer1.0.conv3", 64, 56, 256, 1, 1, 0, 4),
    ConvShape("layer1.1.conv1", 256, 56, 64, 1, 1, 0, 2),
    ConvShape("layer2.0.conv1", 256, 56, 128, 1, 1, 0, 1),
    ConvShape("layer2.0.conv2", 128, 56, 128, 3, 2, 1, 1),
    ConvShape("layer2.0.conv3", 128, 28, 512, 1, 1, 0, 4),
    ConvShape("layer2.0.downsample", 256, 56, 512, 1, 2, 0, 1),
    ConvShape("layer2.1.conv1", 512, 28, 128, 1, 1, 0, 3),
    ConvShape("layer2.1.conv2", 128, 28, 128, 3, 1, 1, 3),
    ConvShape("layer3.0.conv1", 512, 28, 256, 1, 1, 0, 1),
    ConvShape("layer3.0.conv2", 256, 28, 256, 3, 2, 1, 1),
    ConvShape("layer3.0.conv3", 256, 14, 1024, 1, 1, 0, 6),
    ConvShape("layer3.0.downsample", 512, 28, 1024, 1, 2, 0, 1),
    ConvShape("layer3.1.conv1", 1024, 14, 256, 1, 1, 0, 5),
    ConvShape("layer3.1.conv2", 256, 14, 256, 3, 1, 1, 5),
    ConvShape("layer4.0.conv1", 1024, 14, 512, 1, 1, 0, 1),
    ConvShape("layer4.0.conv2", 512, 14, 512, 3, 2, 1, 1),
    ConvShape("layer4.0.conv3", 512, 7, 2048, 1, 1, 0, 3),
    ConvShape("layer4.0.downsample", 1024, 14, 2048, 1, 2, 0, 1),
    ConvShape("layer4.1.conv1", 2048, 7, 512, 1, 1, 0, 2),
    ConvShape("layer4.1.conv2", 512, 7, 512, 3, 1, 1, 2),
)
TRAIN_BATCH = 256
INFER_BATCH = 1


def conv_inputs(shape: ConvShape, batch: int, precision: str,
                requires_grad: bool) -> tuple[Any, Any]:
    """x and w; fp16 / bf16 in channels_last, fp32 / tf32 in NCHW."""
    cl = precision in ("fp16", "bf16")
    x = rand((batch, shape.c, shape.hw, shape.hw), precision, cl, requires_grad)
    w = rand((shape.k, shape.c, shape.rs, shape.rs), precision, cl, requires_grad)
    return x, w


def build_conv_forward(shape: ConvShape, batch: int, precision: str) -> Timed:
    x, w = conv_inputs(shape, batch, precision, requires_grad=False)
    conv2d = torch.nn.functional.conv2d
    return lambda: conv2d(x, w, stride=shape.stride, padding=shape.pad)


def build_conv_backward(shape: ConvShape, batch: int, precision: str) -> Timed:
    """dx and dw of a forward run once here (the graph is kept): the backward alone is timed."""
    x, w = conv_inputs(shape, batch, precision, requires_grad=True)
    y = torch.nn.functional.conv2d(x, w, stride=shape.stride, padding=shape.pad)
    dy = torch.randn_like(y)
    return lambda: torch.autograd.grad(y, (x, w), grad_outputs=dy, retain_graph=True)


def conv_dims(shape: ConvShape, batch: int) -> dict[str, int]:
    return {"batch": batch, "c": shape.c, "h": shape.hw, "w": shape.hw,
            "out_channels": shape.k, "r": shape.rs, "s": shape.rs, "stride": shape.stride,
            "pad": shape.pad, "groups": 1}


def conv_case(shape: ConvShape, batch: int, precision: str, backward: bool) -> Case:
    layout = "channels_last" if precision in ("fp16", "bf16") else "nchw"
    x, w, y = shape.tensor_bytes(batch, precision)
    base = f"resnet50 v1.5 x{shape.count}; {layout}; P=Q={shape.out_hw}"
    if backward:
        return Case("conv_backward", shape.name, precision,
                    lambda: build_conv_backward(shape, batch, precision),
                    dims=conv_dims(shape, batch), flops=2 * shape.flops(batch),
                    bytes=2 * (x + w) + y,
                    note=base + "; autograd.grad(y, (x, w), dy) = dgrad + wgrad; "
                    "flops = 2 x forward; bytes = x, w, dy read + dx, dw written once")
    return Case("conv", shape.name, precision,
                lambda: build_conv_forward(shape, batch, precision),
                dims=conv_dims(shape, batch), flops=shape.flops(batch), bytes=x + w + y,
                note=base + "; F.conv2d forward; bytes = x + w read + y written once")


def conv_cases(quick: bool) -> Iterator[Case]:
    shapes = [RESNET50_CONVS[2]] if quick else list(RESNET50_CONVS)
    for backward in (False, True):
        for precision in FLOAT_PRECISIONS:
            for shape in shapes:
                yield conv_case(shape, TRAIN_BATCH, precision, backward)
    for precision in FLOAT_PRECISIONS:
        for shape in shapes:
            yield conv_case(shape, INFER_BATCH, precision, backward=False)


# ---------------------------------------------------------------------------- memory bound


def build_copy(n: int) -> Timed:
    src, dst = rand((n,), "fp32"), torch.empty(n, device="cuda")
    return lambda: dst.copy_(src)


def build_fill(n: int) -> Timed:
    dst = torch.empty(n, device="cuda")
    return lambda: dst.zero_()


def build_relu(n: int) -> Timed:
    x = rand((n,), "fp32")
    return lambda: torch.relu(x)


def build_add(n: int) -> Timed:
    a, b, c = rand((n,), "fp32"), rand((n,), "fp32"), torch.empty(n, device="cuda")
    return lambda: torch.add(a, b, out=c)


def build_sum(n: int) -> Timed:
    x = rand((n,), "fp32")
    return lambda: x.sum()


def build_batchnorm(shape: tuple[int, int, int, int]) -> Timed:
    x = rand(shape, "fp16", channels_last=True)
    c = shape[1]
    mean, var = torch.zeros(c, device="cuda"), torch.ones(c, device="cuda")
    weight, bias = torch.ones(c, device="cuda"), torch.zeros(c, device="cuda")
    return lambda: torch.nn.functional.batch_norm(x, mean, var, weight, bias, training=True)


def build_softmax(rows: int, cols: int) -> Timed:
    x = rand((rows, cols), "fp16")
    return lambda: torch.softmax(x, dim=-1)


def build_layernorm(rows: int, cols: int) -> Timed:
    x = rand((rows, cols), "fp16")
    weight, bias = rand((cols,), "fp16"), rand((cols,), "fp16")
    return lambda: torch.nn.functional.layer_norm(x, (cols,), weight, bias)


def build_depthwise(shape: tuple[int, int, int, int]) -> Timed:
    x = rand(shape, "fp16", channels_last=True)
    c = shape[1]
    w = rand((c, 1, 3, 3), "fp16", channels_last=True)
    return lambda: torch.nn.functional.conv2d(x, w, padding=1, groups=c)


def memory_cases() -> Iterator[Case]:
    n = GIB // 4  # fp32 elements in 1 GiB
    flat = {"n": n}
    one = "n = elements (fp32, 1 GiB per tensor); "
    yield Case("memory", "copy_1GiB", "fp32", lambda: build_copy(n), flat, bytes=2 * GIB,
               note=one + "dst.copy_(src) device to device; bytes = 1 GiB read + 1 GiB written")
    yield Case("memory", "fill_1GiB", "fp32", lambda: build_fill(n), flat, bytes=GIB,
               note=one + "dst.zero_(); bytes = 1 GiB written")
    yield Case("memory", "relu_1GiB", "fp32", lambda: build_relu(n), flat, bytes=2 * GIB,
               note=one + "torch.relu(x) out of place; bytes = x read + y written")
    yield Case("memory", "add_1GiB", "fp32", lambda: build_add(n), flat, bytes=3 * GIB,
               note=one + "torch.add(a, b, out=c); bytes = a + b read + c written")
    yield Case("memory", "sum_1GiB", "fp32", lambda: build_sum(n), flat, bytes=GIB,
               note=one + "x.sum() to a scalar; bytes = x read (the scalar is not counted)")
    bn = (256, 256, 56, 56)
    bn_bytes = 2 * 2 * bn[0] * bn[1] * bn[2] * bn[3]
    yield Case("memory", "batchnorm_train_256x256x56x56", "fp16", lambda: build_batchnorm(bn),
               {"batch": bn[0], "c": bn[1], "h": bn[2], "w": bn[3]}, bytes=bn_bytes,
               note="F.batch_norm training=True, fp16 channels_last x, fp32 params; bytes = x "
               "read once + y written (a second read of x for the statistics and the "
               "per-channel params are not counted)")
    rows, cols = 4096 * 16, 1024
    yield Case("memory", "softmax_65536x1024", "fp16", lambda: build_softmax(rows, cols),
               {"m": rows, "n": cols}, bytes=2 * 2 * rows * cols,
               note="torch.softmax over the last axis (n); bytes = x read + y written")
    rows = 8192
    yield Case("memory", "layernorm_8192x1024", "fp16", lambda: build_layernorm(rows, cols),
               {"m": rows, "n": cols}, bytes=2 * 2 * rows * cols + 2 * 2 * cols,
               note="F.layer_norm over the last axis (n) with fp16 weight and bias; bytes = "
               "x read + y written + weight and bias read")
    dw = (256, 32 * 4, 112, 112)
    dw_act = 2 * dw[0] * dw[1] * dw[2] * dw[3]
    yield Case("memory", "depthwise3x3_256x128x112x112", "fp16", lambda: build_depthwise(dw),
               {"batch": dw[0], "c": dw[1], "h": dw[2], "w": dw[3], "out_channels": dw[1],
                "r": 3, "s": 3, "stride": 1, "pad": 1, "groups": dw[1]},
               flops=2 * dw[0] * dw[1] * dw[2] * dw[3] * 9, bytes=2 * dw_act + 2 * dw[1] * 9,
               note="F.conv2d groups=channels, fp16 channels_last; flops = 2*N*C*P*Q*R*S; "
               "bytes = x read + y written + w read")


# ---------------------------------------------------------------------------- launch overhead


def build_launch_eager() -> Timed:
    x = torch.empty(1, device="cuda").zero_()

    def launches() -> None:
        for _ in range(LAUNCHES):
            x.add_(1)
    return launches


def build_launch_graph() -> Timed:
    x = torch.empty(1, device="cuda").zero_()
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):  # warm up off the default stream, as capture requires
        for _ in range(WARMUP):
            x.add_(1)
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        for _ in range(LAUNCHES):
            x.add_(1)
    return graph.replay


def launch_cases() -> Iterator[Case]:
    each = (f"mean_s and min_s per kernel = one timed call of {LAUNCHES} back-to-back "
            f"x.add_(1) on a 1-element tensor / {LAUNCHES}")
    yield Case("launch", "eager_add_1elem", "fp32", build_launch_eager, {"n": 1},
               note=f"{each}; eager launches from Python", calls=LAUNCHES)
    yield Case("launch", "cuda_graph_add_1elem", "fp32", build_launch_graph, {"n": 1},
               note=f"{each}; one torch.cuda.CUDAGraph replay of the {LAUNCHES} captured "
               "kernels", calls=LAUNCHES)


def all_cases(quick: bool) -> Iterator[Case]:
    """Cheap families first, so that a run cut short by --budget loses the least."""
    yield from launch_cases()
    yield from gemm_cases(quick)
    yield from memory_cases()
    yield from conv_cases(quick)


# ---------------------------------------------------------------------------- output


def fmt(value: float) -> str:
    return f"{value:.6g}"


class Sink:
    """The CSV, written a row at a time and flushed after each."""

    def __init__(self, stream: TextIO, card: str) -> None:
        self.stream = stream
        self.writer = csv.writer(stream, lineterminator="\n")
        self.common = {"card": card, "torch": torch.__version__,
                       "cuda": torch.version.cuda or ""}
        self.rows = 0
        self.writer.writerow(COLUMNS)
        stream.flush()

    def write(self, values: dict[str, str]) -> None:
        row = {**self.common, **values}
        self.writer.writerow([row.get(column, "") for column in COLUMNS])
        self.stream.flush()
        self.rows += 1

    def case(self, case: Case, repeats: int, mean_s: float | None = None,
             min_s: float | None = None, problem: str = "") -> None:
        values = {"kind": case.kind, "name": case.name, "precision": case.precision,
                  "flops": str(case.flops), "bytes": str(case.bytes),
                  "note": f"{problem}; {case.note}" if problem else case.note}
        values.update({key: str(value) for key, value in case.dims.items()})
        if mean_s is not None and min_s is not None:
            values.update(mean_s=fmt(mean_s), min_s=fmt(min_s), repeats=str(repeats))
            if case.flops and mean_s > 0:
                values["tflops"] = fmt(case.flops / mean_s / 1e12)
            if case.bytes and mean_s > 0:
                values["gbps"] = fmt(case.bytes / mean_s / 1e9)
        self.write(values)


def nvidia_smi_state() -> str:
    """Clocks and power of the first visible GPU from nvidia-smi, or why there are none."""
    fields = ("clocks.sm", "clocks.max.sm", "power.draw", "power.limit")
    command = ["nvidia-smi", f"--query-gpu={','.join(fields)}", "--format=csv,noheader"]
    visible = os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",")[0].strip()
    if visible.isdigit():
        command.append(f"--id={visible}")
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=15, check=True)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"nvidia-smi unavailable ({type(exc).__name__})"
    lines = out.stdout.strip().splitlines()
    if not lines:
        return "nvidia-smi printed nothing"
    values = [value.strip() for value in lines[0].split(",")]
    return "nvidia-smi at start: " + "; ".join(f"{k}={v}" for k, v in zip(fields, values))


def device_note() -> str:
    props = torch.cuda.get_device_properties(0)
    return (f"name={props.name}; multi_processor_count={props.multi_processor_count}; "
            f"total_memory={props.total_memory}; capability={props.major}.{props.minor}; "
            f"cudnn={torch.backends.cudnn.version()}; {nvidia_smi_state()}")


def progress(case: Case, mean_s: float) -> str:
    if case.kind == "launch":
        rate = f"{mean_s * 1e6:.3f} us/kernel"
    elif case.kind == "memory":
        rate = f"{case.bytes / mean_s / 1e9:.1f} GB/s"
        if case.flops:
            rate += f"  {case.flops / mean_s / 1e12:.2f} TFLOP/s"
    else:
        rate = f"{case.flops / mean_s / 1e12:.2f} TFLOP/s"
    batch = f" b{case.dims['batch']}" if "batch" in case.dims else ""
    return (f"{case.kind:<13} {case.precision:<4} {case.name + batch:<34} "
            f"mean {mean_s * 1e3:10.4f} ms  {rate}")


# ---------------------------------------------------------------------------- running


def run_case(case: Case, repeats: int) -> tuple[float, float]:
    """Seconds per call (per kernel for launch cases): mean and min."""
    set_tf32(case.precision == "tf32")
    mean_s, min_s = measure(case.build(), repeats)  # the inputs die with the call
    return mean_s / case.calls, min_s / case.calls


def release() -> None:
    """Free the case's memory before the next one; ignore a CUDA error left behind."""
    try:
        torch.cuda.synchronize()
        torch.cuda.empty_cache()
    except RuntimeError:
        pass


def sweep(sink: Sink, cases: Iterator[Case], repeats: int, budget_s: float,
          start: float) -> None:
    for case in cases:
        if time.perf_counter() - start > budget_s:
            sink.case(case, repeats, problem=f"skipped: past --budget {budget_s:g} s")
            continue
        try:
            mean_s, min_s = run_case(case, repeats)
        except Exception as exc:  # unsupported int8 shape, out of memory, ...
            first = (str(exc).strip().splitlines() or [""])[0][:200]
            problem = f"error: {type(exc).__name__}: {first}"
            print(f"{case.kind:<13} {case.precision:<4} {case.name:<34} {problem}",
                  file=sys.stderr)
            sink.case(case, repeats, problem=problem)
        else:
            print(progress(case, mean_s), file=sys.stderr)
            sink.case(case, repeats, mean_s, min_s)
        release()


def load_torch() -> str:
    """Bind the global ``torch``; return why it cannot be used, or "" when it can."""
    global torch
    try:
        import torch as imported
    except ImportError as exc:
        return f"torch is not installed ({exc})"
    try:
        available = imported.cuda.is_available()
    except Exception as exc:
        return f"torch {imported.__version__}: {type(exc).__name__}: {exc}"
    if not available:
        return f"torch {imported.__version__} reports torch.cuda.is_available() = False"
    torch = imported
    return ""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Time GEMM, conv, memory-bound and launch kernels on an NVIDIA GPU and "
        "write a CSV for testing accelsim's GPU cost model.")
    parser.add_argument("-o", "--output", type=Path, default=None,
                        help="CSV to write (default: benchmarks/data/gpu_calibration_<card>.csv)")
    parser.add_argument("--repeats", type=int, default=10,
                        help="timed runs per case, after 3 warm-up runs (default 10)")
    parser.add_argument("--quick", action="store_true",
                        help="one shape per family, for a short smoke run")
    parser.add_argument("--budget", type=float, default=330.0,
                        help="seconds after which remaining cases are skipped (default 330)")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    problem = load_torch()
    if problem:
        print(f"gpu_calibrate: no CUDA device: {problem}", file=sys.stderr)
        return 2
    start = time.perf_counter()
    torch.backends.cudnn.benchmark = True
    torch.manual_seed(0)
    card = torch.cuda.get_device_name(0)
    path: Path = args.output or DEFAULT_DIR / f"gpu_calibration_{slug(card)}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    print(f"gpu_calibrate: {card}, torch {torch.__version__}, CUDA {torch.version.cuda} "
          f"-> {path}", file=sys.stderr)
    with path.open("w", newline="") as stream:
        sink = Sink(stream, card)
        sink.write({"kind": "device", "name": card, "note": device_note()})
        sweep(sink, all_cases(args.quick), args.repeats, args.budget, start)
    print(f"gpu_calibrate: {sink.rows} rows in {time.perf_counter() - start:.1f} s -> {path}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
