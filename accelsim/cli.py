"""The ``accelsim`` command: parse arguments, call the API, print. Nothing else lives here.

Every user error (an ``AccelsimError``) ends as one line on stderr and exit status 2; only
``--debug`` shows a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from pathlib import Path
from typing import Any, Callable, Sequence

from .errors import AccelsimError

__all__ = ["main"]

EXIT_USAGE = 2
_PRECISIONS = "fp32, tf32, fp16, bf16, fp8, int8, int4, ..."


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error on one line and exits 2.

    The line starts ``accelsim: error:`` like every other user error; the subcommand, if
    any, is named in the help hint.
    """

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"accelsim: error: {message} (see '{self.prog} --help')\n")


def _cannot_write(path: str, what: str, exc: OSError) -> Exception:
    from .errors import AccelsimError
    return AccelsimError(f"cannot write {what}: {exc.strerror or exc}", file=path)


def _json_text(data: dict[str, Any]) -> str:
    """``data`` as strict JSON (RFC 8259: no NaN or Infinity), one record per line.

    A list of records (layers, checks) puts each on its own line, so a large model's result
    stays readable and diffable and is written by the C encoder (``indent`` makes ``json``
    fall back to pure Python, several times slower); everything else is indented.
    """
    parts = []
    for key, value in data.items():
        head = f" {json.dumps(key)}: "
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            rows = ",\n".join("  " + json.dumps(v, allow_nan=False) for v in value)
            parts.append(f"{head}[\n{rows}\n ]")
        else:
            parts.append(head + json.dumps(value, indent=1, allow_nan=False).replace("\n", "\n "))
    return "{\n" + ",\n".join(parts) + "\n}\n"


def _emit(text: str, output: str | None) -> None:
    if output:
        from .fileio import write_atomic
        try:
            write_atomic(output, text)
        except OSError as exc:
            raise _cannot_write(output, "the output file", exc) from None
        return
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except OSError as exc:  # a full disk (> /dev/full) or a closed pipe
        _silence_stdout()
        raise AccelsimError(f"cannot write the results to standard output: {exc.strerror or exc}") from None


def _silence_stdout() -> None:
    """After stdout failed, point it at /dev/null so the interpreter's final flush is quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def _refuse_overwriting_inputs(output: str | None, *inputs: Any) -> None:
    """``-o`` onto one of the run's own input files would destroy it: refused before any work."""
    if not output:
        return
    target = Path(output).resolve()
    for given in inputs:
        if given and isinstance(given, (str, Path)) and Path(given).exists() and Path(given).resolve() == target:
            raise AccelsimError(f"-o {output} would overwrite one of this run's input files", file=str(output))


# ---------------------------------------------------------------------- commands


def _family_flags() -> dict[str, tuple[Any, list[str]]]:
    """Every family's option flags by field: the first declaration and the kinds that take it."""
    from .hw import FAMILIES

    flags: dict[str, tuple[Any, list[str]]] = {}
    for kind in FAMILIES.names():
        for flag in FAMILIES.get(kind).flags:
            flags.setdefault(flag.field, (flag, []))[1].append(kind)
    return flags


def _add_family_flags(p: argparse.ArgumentParser) -> None:
    """The options of every hardware family, as flags; a family adds its own by declaring them."""
    from .hw import FAMILIES

    for field, (flag, kinds) in _family_flags().items():
        where = f"[{', '.join(kinds)} hardware]"
        if flag.const is not None:
            p.add_argument(flag.option, dest=f"option_{field}", default=None, action="store_const",
                           const=flag.const, help=f"{flag.help} {where}")
            continue
        choices = [c for kind in kinds for f in FAMILIES.get(kind).flags if f.field == field
                   for c in (f.choices or ())]
        p.add_argument(flag.option, dest=f"option_{field}", default=None, metavar=None if choices else flag.metavar,
                       choices=list(dict.fromkeys(choices)) or None, type=flag.type,
                       help=f"{flag.help} {where}")


def _options(args: argparse.Namespace) -> dict[str, Any]:
    return {k[len("option_"):]: v for k, v in vars(args).items() if k.startswith("option_") and v is not None}


def cmd_estimate(args: argparse.Namespace) -> int:
    from .estimation import estimate
    from .progress import ProgressBar

    options = _options(args)
    _refuse_overwriting_inputs(args.output, args.model, args.hw,
                               *(v for v in (options or {}).values() if isinstance(v, str)))
    _check_report_folders(args.report, args.scalesim_report)

    with ProgressBar(enabled=not args.json and not args.quiet) as bar:
        est = estimate(args.model, args.hw, batch=args.batch, precision=args.precision, options=options,
                       seed=args.seed, cache=not args.no_cache, jobs=args.jobs or os.cpu_count() or 1,
                       progress=bar.update, passes=args.passes)
    if args.json:
        text = _json_text(est.to_dict())
    elif args.csv:
        from .report.table import render_csv
        text = render_csv(est)
    else:
        from .report.table import render_table
        text = render_table(est)
    if args.show_mapping and not args.json and not args.csv:
        from .report.table import render_mappings
        text += render_mappings(est)
    if args.scalesim_report:
        from .report.scalesim import write_scalesim_reports
        try:
            write_scalesim_reports(est, args.scalesim_report)
        except OSError as exc:
            raise _cannot_write(args.scalesim_report, "the SCALE-Sim reports", exc) from None
    _report_and_emit(est, text, args)
    return 0


def _check_report_folders(*folders: str | None) -> None:
    for folder in folders:
        if folder and Path(folder).exists() and not Path(folder).is_dir():
            raise AccelsimError("exists and is not a folder; a report is written into a folder", file=folder)


def _report_and_emit(est: Any, text: str, args: argparse.Namespace,
                     write: Callable[[Any, str], Any] | None = None) -> None:
    """Write ``--report`` (if asked: ``write(est, folder)``, by default the estimate report)
    and then the output; a failed write removes a report folder this run created, so a
    failed run leaves no partial output."""
    new_report = False
    if args.report:
        if write is None:
            from .report.html import write_report as write
        new_report = not Path(args.report).exists()
        try:
            write(est, args.report)
        except OSError as exc:
            raise _cannot_write(args.report, "the report", exc) from None
    try:
        _emit(text, args.output)
    except BaseException:
        if new_report:
            import shutil
            shutil.rmtree(args.report, ignore_errors=True)
        raise


# train's flags that only a cluster takes: argparse dest -> DistributedOptions field
_CLUSTER_FLAGS = {"data": "data", "tensor": "tensor", "pipeline": "pipeline", "microbatches": "microbatches",
                  "schedule": "schedule", "comm": "comm", "ps_shards": "ps_shards", "bucket_size": "bucket_bytes",
                  "overlap": "overlap", "sync": "sync", "stragglers": "stragglers", "compress": "compress",
                  "epochs": "epochs", "dataset_size": "dataset_size", "iterations": "iterations"}


def _train_cluster(args: argparse.Namespace, options: dict[str, Any]) -> int:
    from .distributed import DistributedOptions, scaling_curve, train_distributed
    from .progress import ProgressBar

    given = {field: getattr(args, dest) for dest, field in _CLUSTER_FLAGS.items() if getattr(args, dest) is not None}
    dist = DistributedOptions(**given)
    with ProgressBar(enabled=not args.json and not args.quiet) as bar:
        step = train_distributed(args.model, args.hw, batch=args.batch, precision=args.precision,
                                 optimizer=args.optimizer, recompute=args.recompute, options=dist,
                                 family_options=options, seed=args.seed, cache=not args.no_cache,
                                 jobs=args.jobs or os.cpu_count() or 1, progress=bar.update, passes=args.passes)
    if args.json:
        text = _json_text(step.to_dict())
    else:
        from .report.distributed import render_distributed
        text = render_distributed(step)

    def write(result: Any, folder: str) -> Any:
        from .report.distributed import write_distributed_report
        return write_distributed_report(result, scaling_curve(result, args.hw, dist, seed=args.seed), folder)

    _report_and_emit(step, text, args, write)
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from .distributed.cluster import is_cluster
    from .progress import ProgressBar
    from .training.step import train

    options = _options(args)
    if is_cluster(args.hw):
        _refuse_overwriting_inputs(args.output, args.model, args.hw)
        _check_report_folders(args.report)
        return _train_cluster(args, options)
    flags = [f"--{dest.replace('_', '-')}" for dest in _CLUSTER_FLAGS if getattr(args, dest) is not None]
    if flags:
        verb = "needs" if len(flags) == 1 else "need"
        raise AccelsimError(f"{', '.join(flags)} {verb} a cluster (kind: cluster), e.g. --hw dgx_a100_ib; "
                            f"{args.hw} is one device (see 'accelsim hw')", file=str(args.hw))
    _refuse_overwriting_inputs(args.output, args.model, args.hw,
                               *(v for v in (options or {}).values() if isinstance(v, str)))
    _check_report_folders(args.report)
    with ProgressBar(enabled=not args.json and not args.quiet) as bar:
        step = train(args.model, args.hw, batch=args.batch, precision=args.precision, optimizer=args.optimizer,
                     recompute=args.recompute, options=options, seed=args.seed, cache=not args.no_cache,
                     jobs=args.jobs or os.cpu_count() or 1, progress=bar.update, passes=args.passes)
    if args.json:
        text = _json_text(step.to_dict())
    else:
        from .report.table import render_train
        text = render_train(step)
    _report_and_emit(step.as_estimate(), text, args)
    return 0


def cmd_compress(args: argparse.Namespace) -> int:
    from .compression import compress
    from .errors import SpecError
    from .progress import ProgressBar

    options = _options(args)
    npz = Path(args.output).with_suffix(".npz") if args.output else None
    _refuse_overwriting_inputs(args.output, args.model, args.hw)
    _refuse_overwriting_inputs(str(npz) if npz else None, args.model)
    if args.auto:
        from .compression.auto import auto_compress, parse_target
        target = parse_target(args.target)
        with ProgressBar(enabled=not args.json and not args.quiet) as bar:
            result = auto_compress(args.model, args.hw, target=target, min_accuracy=args.min_accuracy,
                                   min_snr_db=args.min_snr_db, batch=args.batch, precision=args.precision,
                                   options=options, seed=args.seed, measure=args.measure, progress=bar.update)
    else:
        if not args.passes:
            raise SpecError("give the passes to run (--passes \"prune:0.8,quantize:int8\") or --auto",
                            field="passes")
        with ProgressBar(enabled=not args.json and not args.quiet) as bar:
            result = compress(args.model, args.hw, args.passes, batch=args.batch, precision=args.precision,
                              options=options, seed=args.seed, cache=not args.no_cache, measure=args.measure,
                              progress=bar.update)
    if args.output:
        from .frontend.yaml_export import write_model_yaml
        try:
            written = write_model_yaml(result.graph, args.output)
        except OSError as exc:
            raise _cannot_write(args.output, "the compressed model", exc) from None
        print(f"wrote {', '.join(str(p) for p in written)}", file=sys.stderr)
    if args.json:
        print(_json_text(result.to_dict()))
    else:
        from .report.compression import render_compressed
        print(render_compressed(result), end="")
    return 0


def cmd_inspect(args: argparse.Namespace) -> int:
    from .estimation import compile
    from .report.table import render_grid

    _refuse_overwriting_inputs(args.output, args.model)
    graph = compile(args.model, batch=args.batch, precision=args.precision, passes=args.passes)
    layers = graph.layers()
    if args.json:
        data = {
            "model": graph.name,
            "inputs": {n: {"shape": list(graph.type_of(n).shape), "dtype": graph.type_of(n).dtype.name}
                       for n in graph.inputs},
            "outputs": graph.outputs,
            "totals": {"macs": graph.macs(), "params": graph.params(), "layers": len(layers)},
            "layers": [{"name": l.name, "op": l.op, "inputs": list(l.node.inputs),
                        "output_shape": list(l.output.shape), "dtype": l.output.dtype.name,
                        "macs": l.macs, "params": l.params, "workload": l.workload.kind,
                        "dims": dict(l.workload.dims)} for l in layers],
        }
        _emit(_json_text(data), args.output)
        return 0
    rows = [[l.name, l.op, str(l.output), f"{l.macs:,}", f"{l.params:,}", l.workload.kind] for l in layers]
    rows.append(["TOTAL", "", "", f"{graph.macs():,}", f"{graph.params():,}", ""])
    text = render_grid(["layer", "op", "output", "MACs", "params", "workload"], rows,
                       [False, False, False, True, True, False])
    _emit(text + "\n", args.output)
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from .frontend import model_catalog
    from .report.table import render_grid

    rows = [[name, description] for name, description in model_catalog()]
    _emit(render_grid(["model", "description"], rows, [False, False]) + "\n", None)
    return 0


def cmd_hw(args: argparse.Namespace) -> int:
    from .hw import hardware_catalog
    from .report.table import render_grid

    rows = [list(entry) for entry in hardware_catalog()]
    _emit(render_grid(["hardware", "kind", "description"], rows, [False, False, False]) + "\n", None)
    return 0


def cmd_convert(args: argparse.Namespace) -> int:
    from .estimation import compile
    from .frontend.yaml_export import write_model_yaml

    npz = Path(args.output).with_suffix(".npz")
    _refuse_overwriting_inputs(args.output, args.model)
    _refuse_overwriting_inputs(str(npz), args.model)
    graph = compile(args.model, passes=args.passes)
    for path in write_model_yaml(graph, args.output):
        print(f"wrote {path}")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from .report.table import render_grid
    from .validation import Skipped, run_all

    rows, records, skipped, failed = [], [], [], 0
    for case, result in run_all(args.cases or None):
        if isinstance(result, Skipped):
            rows.append([case.name, "-", "", "", "", "", "skipped"])
            records.append({"case": case.name, "skipped": str(result)})
            skipped.append(f"  {case.name}: {result}")
            continue
        for c in result:
            failed += not c.ok
            bound = {"upper_bound": "upper bound", "lower_bound": "lower bound"}.get(
                c.kind, "exact" if c.tolerance == 0 else f"±{c.tolerance:.0%}")
            rows.append([c.case, c.quantity, f"{c.predicted:.6g}", f"{c.reference:.6g}",
                         f"{c.error:+.2%}", bound, "ok" if c.ok else "FAIL"])
            records.append({"case": c.case, "quantity": c.quantity, "predicted": c.predicted,
                            "reference": c.reference, "error": c.error, "tolerance": c.tolerance,
                            "kind": c.kind, "source": c.source, "ok": c.ok})
    if args.json:
        result = {"checks": records, "failed": failed, "skipped": len(skipped)}
        _emit(_json_text(result), None)
    else:
        text = render_grid(["case", "quantity", "predicted", "reference", "error", "tolerance", "status"],
                           rows, [False, False, True, True, True, False, False])
        checked = sum(1 for r in records if "ok" in r)
        summary = f"{checked - failed} of {checked} checks within tolerance"
        if skipped:
            cases = "case" if len(skipped) == 1 else "cases"
            summary += f"; {len(skipped)} {cases} skipped:\n" + "\n".join(skipped)
        _emit(text + f"\n\n{summary}\n", None)
    return 1 if failed else 0


# ---------------------------------------------------------------------- parser


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _names(text: str) -> tuple[str, ...]:
    """A comma-separated list of names (``fuse,prune``)."""
    names = tuple(n.strip() for n in text.split(","))
    if not all(names):
        raise argparse.ArgumentTypeError(f"expected names separated by commas, got {text!r}")
    return names


def _bytes(text: str) -> float:
    from .units import parse_quantity

    try:
        value = parse_quantity(text, "bytes")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive size, got {text!r}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _add_cluster_flags(p: argparse.ArgumentParser) -> None:
    """``train``'s flags for clusters (``--hw CLUSTER``); each defaults to None, "not given"."""
    g = p.add_argument_group("on a cluster (--hw CLUSTER; docs/distributed.md)")
    g.add_argument("--data", type=_positive_int, metavar="N",
                   help="data-parallel replicas (default: every device the other degrees leave)")
    g.add_argument("--tensor", type=_positive_int, metavar="N", help="tensor-parallel degree (default 1)")
    g.add_argument("--pipeline", type=_positive_int, metavar="N", help="pipeline stages (default 1)")
    g.add_argument("--microbatches", type=_positive_int, metavar="M",
                   help="micro-batches per batch (default: the largest divisor up to 4 x stages)")
    g.add_argument("--schedule", choices=("gpipe", "1f1b"), help="pipeline schedule (default 1f1b)")
    g.add_argument("--comm", choices=("ps", "ring", "tree", "hierarchical", "torus2d"),
                   help="gradient exchange (default: the fastest allreduce; ps under asp/ssp)")
    g.add_argument("--ps-shards", type=_positive_int, metavar="S", help="parameter-server shards (default 1)")
    g.add_argument("--bucket-size", type=_bytes, metavar="SIZE",
                   help="gradient bucket / tensor-fusion size, e.g. 25MiB (the default)")
    g.add_argument("--overlap", action=argparse.BooleanOptionalAction, default=None,
                   help="send each bucket while backpropagation goes on (default: on)")
    g.add_argument("--sync", metavar="MODE", help="bsp (default), asp, or ssp:S with staleness bound S")
    g.add_argument("--stragglers", metavar="DIST",
                   help="per-worker step-time spread: none (default), lognormal:SIGMA, slow:FRACTIONxFACTOR "
                        "(e.g. slow:0.01x4), or the two joined by +")
    g.add_argument("--compress", choices=("none", "fp16", "int8", "1bit"), help="gradient compression (default none)")
    g.add_argument("--epochs", type=_positive_float, metavar="E",
                   help="epochs for time to train (default: 90 for the zoo's ImageNet models)")
    g.add_argument("--dataset-size", type=_positive_int, metavar="N",
                   help="training samples per epoch (default: ImageNet-1k's 1,281,167 for its models)")
    g.add_argument("--iterations", type=_positive_int, metavar="N",
                   help="iterations simulated where replicas drift apart (asp, ssp, stragglers; default 200)")


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = _Parser(prog="accelsim", description=(
        "Predict cycles, latency, energy and memory traffic of neural networks on AI hardware."))
    parser.add_argument("--version", action="version", version=f"accelsim {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    common = _Parser(add_help=False)
    common.add_argument("model", metavar="MODEL",
                        help="model YAML or ONNX file, or a zoo name (see 'accelsim models')")
    common.add_argument("--batch", type=_positive_int, default=None, metavar="N",
                        help="batch size: the first dimension of every input (default: the "
                             "model's own, 1 for the zoo)")
    common.add_argument("--precision", metavar="P",
                        help=f"cast tensors to this type ({_PRECISIONS}); estimate defaults "
                             "to the hardware's default precision")
    common.add_argument("--passes", type=_names, default=(), metavar="P[,P...]",
                        help="graph passes to run, in order, before costing (e.g. fuse: batchnorms "
                             "folded into their convolutions, activations into their producers)")
    common.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    common.add_argument("--json", action="store_true", help="print one JSON object")
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)

    p = sub.add_parser("estimate", parents=[common], help="cost a model on a machine",
                       description="Cost a model on a machine, per layer and in total.")
    p.add_argument("--hw", required=True, metavar="HW",
                   help="hardware YAML file or a bundled name (see 'accelsim hw')")
    p.add_argument("--csv", action="store_true", help="print CSV: one row per layer and a TOTAL row")
    p.add_argument("--report", metavar="DIR", help="also write PNG plots and index.html to DIR")
    p.add_argument("--show-mapping", action="store_true", help="print each layer's chosen loop nest")
    p.add_argument("--seed", type=int, default=0, metavar="N",
                   help="seed of every random choice, e.g. the mapping search (default 0)")
    p.add_argument("--jobs", type=_positive_int, default=None, metavar="N",
                   help="worker processes for mapping searches (default: one per CPU)")
    p.add_argument("--no-cache", action="store_true",
                   help="compute every result afresh (mapping searches, systolic simulations) "
                        "instead of reusing results cached on disk")
    p.add_argument("--quiet", action="store_true", help="no progress bar on stderr")
    _add_family_flags(p)
    p.add_argument("--scalesim-report", metavar="DIR",
                   help="also write COMPUTE_REPORT.csv and DETAILED_ACCESS_REPORT.csv in SCALE-Sim's layout")
    p.set_defaults(func=cmd_estimate)

    p = sub.add_parser("train", parents=[common], help="cost one training step on a device or a cluster",
                       description="Cost one training iteration (forward, backward, optimiser) on one "
                                   "device, with its memory footprint, or on a cluster (--hw CLUSTER) "
                                   "with data, tensor and pipeline parallelism (docs/distributed.md).")
    p.add_argument("--hw", required=True, metavar="HW",
                   help="hardware YAML file or a bundled name (see 'accelsim hw')")
    p.add_argument("--optimizer", default="sgd", choices=("sgd", "momentum", "adam"),
                   help="the optimiser whose update and state are costed (default sgd)")
    p.add_argument("--recompute", default="none", choices=("none", "selective", "full"),
                   help="activation recomputation: none, selective (memory-bound layers) or full "
                        "(checkpoints every sqrt(layers))")
    p.add_argument("--report", metavar="DIR", help="also write PNG plots and index.html to DIR")
    p.add_argument("--seed", type=int, default=0, metavar="N", help="seed of every random choice (default 0)")
    p.add_argument("--jobs", type=_positive_int, default=None, metavar="N",
                   help="worker processes for mapping searches (default: one per CPU)")
    p.add_argument("--no-cache", action="store_true", help="compute every result afresh")
    p.add_argument("--quiet", action="store_true", help="no progress bar on stderr")
    _add_cluster_flags(p)
    _add_family_flags(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("compress", parents=[common], help="compress a model and cost it before and after",
                       description="Run compression passes (--passes \"prune:0.8,quantize:int8,share:5\") or "
                                   "search a per-layer policy for a target (--auto --target latency=0.5x), "
                                   "and show bytes, MACs, latency, energy and accuracy before and after "
                                   "(docs/compression.md). -o writes the compressed model as YAML + .npz.")
    p.add_argument("--hw", required=True, metavar="HW",
                   help="hardware YAML file or a bundled name (see 'accelsim hw')")
    p.add_argument("--auto", action="store_true",
                   help="search per-layer pruning ratio, structure and bit width for --target")
    p.add_argument("--target", default="latency=0.5x", metavar="METRIC=RATIOx",
                   help="with --auto: latency=0.5x or energy=0.3x of the uncompressed model (default latency=0.5x)")
    p.add_argument("--min-accuracy", type=float, default=None, metavar="F",
                   help="with --auto: the lowest accuracy (a fraction) a policy may have")
    p.add_argument("--min-snr-db", type=float, default=None, metavar="DB",
                   help="with --auto, on a model without test data: the lowest output SNR a policy may have")
    p.add_argument("--measure", default="auto", choices=("auto", "always", "never"),
                   help="measure quality on the integer and sparse kernels: auto (unless the model is too "
                        "large for the numpy reference), always, never")
    p.add_argument("--seed", type=int, default=0, metavar="N", help="seed of every random choice (default 0)")
    p.add_argument("--no-cache", action="store_true", help="compute every result afresh")
    p.add_argument("--quiet", action="store_true", help="no progress bar on stderr")
    _add_family_flags(p)
    p.set_defaults(func=cmd_compress)

    p = sub.add_parser("inspect", parents=[common], help="per-layer shapes, MACs and parameters",
                       description="Show a model's layers with shapes, MACs and parameters.")
    p.set_defaults(func=cmd_inspect)

    p = sub.add_parser("models", help="list the model zoo", description="List the bundled models.")
    p.set_defaults(func=cmd_models)
    p = sub.add_parser("hw", help="list bundled hardware", description="List the bundled hardware configs.")
    p.set_defaults(func=cmd_hw)

    p = sub.add_parser("validate", help="run the bundled validation cases",
                       description="Compare predictions with published figures and other tools' outputs; "
                                   "exit 1 if any check is out of tolerance.")
    p.add_argument("cases", nargs="*", metavar="CASE", help="cases to run (default: all)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("convert", help="convert a model (e.g. ONNX) to model YAML",
                       description="Write a model as model YAML, with weights in an .npz beside it.")
    p.add_argument("model", metavar="MODEL", help="model file (ONNX or YAML) or zoo name")
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="the YAML file to write")
    p.add_argument("--passes", type=_names, default=(), metavar="P[,P...]",
                   help="graph passes to run, in order, before writing (e.g. fuse)")
    p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_convert)
    return parser


def _show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                  file: Any = None, line: str | None = None) -> None:
    """Warnings as one line on stderr, like errors (the message names its own file and line)."""
    print(f"accelsim: warning: {message}", file=sys.stderr)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the process is, so that cleanups run as for Ctrl-C."""


def _on_sigterm(signum: int, frame: Any) -> None:
    raise Terminated()


def main(argv: Sequence[str] | None = None) -> int:
    import signal
    import threading

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _on_sigterm)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    if getattr(args, "json", False) and getattr(args, "csv", False):
        parser.error("--json and --csv exclude each other")
    from .errors import AccelsimError

    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            return int(args.func(args))
    except AccelsimError as exc:
        if args.debug:
            raise
        print(f"accelsim: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except Terminated:
        print("accelsim: terminated", file=sys.stderr)
        return 143
    except KeyboardInterrupt:
        print("accelsim: interrupted", file=sys.stderr)
        return 130


def _run() -> None:  # console-script entry point
    sys.exit(main())


if __name__ == "__main__":
    _run()
