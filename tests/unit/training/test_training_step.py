"""One training step: backward workloads against hand counts, memory by kind, the CLI."""

from __future__ import annotations

import json

import pytest

import accelsim
from accelsim.cli import main
from accelsim.frontend.zoo import bundled
from accelsim.ir import Graph
from accelsim.training.backward import backward_graph
from accelsim.training.step import training_forward


def _conv_net() -> Graph:
    g = Graph("net")
    g.add("x", "input", (), {"shape": [2, 3, 8, 8]})
    g.add("c1", "conv2d", ["x"], {"out_channels": 4, "kernel": 3, "padding": 1, "bias": False})
    g.add("r", "relu", ["c1"])
    g.add("c2", "conv2d", ["r"], {"out_channels": 5, "kernel": 3, "stride": 2, "padding": 1, "bias": False})
    g.add("f", "flatten", ["c2"])
    g.add("fc", "linear", ["f"], {"out_features": 10})
    g.set_outputs(["fc"])
    return g


def test_conv_and_linear_gradients_are_gemms_of_the_forward_macs() -> None:
    """Hand counts: c2 is 2*5*4*4*4*3*3 = 5760 MACs, so are its input and weight gradients;
    fc (80 -> 10, rows 2): dgrad m=2 n=80 k=10, wgrad m=10 n=80 k=2; c1 reads the data, so it
    has a weight gradient only."""
    back = backward_graph(_conv_net()).graph
    layers = {l.name: l for l in back.layers()}
    assert layers["c2.dgrad"].macs == layers["c2.wgrad"].macs == 5760
    assert layers["c2.dgrad"].output.shape == (2, 4, 8, 8)
    assert layers["c2.wgrad"].output.shape == (5, 4, 3, 3)
    fc = {d: layers["fc.dgrad"].workload.dim(d) for d in "MNK"}, {d: layers["fc.wgrad"].workload.dim(d) for d in "MNK"}
    assert fc == ({"M": 2, "N": 80, "K": 10}, {"M": 10, "N": 80, "K": 2})
    assert "c1.wgrad" in layers and "c1.dgrad" not in layers
    assert layers["r.grad"].workload.kind == "elementwise"
    assert "fc.bgrad" in layers


def test_resnet50_backward_is_twice_forward_less_the_stem_input_gradient() -> None:
    forward = accelsim.compile("resnet50", batch=2, precision="fp16")
    back = backward_graph(forward).graph
    stem = forward.layers()[0]
    assert stem.op == "conv2d"
    assert back.macs() == 2 * forward.macs() - stem.macs


def test_a_tensor_read_twice_sums_its_gradients() -> None:
    g = Graph("fan")
    g.add("x", "input", (), {"shape": [4, 16]})
    g.add("a", "linear", ["x"], {"out_features": 16})
    g.add("b", "relu", ["a"])
    g.add("c", "add", ["a", "b"])
    g.set_outputs(["c"])
    back = backward_graph(g).graph
    assert any(n.name.startswith("a.grad_sum") and n.op == "add" for n in back.nodes())


def test_training_forward_uses_batch_statistics() -> None:
    forward = training_forward(accelsim.compile("resnet50", batch=2))
    assert "batchnorm" not in {n.op for n in forward.nodes()}
    assert "batchnorm_train" in {n.op for n in forward.nodes()}


def test_memory_by_kind_for_adam_in_mixed_precision() -> None:
    step = accelsim.train("resnet50", "a100", batch=8, precision="bf16", optimizer="adam")
    params = accelsim.compile("resnet50").params()
    m = step.memory
    assert (m.weights, m.gradients) == (2 * params, 2 * params)
    assert (m.master_weights, m.optimizer_state) == (4 * params, 8 * params)
    sgd = accelsim.train("resnet50", "a100", batch=8, precision="fp32", optimizer="sgd")
    assert (sgd.memory.master_weights, sgd.memory.optimizer_state) == (0, 0)


def test_adam_update_moves_its_bytes_hand_counted() -> None:
    """Adam at bf16 with fp32 masters, per parameter: reads grad 2 + master 4 + moments 8,
    writes master 4 + moments 8 + the bf16 copy 2 = 28 bytes."""
    step = accelsim.train("digits_mlp", "h100", batch=4, precision="bf16", optimizer="adam")
    params = accelsim.compile("digits_mlp").params()
    assert step.update.layers[0].bytes_dram == pytest.approx(28 * params)


def test_recomputation_trades_time_for_memory() -> None:
    steps = {r: accelsim.train("resnet50", "a100", batch=32, recompute=r) for r in ("none", "selective", "full")}
    assert steps["selective"].memory.activations < steps["none"].memory.activations
    assert steps["full"].memory.activations < steps["selective"].memory.activations
    assert steps["none"].recompute_s == 0 < steps["selective"].recompute_s < steps["full"].recompute_s


@pytest.mark.parametrize("hw", ["tpu_v1", pytest.param("eyeriss", marks=pytest.mark.numba), "edge_npu",
                                "h100_roofline"])
def test_train_runs_on_every_kind_that_costs_the_workloads(hw: str) -> None:
    step = accelsim.train("digits_cnn", hw)
    assert step.backward.latency_s > 0 and step.time_per_iteration_s > step.forward.latency_s


def test_train_json_contract(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "digits_cnn", "--hw", "a100", "--batch", "16", "--optimizer", "momentum", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    for key in ("time_per_iteration_s", "samples_per_s", "memory_bytes", "devices", "forward_s", "backward_s",
                "optimizer_s", "layers"):
        assert key in data
    assert data["devices"] == 1
    assert data["time_per_iteration_s"] == pytest.approx(data["forward_s"] + data["backward_s"] + data["optimizer_s"])
    assert data["samples_per_s"] == pytest.approx(16 / data["time_per_iteration_s"])
    assert {row["phase"] for row in data["layers"]} == {"forward", "backward", "optimizer"}


def test_a_step_that_does_not_fit_is_one_line_naming_need_and_capacity(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "resnet50", "--hw", "v100", "--batch", "1024", "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = captured.err.splitlines()
    assert "v100.yaml" in line and "needs" in line and "GiB" in line and "has 14.90 GiB" in line


@pytest.mark.parametrize("model", sorted(bundled("models")))
def test_estimate_and_train_the_whole_zoo_on_a_gpu(model: str) -> None:
    est = accelsim.estimate(model, "h100", batch=2)
    step = accelsim.train(model, "h100", batch=2, optimizer="adam")
    assert est.latency_s > 0 and step.backward.latency_s > 0 and step.memory.total > 0
