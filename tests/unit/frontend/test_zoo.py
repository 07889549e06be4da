"""The bundled model zoo (``models/*.yaml``) against published MAC and parameter counts.

Reference figures come from ../shared/reference/published.md, section 1 (status letters as
there: V = seen in the cited source, U = unverified, D = derived). The V figures are the gates
(within 1%); hand-derived counts are written out below so that each number can be re-checked.

Our ``graph.macs()`` counts conv/linear/matmul multiply-accumulates only. The torchvision
counter table (cv-models) also adds a little for BN/ReLU/pooling, which stays inside 1% for
every CNN except MobileNet v2 (see ``test_mobilenet_v2``).
"""

from __future__ import annotations

import functools
import re

import pytest

from accelsim.frontend import bundled, load_model
from accelsim.frontend.model_yaml import load_model_yaml
from accelsim.ir import Graph

M = 1_000_000
CV_MODELS = "cv_models_counter_V"   # ffiirree/cv-models README table, published.md 1a, status V


@functools.lru_cache(maxsize=None)
def zoo(name: str) -> Graph:
    return load_model(name)


@functools.lru_cache(maxsize=None)
def zoo_at(name: str, side: int) -> Graph:
    """The zoo model rebuilt with a ``side`` x ``side`` image input (its YAML's one
    ``shape: [1, 3, H, W]`` edited before loading)."""
    path = bundled("models")[name]
    text, count = re.subn(r"shape: \[1, 3, \d+, \d+\]", f"shape: [1, 3, {side}, {side}]",
                          path.read_text())
    assert count == 1, f"{name}: expected one image input shape, found {count}"
    return load_model_yaml(path, text)


def rel_err(value: float, reference: float) -> float:
    return abs(value - reference) / reference


def bn_elements(graph: Graph) -> int:
    return sum(layer.output.numel for layer in graph.layers() if layer.op == "batchnorm")


# --------------------------------------------------------------------------- every model

EXPECTED_ZOO = {
    "alexnet", "vgg16", "nin", "googlenet", "resnet18", "resnet50", "mobilenet_v1",
    "mobilenet_v2", "squeezenet1_1", "bert_base", "gpt2_small", "digits_mlp", "digits_cnn",
    "resnet101", "inception_v3",
}


def test_zoo_has_every_model() -> None:
    assert EXPECTED_ZOO <= set(bundled("models"))


@pytest.mark.parametrize("name", sorted(bundled("models")))
def test_every_model_loads_and_verifies(name: str) -> None:
    graph = zoo(name)
    graph.verify()
    assert graph.outputs
    assert graph.macs() > 0
    assert graph.params() > 0
    for node in graph.nodes():
        if node.op == "input":
            assert node.attrs["shape"][0] == 1, f"{name}: batch dimension of {node.name} is not 1"


def test_with_batch_scales_macs_of_a_cnn() -> None:
    graph = zoo("resnet18")
    batched = graph.with_batch(4)
    assert batched.macs() == 4 * graph.macs()
    assert batched.params() == graph.params()
    assert batched.type_of("fc").shape == (4, 1000)


def test_with_batch_scales_macs_of_a_transformer() -> None:
    graph = zoo("bert_base")
    assert graph.with_batch(2).macs() == 2 * graph.macs()


# --------------------------------------------------------------------------- CNNs vs the counter table

# name: (MACs in M, params in M) from the cv-models table (published.md section 1a, status V)
COUNTER_TABLE = {
    "alexnet": (714.692, 61.1008),        # torchvision single-tower 64-192-384-256-256, 224x224
    "vgg16": (15_483.862, 138.3575),
    "resnet18": (1_819.066, 11.6895),
    "resnet50": (4_111.515, 25.5570),
    "resnet101": (7_833.972, 44.5492),    # same table (not yet a row of published.md)
    "googlenet": (1_504.880, 6.6249),     # torchvision variant: BN, 3x3 "5x5" branch, no aux
    "inception_v3": (2_847.271, 23.8346),  # no aux classifier; MACs at 224x224, see below
    "squeezenet1_1": (351.911, 1.2355),
}

# The counter ran every model at 224x224 (published.md 1a's heading), Inception v3 included:
# at its native 299x299 the zoo model has 2.0x the table's MACs (torchvision's own 5.713 G,
# test_against_torchvision_meta). Those rows are checked on the model rebuilt at 224x224.
COUNTER_INPUT_SIDE = {"inception_v3": 224}


@pytest.mark.parametrize("name", [pytest.param(n, id=f"{n}-{CV_MODELS}") for n in COUNTER_TABLE])
def test_cnn_against_counter_table(name: str) -> None:
    macs_m, params_m = COUNTER_TABLE[name]
    graph = zoo_at(name, COUNTER_INPUT_SIDE[name]) if name in COUNTER_INPUT_SIDE else zoo(name)
    assert rel_err(graph.macs(), macs_m * M) < 0.01
    assert rel_err(graph.params(), params_m * M) < 0.01
    # The table prints params to 100 parameters; the torchvision models match to that precision.
    assert abs(graph.params() - params_m * M) <= 50


# name: (GMACs, params) from torchvision's weights meta ("_ops", "num_params"; torchvision/models/
# resnet.py and inception.py, IMAGENET1K_V1), at each model's own input size. "_ops" counts conv
# and linear multiply-accumulates only, as graph.macs() does (not yet rows of published.md).
TORCHVISION_META = {
    "resnet50": (4.089, 25_557_032),
    "resnet101": (7.801, 44_549_160),
    # 27,161,264 with the aux classifier (conv 768->128 1x1 + BN, conv 128->768 5x5 + BN,
    # fc 768->1000), which the zoo model leaves out:
    "inception_v3": (5.713, 27_161_264 - (128 * 768 + 2 * 128) - (768 * 128 * 25 + 2 * 768)
                     - (768 * 1000 + 1000)),
}


@pytest.mark.parametrize("name", list(TORCHVISION_META))
def test_against_torchvision_meta(name: str) -> None:
    gmacs, params = TORCHVISION_META[name]
    graph = zoo(name)
    assert rel_err(graph.macs(), gmacs * 1e9) < 0.01
    assert abs(graph.macs() - gmacs * 1e9) <= 0.0005e9   # "_ops" is printed to 1 M MACs
    assert graph.params() == params


def test_mobilenet_v1() -> None:
    # Howard et al. 2017, arXiv:1704.04861, Table 8: 569 M mult-adds, 4.2 M params
    # (quoted by cv-models README; published.md 1a, status V).
    graph = zoo("mobilenet_v1")
    assert rel_err(graph.macs(), 569 * M) < 0.01
    assert rel_err(graph.params(), 4.2 * M) < 0.01
    assert graph.params() == 4_231_976   # conv weights + BN scale/shift + fc 1024x1000+1000


def test_mobilenet_v2() -> None:
    # cv-models README (torchvision counter, published.md 1a, V): 314.130 M MACs, 3.5049 M params.
    graph = zoo("mobilenet_v2")
    assert rel_err(graph.params(), 3.5049 * M) < 0.01
    assert abs(graph.params() - 3.5049 * M) <= 50
    # Conv+linear MACs are 300.77 M, 4.3% below the counter: the counter also charges 2 per
    # batchnorm output element, which is large next to MobileNet v2's cheap depthwise convs.
    # Adding that back reproduces the counter figure; the gate is on that reconstruction.
    assert rel_err(graph.macs() + 2 * bn_elements(graph), 314.130 * M) < 0.01
    # Paper (Sandler et al., CVPR 2018): "300 M multiply-adds" -- published.md status U, so this
    # bound is informative, not a verified gate.
    assert rel_err(graph.macs(), 300 * M) < 0.01


# --------------------------------------------------------------------------- NiN (hand-derived)


def test_nin() -> None:
    # ImageNet NiN, Caffe model zoo prototxt; 224x224 input, Caffe ceil pooling: 54 -> 27 -> 13 -> 6.
    # (out, in, k, output side) per conv, bias included in params.
    convs = [
        (96, 3, 11, 54), (96, 96, 1, 54), (96, 96, 1, 54),                  # conv1, cccp1, cccp2
        (256, 96, 5, 27), (256, 256, 1, 27), (256, 256, 1, 27),             # conv2, cccp3, cccp4
        (384, 256, 3, 13), (384, 384, 1, 13), (384, 384, 1, 13),            # conv3, cccp5, cccp6
        (1024, 384, 3, 6), (1024, 1024, 1, 6), (1000, 1024, 1, 6),          # conv4, cccp7, cccp8
    ]
    params = sum(k * c * r * r + k for k, c, r, _ in convs)
    macs = sum(k * c * r * r * p * p for k, c, r, p in convs)
    assert params == 7_595_176          # ~7.6 M, published.md 1b (status U)
    assert macs == 1_100_188_800
    graph = zoo("nin")
    assert graph.params() == params
    assert graph.macs() == macs
    # published.md 1b says "~1.1 G MACs" with status U (no source found): only a 10% check.
    assert rel_err(graph.macs(), 1.1e9) < 0.10
    assert rel_err(graph.params(), 7.6 * M) < 0.01


# --------------------------------------------------------------------------- transformers


def transformer_layer_macs(s: int, h: int, f: int) -> int:
    # q, k, v, output projections 4*S*H^2; Q@K^T and P@V 2*S^2*H; FFN 2*S*H*F
    return 4 * s * h * h + 2 * s * s * h + 2 * s * h * f


def transformer_layer_params(h: int, f: int) -> int:
    # 4 HxH linears with bias, FFN H->F->H with biases, two LayerNorms (scale + shift)
    return 4 * (h * h + h) + (h * f + f) + (f * h + h) + 2 * 2 * h


def test_bert_base() -> None:
    # HF transformers BertModel, bert-base-uncased config.
    vocab, positions, types, h, layers, f, s = 30522, 512, 2, 768, 12, 3072, 128
    embeddings = (vocab + positions + types) * h + 2 * h        # three tables + LayerNorm
    pooler = h * h + h
    params = embeddings + layers * transformer_layer_params(h, f) + pooler
    assert params == 109_482_240                                 # HF BertModel parameter count
    macs = layers * transformer_layer_macs(s, h, f) + h * h      # pooler acts on one token
    assert macs == 11_174_215_680                                # ~11.2 G, published.md 1b (D)
    graph = zoo("bert_base")
    assert graph.params() == params
    assert graph.macs() == macs
    # Devlin et al., NAACL 2019: 110 M parameters (published.md 1b, status U).
    assert rel_err(graph.params(), 110 * M) < 0.01


def test_gpt2_small() -> None:
    # HF transformers GPT2LMHeadModel, gpt2 config.
    vocab, positions, h, layers, f, s = 50257, 1024, 768, 12, 3072, 1024
    tied_params = vocab * h + positions * h + layers * transformer_layer_params(h, f) + 2 * h  # + ln_f
    assert tied_params == 124_439_808        # released checkpoint (published.md 1b, "124 M", U)
    graph = zoo("gpt2_small")
    # The LM head shares wte's weights in the checkpoint; the IR cannot tie weights, so the
    # head is a bias-free linear whose 50257x768 weights are counted a second time.
    assert graph.params() == tied_params + vocab * h
    macs = layers * transformer_layer_macs(s, h, f) + s * h * vocab   # + LM head (real compute)
    assert graph.macs() == macs
    # published.md 1b (D): ~85 M MACs per token in the layers' linears (12 layers x 12*768^2)
    linear_macs = sum(layer.workload.macs for layer in graph.layers()
                      if layer.op == "linear" and layer.name != "lm_head")
    assert rel_err(linear_macs / s, 85 * M) < 0.01


# --------------------------------------------------------------------------- digits classifiers


def test_digits_mlp() -> None:
    # flatten 64 -> linear 32 + ReLU -> linear 10
    graph = zoo("digits_mlp")
    assert graph.params() == (64 * 32 + 32) + (32 * 10 + 10) == 2_410
    assert graph.macs() == 64 * 32 + 32 * 10 == 2_368
    assert graph.type_of(graph.outputs[0]).shape == (1, 10)


def test_digits_cnn() -> None:
    # conv 1->8 3x3 p1 (8x8), pool 2, conv 8->16 3x3 p1 (4x4), pool 2, flatten 64, linear 10
    graph = zoo("digits_cnn")
    assert graph.params() == (8 * 1 * 9 + 8) + (16 * 8 * 9 + 16) + (64 * 10 + 10) == 1_898
    assert graph.macs() == 8 * 8 * 8 * 1 * 9 + 4 * 4 * 16 * 8 * 9 + 64 * 10 == 23_680
    assert graph.type_of(graph.outputs[0]).shape == (1, 10)
