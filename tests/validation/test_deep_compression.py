"""Storage accounting against Deep Compression and the pruning paper before it.

Sources:
  S. Han, H. Mao, W. J. Dally, "Deep Compression: Compressing Deep Neural Networks with Pruning,
  Trained Quantization and Huffman Coding", ICLR 2016, Table 4 (AlexNet) and Table 5 (VGG-16).
  Headlines (verified in ../shared/reference/published-cloud-edge.md, section 5): AlexNet
  240 MB -> 6.9 MB (35x), VGG-16 552 MB -> 11.3 MB (49x); after pruning and quantisation
  alone, 27x and 31x (the paper's Fig. 1 caption and the tables' "P+Q" totals).

  S. Han, J. Pool, J. Tran, W. J. Dally, "Learning both Weights and Connections for Efficient
  Neural Networks", NeurIPS 2015, Tables 4 and 5. Headlines (verified, same section):
  AlexNet 61M -> 6.7M parameters (9x), VGG-16 138M -> 10.3M (13x).

The per-layer rows below are transcribed from the paper's Tables 4 and 5 (weights kept, bits
per weight and per index after pruning + quantisation, P+Q, and after Huffman coding, P+Q+H,
and each layer's compress rate), checked against a text copy of arXiv:1510.00149v5. The
megabytes are its Table 7 (240 MB, P+Q 8.9 MB, P+Q+H 6.9 MB). Weight counts are the exact ones
of the Caffe models the paper compressed (its "35K", "2M" are rounded), e.g. AlexNet conv2
256x48x5x5 (two groups).

How the tables are read: every kept weight is one relative-index CSR entry of its value bits
and index bits (4 for AlexNet, 5 for VGG-16), filler zeros are added for gaps the index
cannot span (expected count, non-zeros placed at random), and each layer has a codebook of
2**(P+Q weight bits) fp32 centroids. In P+Q+H the Huffman-coded averages are bits per stored
symbol, and a filler is a symbol of the coded streams like any other, so the fillers apply on
top of the coded averages too (bytes = entries x coded bits), with the fillers still set by
the uncoded index width. The dense baseline is every weight at 32 bits.
"""

from __future__ import annotations

import pytest

from accelsim.frontend import load_model
from accelsim.ir import Graph, Sharing, Sparsity
from accelsim.passes.storage import layer_storage, model_storage, nonzero_params

# name, weights, kept fraction (P), weight bits P+Q, P+Q+H, index bits P+Q, P+Q+H
# -- transcribed from Deep Compression Table 4 (AlexNet)
ALEXNET = [
    ("conv1", 96 * 3 * 11 * 11, 0.84, 8, 6.3, 4, 1.2),
    ("conv2", 256 * 48 * 5 * 5, 0.38, 8, 5.5, 4, 2.3),
    ("conv3", 384 * 256 * 3 * 3, 0.35, 8, 5.1, 4, 2.6),
    ("conv4", 384 * 192 * 3 * 3, 0.37, 8, 5.2, 4, 2.5),
    ("conv5", 256 * 192 * 3 * 3, 0.37, 8, 5.6, 4, 2.5),
    ("fc6", 9216 * 4096, 0.09, 5, 3.9, 4, 3.2),
    ("fc7", 4096 * 4096, 0.09, 5, 3.6, 4, 3.7),
    ("fc8", 4096 * 1000, 0.25, 5, 4.0, 4, 3.2),
]

_VGG_CONV = [(3, 64), (64, 64), (64, 128), (128, 128), (128, 256), (256, 256), (256, 256),
             (256, 512), (512, 512), (512, 512), (512, 512), (512, 512), (512, 512)]
_VGG_NAMES = ["conv1_1", "conv1_2", "conv2_1", "conv2_2", "conv3_1", "conv3_2", "conv3_3",
              "conv4_1", "conv4_2", "conv4_3", "conv5_1", "conv5_2", "conv5_3"]
_VGG_WEIGHTS = [c * k * 9 for c, k in _VGG_CONV] + [25088 * 4096, 4096 * 4096, 4096 * 1000]
# -- transcribed from Deep Compression Table 5 (VGG-16): kept, weight bits P+Q+H, index bits P+Q+H
_VGG_ROWS = [
    (0.58, 6.8, 1.7), (0.22, 6.5, 2.6), (0.34, 5.6, 2.4), (0.36, 5.9, 2.3), (0.53, 4.8, 1.8),
    (0.24, 4.6, 2.9), (0.42, 4.6, 2.2), (0.32, 4.6, 2.6), (0.27, 4.2, 2.9), (0.34, 4.4, 2.5),
    (0.35, 4.7, 2.5), (0.29, 4.6, 2.7), (0.36, 4.6, 2.3), (0.04, 3.6, 3.5), (0.04, 4.0, 4.3),
    (0.23, 4.0, 3.4),
]
VGG16 = [(name, n, kept, 8 if i < 13 else 5, wh, 5, ih)
         for i, (name, n, (kept, wh, ih)) in enumerate(zip(_VGG_NAMES + ["fc6", "fc7", "fc8"],
                                                           _VGG_WEIGHTS, _VGG_ROWS))]

# the papers' totals: P+Q ratio, P+Q+H ratio
HEADLINE = {"alexnet": (27, 35), "vgg16": (31, 49)}
TABLES = {"alexnet": ALEXNET, "vgg16": VGG16}
TOLERANCE = 0.10


def compressed_bytes(table, huffman: bool) -> float:
    total = 0.0
    for _, n, kept, wbits, wbits_h, ibits, ibits_h in table:
        s = layer_storage(n, density=kept, value_bits=wbits_h if huffman else wbits, index_bits=ibits,
                          index_coded_bits=ibits_h if huffman else None, codebook_entries=2**wbits)
        total += s.total_bytes
    return total


def ratio(model: str, huffman: bool) -> float:
    table = TABLES[model]
    return sum(row[1] for row in table) * 4 / compressed_bytes(table, huffman)


def test_weight_counts_are_the_papers():
    # the tables' rounded counts and totals (61M, 138M): the dense models of 240 and 552 MB
    assert [round(r[1] / 1e3) for r in ALEXNET[:5]] == [35, 307, 885, 664, 442]  # 663K in the table
    assert round(sum(r[1] for r in ALEXNET) / 1e6) == 61
    assert round(sum(r[1] for r in VGG16) / 1e6) == 138
    assert sum(r[1] for r in VGG16) * 4 / 1e6 == pytest.approx(552, rel=0.01)
    assert sum(r[1] for r in ALEXNET) * 4 / 1e6 == pytest.approx(240, rel=0.02)


# Measured: AlexNet 25.5x (P+Q, -5.6%) and 32.9x (P+Q+H, -6.0%); VGG-16 32.2x (+3.9%) and
# 49.8x (+1.6%). Random placement overestimates AlexNet's fillers a little (the paper's
# per-layer compress rates imply fewer), which is why AlexNet comes out low.
@pytest.mark.parametrize("model", ["alexnet", "vgg16"])
@pytest.mark.parametrize("huffman", [False, True], ids=["P+Q", "P+Q+H"])
def test_headline_ratio(model, huffman):
    published = HEADLINE[model][huffman]
    assert ratio(model, huffman) == pytest.approx(published, rel=TOLERANCE)


def test_headline_megabytes():
    # Measured: AlexNet 9.56 MB (+7.4%) and 7.42 MB (+7.5%), VGG-16 11.10 MB (-1.8%)
    assert compressed_bytes(ALEXNET, False) / 1e6 == pytest.approx(8.9, rel=TOLERANCE)
    assert compressed_bytes(ALEXNET, True) / 1e6 == pytest.approx(6.9, rel=TOLERANCE)
    assert compressed_bytes(VGG16, True) / 1e6 == pytest.approx(11.3, rel=TOLERANCE)


# Each layer's compress rate, % of its dense fp32 bytes, P+Q and P+Q+H -- transcribed from
# the last two columns of Tables 4 and 5. (Table 5's rows weighted by their weights give
# 33.3x and 52.7x, not the 31x and 49x of its total row; Table 4's give 26.9x and 34.5x.)
RATES = {
    "alexnet": [(32.6, 20.53), (14.5, 9.43), (13.1, 8.44), (14.1, 9.11), (14.0, 9.43), (3.0, 2.39),
                (3.0, 2.46), (7.3, 5.85)],
    "vgg16": [(40.0, 29.97), (9.8, 6.99), (14.3, 8.91), (14.7, 9.31), (21.7, 11.15), (9.7, 5.67),
              (17.0, 8.96), (13.1, 7.29), (10.9, 5.93), (14.0, 7.47), (14.3, 8.00), (11.7, 6.52),
              (14.8, 7.79), (1.6, 1.10), (1.5, 1.25), (7.1, 5.24)],
}
# Random placement overestimates the fillers of the sparsest layers: VGG-16 fc6 at 4% with
# 5-bit indices gets 0.37 fillers per non-zero, where the paper's 1.6% (against 1.25% with no
# fillers) implies 0.28, and fc7's 1.5% implies 0.20: the pruned masks are clumpier than
# random. AlexNet's fc6/fc7 (9%, 4-bit) come out +8% and pass; the conv layers agree within 4.1%.
_CLUMPY = {("vgg16", "fc6", True): "+10.7% (1.22% vs 1.10%)",
           ("vgg16", "fc7", False): "+14.3% (1.71% vs 1.5%)",
           ("vgg16", "fc7", True): "+13.8% (1.42% vs 1.25%)"}


def _layer_cases():
    for model, table in TABLES.items():
        for row, rates in zip(table, RATES[model]):
            for huffman in (False, True):
                miss = _CLUMPY.get((model, row[0], huffman))
                marks = [pytest.mark.xfail(strict=True, reason=f"measured {miss}: random placement "
                                           "overestimates the fillers of this 4%-dense layer")] if miss else []
                yield pytest.param(model, row, rates[huffman], huffman, marks=marks,
                                   id=f"{model}-{row[0]}-{'P+Q+H' if huffman else 'P+Q'}")


@pytest.mark.parametrize("model,row,rate,huffman", list(_layer_cases()))
def test_layer_compress_rate(model, row, rate, huffman):
    _, n, kept, wbits, wbits_h, ibits, ibits_h = row
    s = layer_storage(n, density=kept, value_bits=wbits_h if huffman else wbits, index_bits=ibits,
                      index_coded_bits=ibits_h if huffman else None, codebook_entries=2**wbits)
    assert 100 * s.total_bytes / (4 * n) == pytest.approx(rate, rel=TOLERANCE)


def caffe_alexnet() -> Graph:
    """The two-group Caffe AlexNet the paper compressed, structure only."""
    g = Graph("caffe_alexnet")
    g.add("data", "input", (), {"shape": [1, 3, 227, 227]})
    g.add("conv1", "conv2d", ("data",), {"out_channels": 96, "kernel": 11, "stride": 4})
    g.add("pool1", "maxpool", ("conv1",), {"kernel": 3, "stride": 2})
    g.add("conv2", "conv2d", ("pool1",), {"out_channels": 256, "kernel": 5, "padding": 2, "groups": 2})
    g.add("pool2", "maxpool", ("conv2",), {"kernel": 3, "stride": 2})
    g.add("conv3", "conv2d", ("pool2",), {"out_channels": 384, "kernel": 3, "padding": 1})
    g.add("conv4", "conv2d", ("conv3",), {"out_channels": 384, "kernel": 3, "padding": 1, "groups": 2})
    g.add("conv5", "conv2d", ("conv4",), {"out_channels": 256, "kernel": 3, "padding": 1, "groups": 2})
    g.add("pool5", "maxpool", ("conv5",), {"kernel": 3, "stride": 2})
    g.add("flat", "flatten", ("pool5",))
    g.add("fc6", "linear", ("flat",), {"out_features": 4096})
    g.add("fc7", "linear", ("fc6",), {"out_features": 4096})
    g.add("fc8", "linear", ("fc7",), {"out_features": 1000})
    g.verify()
    return g


VGG_ZOO = ([f"block{b}.conv.{i}.conv" for b, n in zip(range(1, 6), (2, 2, 3, 3, 3)) for i in range(n)]
           + ["fc6.fc", "fc7.fc", "fc8"])


@pytest.mark.parametrize("model", ["alexnet", "vgg16"])
def test_pq_from_annotations(model):
    # The same P+Q figure read from a graph's sparsity and sharing annotations, biases (fp32)
    # and all: Caffe AlexNet built here; the zoo's VGG-16 has the paper's shapes.
    g = caffe_alexnet() if model == "alexnet" else load_model("vgg16")
    names = [r[0] for r in ALEXNET] if model == "alexnet" else VGG_ZOO
    params = {layer.name: layer.params for layer in g.layers()}
    for name, (_, n, kept, wbits, _, _, _) in zip(names, TABLES[model]):
        assert params[name] - n == g.type_of(name).shape[1]  # the paper's weights and a bias
        g.annotate(name, Sparsity(weight_density=kept))
        g.annotate(name, Sharing(wbits))
    s = model_storage(g, index_bits=ALEXNET[0][5] if model == "alexnet" else VGG16[0][5])
    assert s.ratio == pytest.approx(HEADLINE[model][0], rel=TOLERANCE)
    # and the biases are what separates it from the table-only count
    biases = g.params() - sum(r[1] for r in TABLES[model])
    assert s.total_bytes == pytest.approx(compressed_bytes(TABLES[model], False) + biases * 4, rel=1e-9)


# --------------------------------------------------------------------------- Han et al. 2015

# Hand count for the zoo's torchvision AlexNet (64-192-384-256-256) at the paper's kept
# fractions: conv1 23,232 x .84 = 19,514.9; conv2 307,200 x .38 = 116,736; conv3 663,552 x .35
# = 232,243.2; conv4 884,736 x .37 = 327,352.3; conv5 589,824 x .37 = 218,234.9; fc6
# 37,748,736 x .09 = 3,397,386.2; fc7 16,777,216 x .09 = 1,509,949.4; fc8 4,096,000 x .25 =
# 1,024,000; weights 6,845,417, plus 10,344 unpruned biases: 6,855,761, 2.3% above 6.7M. Of
# that, 1.4% is the paper's rounded percentages (on Caffe's shapes they give 6,796,191), 0.7%
# torchvision's conv shapes, 0.15% the biases.
ALEXNET_ZOO_KEPT = 6_855_761
# VGG-16 (the zoo's shapes are the paper's): 10,532,392 weights + 13,416 biases =
# 10,545,808, 2.4% above 10.3M, all from the rounded percentages and the biases.
VGG16_ZOO_KEPT = 10_545_808
HAN2015 = {"alexnet": (6.7e6, ALEXNET_ZOO_KEPT, ["conv1.conv", "conv2.conv", "conv3.conv", "conv4.conv",
                                                 "conv5.conv", "fc6.fc", "fc7.fc", "fc8"], ALEXNET),
           "vgg16": (10.3e6, VGG16_ZOO_KEPT, VGG_ZOO, VGG16)}
HAN2015_TOLERANCE = 0.03  # the hand-counted deviation (2.3%, 2.4%) with room for rounding


@pytest.mark.parametrize("model", ["alexnet", "vgg16"])
def test_pruned_parameter_counts(model):
    published, by_hand, names, table = HAN2015[model]
    g = load_model(model)
    for name, row in zip(names, table):
        g.annotate(name, Sparsity(weight_density=row[2]))
    kept = nonzero_params(g)
    assert kept == pytest.approx(by_hand, abs=len(names))  # rounded per layer
    assert kept == pytest.approx(published, rel=HAN2015_TOLERANCE)
    assert g.params() / kept == pytest.approx(9 if model == "alexnet" else 13, rel=0.1)
