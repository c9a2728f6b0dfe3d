import dataclasses
import types

import pytest
import torch

from trainer.config import CONFIGS_DIR, Config, load_config
from trainer.loop import lr_factor, set_learning_rate
from trainer.methods import METHODS, method_spec
from trainer.methods.base import Method
from trainer.runtime import Runtime
from vidswap.cli.train import command as train_command
from vidswap.errors import ConfigError


def test_method_yaml_preset_and_overrides_layer_in_order():
    cfg = load_config("fastcut", ["face128"], ["train.lr=1e-4", "cut.nce_layers=[0, 4]"])
    assert (cfg.method, cfg.cut.lambda_nce, cfg.cut.nce_idt, cfg.cut.flip_equivariance) == (
        "fastcut",
        10.0,
        False,
        True,
    )
    assert (cfg.data.size, cfg.data.mode) == (128, "face")
    assert cfg.train.lr == 1e-4 and cfg.cut.nce_layers == [0, 4]
    # each method keeps its reference initialisation unless told otherwise
    assert (cfg.net.init, load_config("cyclegan").net.init) == ("xavier", "normal")


@pytest.mark.parametrize(
    "override, named",
    [
        ("train.stpes=3", "train.stpes"),
        ("nett.ngf=3", "nett"),
        ("train.steps=many", "train.steps"),
        ("train.amp=fp8", "train.amp"),
        ("net.init=he", "net.init"),
        ("cut.nce_layers=[0, 99]", "cut.nce_layers"),
        ("net.norm=group", "net.norm"),
        ("net.d_norm=batch", "net.d_norm"),
        ("data.mode=both", "data.mode"),
        ("net.n_downsampling=5", "net.n_downsampling"),
        ("train.bn_refresh=-1", "train.bn_refresh"),
        ("data.color_jitter=2", "data.color_jitter"),
        ("train.face_mask=1.5", "train.face_mask"),
    ],
)
def test_bad_settings_are_errors_that_name_them(override, named):
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
        load_config("cut", [], [override])


def test_the_crop_must_halve_as_often_as_the_generator_downsamples():
    load_config("cyclegan", ["tiny"], ["data.size=36", "net.n_downsampling=2"])
    with pytest.raises(ConfigError, match=r"multiple of 8 for net\.n_downsampling=3"):
        load_config("cyclegan", ["tiny"], ["data.size=36", "net.n_downsampling=3"])


def test_unknown_preset_lists_the_known_ones():
    with pytest.raises(ConfigError, match="face128"):
        load_config("cut", ["no-such-preset"])


def test_schedule_constant_then_linear_decay_per_phase():
    assert [round(lr_factor(s, [4], 0.5), 3) for s in range(1, 5)] == [1.0, 1.0, 0.667, 0.333]
    # a second phase restarts the schedule
    assert lr_factor(5, [4, 8], 0.5) == 1.0


def test_set_learning_rate_sets_every_optimizer_of_the_method():
    params = [torch.nn.Parameter(torch.zeros(1)) for _ in range(2)]
    optimizers = {"G": torch.optim.Adam(params[:1], lr=1.0), "D": torch.optim.Adam(params[1:], lr=1.0)}
    method = types.SimpleNamespace(phases=[4], optimizers=optimizers)
    train = load_config("cut", [], ["train.lr=0.1", "train.steps=4"]).train
    assert set_learning_rate(method, train, 3) == pytest.approx(2 / 3)
    assert [g["lr"] for o in optimizers.values() for g in o.param_groups] == pytest.approx([0.1 * 2 / 3] * 2)


def test_the_method_registry_feeds_the_cli_the_config_and_the_defaults_files():
    method_option = next(p for p in train_command.params if p.name == "method")
    assert list(method_option.type.choices) == list(METHODS) == ["cyclegan", "cut", "fastcut", "acgan", "autoencoder"]
    sections = {f.name for f in dataclasses.fields(Config)}
    for name in METHODS:
        spec = method_spec(name)
        assert (CONFIGS_DIR / f"{name}.yaml").is_file() and spec.section in sections
        assert isinstance(getattr(load_config(name), spec.section), spec.settings)
        assert isinstance(spec.build(load_config(name, ["tiny"]), Runtime(torch.device("cpu"))), Method)
    assert method_spec("fastcut") is method_spec("cut")  # one module, other defaults
    assert [method_spec(n).fully_convolutional for n in METHODS] == [True, True, True, False, False]


def test_a_saved_config_loads_back_unchanged_and_a_method_checks_its_own_section():
    cfg = load_config("acgan", ["tiny"], ["acgan.z_dim=12"])
    assert load_config(base=cfg.to_dict()) == cfg
    with pytest.raises(ConfigError, match="power-of-two"):
        load_config("acgan", ["tiny"], ["data.size=48", "data.load_size=0"])
    # only AC-GAN needs a power of two
    assert load_config("cut", ["tiny"], ["data.size=48", "data.load_size=0"]).data.size == 48
    with pytest.raises(ConfigError, match="unknown method 'pix2pix'"):
        load_config("pix2pix")


def test_off_and_on_stay_strings_and_only_true_false_are_booleans():
    """YAML 1.1 reads `off` as False: `--set train.amp=off` must still mean amp off."""
    cfg = load_config("cyclegan", overrides=["train.amp=off", "data.flip=false", "train.channels_last=true"])
    assert cfg.train.amp == "off"
    assert cfg.data.flip is False and cfg.train.channels_last is True
    with pytest.raises(ConfigError, match="data.flip must be bool"):
        load_config("cyclegan", overrides=["data.flip=no"])
