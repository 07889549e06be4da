"""The report's charts, read back from the matplotlib Figures they draw."""

import matplotlib
import pytest
from matplotlib.colors import to_rgba

from accelsim import estimate
from accelsim.estimation import Estimate
from accelsim.hw import LayerCost
from accelsim.report import plots

matplotlib.use("Agg")


@pytest.fixture(autouse=True)
def close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


def layer(name, *, macs, latency_s, dram, sram=0.0, energy_j=1e-6, bound="compute", ops=0):
    return LayerCost(name=name, op="conv2d" if macs else "relu", macs=macs, ops=ops, latency_s=latency_s,
                     energy_by_component_j=(("mac", energy_j / 2), ("dram", energy_j / 2)),
                     bytes_by_level=(("dram", dram), ("sram", sram)), offchip=("dram",), bound=bound)


def toy(layers, *, peak=1e12, bandwidth=(("dram", 1e9),)):
    return Estimate(model="toynet", hardware="toyhw", kind="roofline", batch=1, precision="int8",
                    frequency_hz=1e9, layers=tuple(layers), shapes=tuple((1, 4) for _ in layers),
                    peak_ops_per_s=peak, bandwidth_bps=bandwidth)


LAYERS = [
    # flops = 2 MACs + ops; intensity = flops / dram bytes, rate = flops / latency
    layer("c1", macs=1000, latency_s=1e-6, dram=500.0, bound="dram"),     # (4, 2e9)
    layer("act", macs=0, ops=100, latency_s=1e-7, dram=0.0, sram=400.0),  # no off-chip bytes
    layer("c2", macs=4000, latency_s=2e-6, dram=100.0, bound="compute"),  # (80, 4e9)
    layer("flat", macs=0, latency_s=0.0, dram=0.0),                       # no arithmetic
    layer("c3", macs=2000, latency_s=4e-6, dram=250.0, bound="sram"),     # (16, 1e9)
]


def bars(fig):
    (ax,) = fig.axes
    names = [t.get_text() for t in ax.get_yticklabels()]
    patches = sorted(ax.patches, key=lambda p: p.get_y())
    return ax, names, patches


@pytest.mark.parametrize("draw, unit", [(plots.plot_latency, "latency_s"), (plots.plot_energy, "energy_j")])
def test_bars_follow_the_layers_and_their_bounds(draw, unit):
    est = toy(LAYERS)
    ax, names, patches = bars(draw(est))
    assert names == [c.name for c in est.layers]
    assert [p.get_width() for p in patches] == pytest.approx([getattr(c, unit) * 1e6 for c in est.layers])
    bottom, top = ax.get_ylim()
    assert top < bottom  # the first layer is drawn on top
    colour = {}
    for cost, patch in zip(est.layers, patches):
        colour.setdefault(cost.bound, patch.get_facecolor())
        assert patch.get_facecolor() == colour[cost.bound]
    assert len(set(colour.values())) == 3  # compute, dram and sram apart
    assert "toynet" in ax.get_title() and "toyhw" in ax.get_title()
    assert {t.get_text() for t in ax.get_legend().get_texts()} == {"compute", "dram", "sram"}


def test_many_layers_latency_and_energy_show_the_same_costliest_layers():
    many = [layer(f"l{i}", macs=10, latency_s=1e-9, dram=1.0, energy_j=1e-12) for i in range(plots.MAX_BARS + 20)]
    many[5] = layer("slow", macs=10, latency_s=1e-3, dram=1.0, energy_j=1e-12)
    many[70] = layer("hungry", macs=10, latency_s=1e-9, dram=1.0, energy_j=1e-3)
    est = toy(many)
    _, lat_names, _ = bars(plots.plot_latency(est))
    _, energy_names, _ = bars(plots.plot_energy(est))
    assert lat_names == energy_names
    assert len(lat_names) == plots.MAX_BARS
    assert {"slow", "hungry"} <= set(lat_names)
    order = [c.name for c in est.layers]
    assert lat_names == sorted(lat_names, key=order.index)
    assert "of 80 layers" in plots.plot_latency(est).axes[0].get_title()


def test_energy_components_stack_to_each_layers_energy():
    est = toy(LAYERS)
    ax, names, _ = bars(plots.plot_energy_components(est))
    assert names == [c.name for c in est.layers]
    totals = {}
    for p in ax.patches:
        totals[round(p.get_y() + p.get_height() / 2)] = totals.get(round(p.get_y() + p.get_height() / 2), 0) + p.get_width()
    assert [totals[i] for i in range(len(LAYERS))] == pytest.approx([c.energy_j * 1e6 for c in LAYERS])


def scatter(fig):
    (ax,) = fig.axes
    (points,) = [c for c in ax.collections if c.get_gid() == "layers"]
    roof = [line for line in ax.get_lines() if line.get_gid() == "roof"]
    return ax, points, roof


def test_roofline_places_each_layer_by_its_own_figures():
    est = toy(LAYERS)
    ax, points, roof = scatter(plots.plot_roofline(est))
    # act has no off-chip traffic and flat no arithmetic: neither can be placed
    assert points.get_offsets().ravel().tolist() == pytest.approx([4.0, 2e9, 80.0, 4e9, 16.0, 1e9])
    colours = points.get_facecolors()
    assert len({tuple(c) for c in colours}) == 3 and all(c[3] < 1 for c in colours)
    sizes = points.get_sizes()
    assert sizes[1] > sizes[2] > sizes[0]  # area grows with MACs: 4000 > 2000 > 1000
    # the bars give each bound the colour the points do
    _, _, patches = bars(plots.plot_latency(est))
    by_bound = {c.bound: tuple(p.get_facecolor()[:3]) for c, p in zip(est.layers, patches)}
    assert [tuple(c[:3]) for c in colours] == [by_bound["dram"], by_bound["compute"], by_bound["sram"]]
    assert "1 layer(s)" in " ".join(t.get_text() for t in ax.texts)
    # roof = min(1 TOP/s, intensity x 1 GB/s): ridge at 1000 ops/B
    (line,) = roof
    xs, ys = line.get_data()
    assert max(ys) == pytest.approx(1e12)
    assert [y for x, y in zip(xs, ys) if x < 1000] == pytest.approx([x * 1e9 for x in xs if x < 1000])


def test_roofline_without_a_stated_bandwidth_draws_the_peak_only():
    ax, points, roof = scatter(plots.plot_roofline(toy(LAYERS, bandwidth=())))
    assert len(points.get_offsets()) == 3
    (line,) = roof
    assert set(line.get_ydata()) == {1e12}


def test_roofline_without_any_roof_still_shows_the_layers():
    ax, points, roof = scatter(plots.plot_roofline(toy(LAYERS, peak=None, bandwidth=())))
    assert len(points.get_offsets()) == 3 and roof == []


def test_roofline_of_an_npu_machine_is_not_blank():
    est = estimate("digits_cnn", "eyeriss")
    ax, points, roof = scatter(plots.plot_roofline(est))
    placeable = [c for c in est.layers if c.flops and c.latency_s > 0 and c.bytes_dram > 0]
    assert len(placeable) >= 3
    assert len(points.get_offsets()) == len(placeable)
    assert roof and max(roof[0].get_ydata()) == pytest.approx(est.peak_ops_per_s)


def test_bound_colours_are_distinct_and_stable():
    est = toy(LAYERS)
    colours = plots.bound_colours(est)
    assert set(colours) == {"compute", "dram", "sram"}
    assert len({to_rgba(c) for c in colours.values()}) == 3
    assert plots.bound_colours(toy(LAYERS[::-1])) == colours


def test_importing_the_plots_loads_no_matplotlib():
    import subprocess
    import sys
    from pathlib import Path

    code = ("import sys, accelsim.report.plots, accelsim.report.html; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'matplotlib'))")
    root = Path(__file__).resolve().parents[3]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root)
    assert out.stdout.strip() == "[]"
