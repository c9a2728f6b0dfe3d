"""Typed training settings: dataclass defaults, then YAML files from configs/, then
`--set section.key=value` overrides. An unknown key or a badly typed value is a
ConfigError that names it, so a typo never silently becomes a new setting.

The sections every run has (data, train, net) are here; each method's own section
(cyclegan, cut, acgan) comes from the method registry (trainer/methods), and
configs/<method>.yaml holds the method's defaults."""

import dataclasses
import re
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

import vidswap
from trainer.methods import METHODS, method_spec
from trainer.methods.base import require
from vidswap.choices import (
    Amp,
    DataMode,
    DiscriminatorNorm,
    DistBackend,
    GeneratorNorm,
    TemporalMode,
    WeightInit,
    choices,
)
from vidswap.errors import ConfigError
from vidswap.settings import FACE_MARGIN

# installed wheels carry configs/ inside the vidswap package; a source checkout has it at the top
_PACKAGED_CONFIGS = Path(vidswap.__file__).resolve().parent / "configs"
CONFIGS_DIR = _PACKAGED_CONFIGS if _PACKAGED_CONFIGS.is_dir() else Path(__file__).resolve().parents[1] / "configs"


@dataclass
class DataConfig:
    mode: DataMode = "face"  # face: aligned face crops; frame: whole frames
    size: int = 256  # training crop size
    load_size: int = 0  # shorter side is resized to this before the random crop; 0: size * 286 / 256
    flip: bool = True  # random horizontal flips
    color_jitter: float = 0.0  # random contrast, channel gains and brightness of each crop, this strong; 0: off
    # face mode: room around the face template the crops are aligned with (vidswap extract --margin);
    # an extract dataset's own is taken, and apply aligns faces as the model's crops were
    margin: float = FACE_MARGIN
    loader_threads: int = 2  # threads that decode and augment the next batches


@dataclass
class TrainConfig:
    steps: int = 100_000
    batch_size: int = 1
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    decay_from: float = 0.5  # fraction of steps at constant learning rate, then linear decay to 0
    seed: int = 0
    device: str = "auto"  # auto (CUDA when present) | cpu | cuda | cuda:N
    amp: Amp = "auto"  # auto (bf16 where the GPU has it, else fp16; off on CPU) | bf16 | fp16 | off
    channels_last: bool = True  # on GPU only
    dist_backend: DistBackend = "auto"  # under torchrun: auto (NCCL on GPU, gloo on CPU) | nccl | gloo (GPUs shared)
    threads: int = 0  # CPU threads for torch; 0 keeps torch's default
    log_every: int = 10
    sample_every: int = 500
    checkpoint_every: int = 1000
    temporal: float = 0.0  # weight of the temporal-stability regulariser (trainer/temporal.py); 0: off
    temporal_mode: TemporalMode = "transform"  # transform: random shifts of a crop; flow: consecutive clip frames
    face_mask: float = 0.0  # face mode: background weight lost in losses comparing images; 1: none left
    recycle: float = (
        0.0  # CycleGAN: weight of Recycle-GAN's recurrent losses on clip frames (trainer/recycle.py); 0: off
    )
    bn_refresh: int = 200  # batches that recompute a batch-norm generator's statistics at the end; 0: off


@dataclass
class NetConfig:
    ngf: int = 64  # generator width
    ndf: int = 64  # discriminator width
    n_blocks: int = 9  # ResNet generator blocks
    n_downsampling: int = 2  # the generator's stride-2 steps before its blocks (and as many up after)
    d_layers: int = 3  # PatchGAN stride-2 layers (3: 70x70 patches)
    norm: GeneratorNorm = "instance"  # generator normalisation: instance (the reference), batch or none
    d_norm: DiscriminatorNorm = "instance"  # PatchGAN normalisation: instance (the reference) or none
    init: WeightInit = (
        "normal"  # weight init: normal N(0, gain) (CycleGAN) or xavier (Xavier-normal with that gain, CUT)
    )
    init_gain: float = 0.02
    antialias: bool = False  # CUT's blur-pool down and blur-then-convolve up: no checkerboard grid


def _method_sections() -> list[tuple[str, type, Any]]:
    """One field a method section (CUT and FastCUT share theirs), in registry order."""
    specs = {spec.section: spec.settings for spec in map(method_spec, METHODS)}
    return [(section, settings, field(default_factory=settings)) for section, settings in specs.items()]


def _to_dict(self) -> dict[str, Any]:
    return dataclasses.asdict(self)


# every run carries every method's section, so presets (configs/tiny.yaml) and saved configs may set any of them
Config = dataclasses.make_dataclass(
    "Config",
    [
        ("method", str, "cyclegan"),
        ("data", DataConfig, field(default_factory=DataConfig)),
        ("train", TrainConfig, field(default_factory=TrainConfig)),
        ("net", NetConfig, field(default_factory=NetConfig)),
        *_method_sections(),
    ],
    namespace={"to_dict": _to_dict, "__module__": __name__},
)


def _coerce(value: Any, kind: Any, key: str) -> Any:
    origin = typing.get_origin(kind)
    if origin is typing.Literal:
        if value not in choices(kind):
            raise ConfigError(f"setting {key} must be one of {', '.join(choices(kind))}, got {value!r}")
        return value
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"setting {key} must be a list, got {value!r}")
        (item,) = typing.get_args(kind)
        return [_coerce(v, item, key) for v in value]
    if kind is bool:
        if isinstance(value, bool):
            return value
    elif kind is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        try:  # YAML 1.1 reads "1e-3" (no dot) as a string
            return float(value) if isinstance(value, str) else None
        except ValueError:
            pass
    elif kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif kind is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
    raise ConfigError(f"setting {key} must be {getattr(kind, '__name__', kind)}, got {value!r}")


def _apply(target: Any, values: dict[str, Any], where: str, prefix: str = "") -> None:
    if not isinstance(values, dict):
        raise ConfigError(f"{where}: {prefix.rstrip('.') or 'the file'} must be a mapping, got {values!r}")
    hints = typing.get_type_hints(type(target))
    for key, value in values.items():
        name = f"{prefix}{key}"
        if key not in hints:
            known = ", ".join(f"{prefix}{k}" for k in hints)
            raise ConfigError(f"unknown setting {name!r} in {where} (known: {known})")
        kind = hints[key]
        if dataclasses.is_dataclass(kind):
            _apply(getattr(target, key), value, where, f"{name}.")
        else:
            setattr(target, key, _coerce(value, kind, name))


def find_config_file(name: str) -> Path:
    """A YAML path as given, else a name in configs/ (with or without .yaml)."""
    path = Path(name)
    if path.is_file():
        return path
    for candidate in (CONFIGS_DIR / name, CONFIGS_DIR / f"{name}.yaml"):
        if candidate.is_file():
            return candidate
    presets = ", ".join(sorted(p.stem for p in CONFIGS_DIR.glob("*.yaml")))
    raise ConfigError(f"config {name!r} not found (a YAML path, or one of: {presets})")


class _Yaml12Loader(yaml.SafeLoader):
    """YAML with only true/false as booleans (YAML 1.2): PyYAML's 1.1 rules read off, on, yes
    and no as booleans, so `--set train.amp=off` would arrive as False."""


_Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def _load_yaml(text: str) -> Any:
    return yaml.load(text, Loader=_Yaml12Loader)


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = _load_yaml(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read config {path}: {exc}".replace("\n", " ")) from None
    return data


def parse_override(text: str) -> dict[str, Any]:
    """`a.b=c` -> {"a": {"b": c}}, the value parsed as YAML (so 1e-4, true, [0, 4] work)."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set expects key=value, got {text!r}")
    try:
        value = _load_yaml(raw)
    except yaml.YAMLError:
        value = raw
    nested: dict[str, Any] = {}
    node = nested
    parts = key.strip().split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value
    return nested


def load_config(
    method: str | None = None, files: list[str] = (), overrides: list[str] = (), base: dict[str, Any] | None = None
) -> Config:
    """Defaults <- `base` (e.g. a checkpoint's saved config) <- configs/<method>.yaml <- files <- overrides.
    A `method` given here wins over a preset's (configs/faceswap.yaml names one)."""
    cfg = Config()
    if base is not None:
        _apply(cfg, base, "the saved config")
    if method is not None:
        _check_method(method)
        _apply(cfg, _read_yaml(CONFIGS_DIR / f"{method}.yaml"), f"configs/{method}.yaml")
    for name in files:
        path = find_config_file(name)
        _apply(cfg, _read_yaml(path), str(path))
    if method is not None:
        cfg.method = method
    for text in overrides:
        _apply(cfg, parse_override(text), f"--set {text}")
    validate(cfg)
    return cfg


# train settings only some methods' losses use: what each does, and the methods that use it
METHOD_SETTINGS = {
    "face_mask": ("weights the losses that compare images with the face", ("cyclegan", "autoencoder")),
    "recycle": ("adds Recycle-GAN's losses to CycleGAN", ("cyclegan",)),
}


def drop_unused(cfg: Config) -> list[str]:
    """Zero the train settings cfg.method does not use, so the saved config says how the model
    was trained (apply pastes only the face for a train.face_mask model); a warning for each."""
    dropped = [
        key for key, (_, methods) in METHOD_SETTINGS.items() if getattr(cfg.train, key) and cfg.method not in methods
    ]
    for key in dropped:
        setattr(cfg.train, key, 0.0)
    return [f"train.{key} {METHOD_SETTINGS[key][0]}: {cfg.method} trains without it" for key in dropped]


def preset_method(files: list[str]) -> str | None:
    """The method the last of these config files names (a preset such as faceswap), if any."""
    presets = (_read_yaml(find_config_file(name)) for name in files)
    named = [data["method"] for data in presets if isinstance(data, dict) and "method" in data]
    return named[-1] if named else None


def _check_method(method: str) -> None:
    if method not in METHODS:
        raise ConfigError(f"unknown method {method!r} (known: {', '.join(METHODS)})")


def validate(cfg: Config) -> None:
    _check_method(cfg.method)
    size = cfg.data.size
    require(size >= 8 and size % 4 == 0, f"data.size must be a multiple of 4 and >= 8, got {size}")
    require(cfg.data.load_size == 0 or cfg.data.load_size >= cfg.data.size, "data.load_size must be 0 or >= data.size")
    require(cfg.train.steps >= 1 and cfg.train.batch_size >= 1, "train.steps and train.batch_size must be >= 1")
    require(0 <= cfg.train.decay_from <= 1, "train.decay_from must be between 0 and 1")
    every = (cfg.train.log_every, cfg.train.sample_every, cfg.train.checkpoint_every)
    require(min(every) >= 1, "train.*_every must be >= 1")
    require(cfg.train.bn_refresh >= 0, f"train.bn_refresh must be >= 0, got {cfg.train.bn_refresh}")
    require(0 <= cfg.data.color_jitter <= 1, f"data.color_jitter must be between 0 and 1, got {cfg.data.color_jitter}")
    require(0 <= cfg.data.margin <= 2, f"data.margin must be between 0 and 2, got {cfg.data.margin}")
    mask = cfg.train.face_mask
    require(0 <= mask <= 1, f"train.face_mask must be between 0 and 1, got {mask}")
    require(mask == 0 or cfg.data.mode == "face", "train.face_mask needs data.mode=face (aligned face crops)")
    require(cfg.train.temporal >= 0, f"train.temporal must be >= 0 (0: off), got {cfg.train.temporal}")
    require(cfg.train.recycle >= 0, f"train.recycle must be >= 0 (0: off), got {cfg.train.recycle}")
    require(
        not (cfg.train.recycle and cfg.train.temporal and cfg.train.temporal_mode == "flow"),
        "train.recycle and train.temporal_mode=flow both draw clip frames: use one, or train.temporal_mode=transform",
    )
    require(cfg.net.ngf >= 1 and cfg.net.ndf >= 1 and cfg.net.n_blocks >= 0, "net widths must be >= 1")
    down = cfg.net.n_downsampling
    require(0 <= down <= 4, f"net.n_downsampling must be between 0 and 4, got {down}")
    require(size % 2**down == 0, f"data.size must be a multiple of {2**down} for net.n_downsampling={down}")
    method_spec(cfg.method).validate(cfg)
