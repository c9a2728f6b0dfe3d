import pytest

from trainer.loop import lr_factor
from trainer.config import load_config
from vidswap.errors import ConfigError


def test_method_yaml_preset_and_overrides_layer_in_order():
    cfg = load_config("fastcut", ["face128"], ["train.lr=1e-4", "cut.nce_layers=[0, 4]"])
    assert (cfg.method, cfg.cut.lambda_nce, cfg.cut.nce_idt, cfg.cut.flip_equivariance) == ("fastcut", 10.0, False, True)
    assert (cfg.data.size, cfg.data.mode) == (128, "face")
    assert cfg.train.lr == 1e-4 and cfg.cut.nce_layers == [0, 4]
    # each method keeps its reference initialisation unless told otherwise
    assert (cfg.net.init, load_config("cyclegan").net.init) == ("xavier", "normal")


@pytest.mark.parametrize(
    "override, named",
    [("train.stpes=3", "train.stpes"), ("nett.ngf=3", "nett"), ("train.steps=many", "train.steps"),
     ("train.amp=fp8", "train.amp"), ("net.init=he", "net.init"), ("cut.nce_layers=[0, 99]", "cut.nce_layers")],
)
def test_bad_settings_are_errors_that_name_them(override, named):
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
        load_config("cut", [], [override])


def test_unknown_preset_lists_the_known_ones():
    with pytest.raises(ConfigError, match="face128"):
        load_config("cut", ["no-such-preset"])


def test_schedule_constant_then_linear_decay_per_phase():
    assert [round(lr_factor(s, [4], 0.5), 3) for s in range(1, 5)] == [1.0, 1.0, 0.667, 0.333]
    # a second phase restarts the schedule
    assert lr_factor(5, [4, 8], 0.5) == 1.0
