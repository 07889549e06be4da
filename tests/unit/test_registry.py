import pytest

from accelsim.registry import Registry


def test_get_suggests_close_names():
    reg: Registry[int] = Registry("widget")
    reg.add("conv2d", 1)
    reg.add("linear", 2)
    assert reg.get("linear") == 2
    with pytest.raises(KeyError, match="did you mean 'conv2d'"):
        reg.get("conv2", )


def test_duplicate_registration_is_refused():
    reg: Registry[int] = Registry("widget")
    reg.add("a", 1)
    with pytest.raises(ValueError):
        reg.add("a", 2)
