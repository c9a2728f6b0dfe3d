"""`vidswap train`: train a translator from two unpaired collections into the model store."""

from __future__ import annotations

import click

from trainer.methods import METHODS
from vidswap.choices import DataMode, choices
from vidswap.cli.app import App, pass_app
from vidswap.cli.options import models_dir_option


@click.command("train")
@click.option(
    "--source",
    "sources",
    multiple=True,
    required=True,
    metavar="PATH",
    help="Domain A: an image folder, a `vidswap extract` dataset or a video folder (repeatable).",
)
@click.option(
    "--target",
    "targets",
    multiple=True,
    required=True,
    metavar="PATH",
    help="Domain B, in the same forms (repeatable).",
)
@click.option(
    "--method", type=click.Choice(list(METHODS)), help="Training method (for a new run; else the --config preset's)."
)
@click.option("--name", required=True, help="Model name in the store; rerunning a name continues its training.")
@click.option("--mode", type=click.Choice(choices(DataMode)), help="Face crops or whole frames (data.mode).")
@click.option("--size", type=int, help="Training crop size in pixels (data.size).")
@click.option(
    "--config",
    "configs",
    multiple=True,
    metavar="YAML",
    help="A YAML file or a preset in configs/ (face128, face256, faceswap, frame256, tiny); repeatable.",
)
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Any setting, e.g. train.lr=1e-4.")
@click.option("--resume", is_flag=True, help="Continue the run NAME; an error if it has no checkpoint.")
@models_dir_option
@click.option(
    "--steps", type=int, help="Total training steps (train.steps); raise it to train a finished model further."
)
@pass_app
def command(app: App, sources, targets, method, name, mode, size, configs, overrides, resume, models_dir, steps):
    """Train a CycleGAN, CUT, FastCUT or AC-GAN translator from unpaired collections.

    Uses the GPU when there is one (mixed precision, channels-last). For several
    GPUs or machines run it under torchrun, e.g.
    `torchrun --nproc_per_node 2 --no-python vidswap train ...`.
    """
    import os
    import signal
    from pathlib import Path

    import torch.distributed as dist

    from trainer.checkpoint import CHECKPOINT, checkpoint_meta
    from trainer.config import drop_unused, load_config, preset_method
    from trainer.data import collect_images, face_margins
    from trainer.export import refresh_batch_norm, save_trained_model
    from trainer.loop import train
    from vidswap.errors import ConfigError, VidswapError
    from vidswap.models import models_home

    if int(os.environ.get("RANK", "0")) > 0:  # under torchrun only the first process reports
        app.verbosity = -1
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise ConfigError(f"--name {name!r}: use a plain folder name (no slashes, not starting with '.')")
    store = models_home(models_dir)
    run_dir = store / ".runs" / name
    ckpt = run_dir / CHECKPOINT
    if ckpt.exists():
        meta = checkpoint_meta(ckpt)
        saved = meta["config"]
        if method and method != saved["method"]:
            raise ConfigError(f"run {name!r} is a {saved['method']} run; choose another --name for {method}")
        if configs or overrides or mode or size:
            app.warn(f"resuming {name!r}: --config, --set, --mode and --size are ignored (its saved config is used)")
        cfg = load_config(base=saved, overrides=[f"train.steps={steps}"] if steps else [])
        app.info(f"resuming {name} at step {meta['step']} of {cfg.train.steps} ({run_dir})")
    elif resume:
        raise VidswapError(f"nothing to resume: run {name!r} has no checkpoint in {run_dir}")
    else:
        method = method or preset_method(list(configs))
        if not method:
            raise ConfigError(
                f"--method (or a --config that names one) is required to start a run ({', '.join(METHODS)})"
            )
        flags = [f"data.mode={mode}"] if mode else []
        if size:  # the load size follows the crop size unless set explicitly
            flags += [f"data.size={size}", "data.load_size=0"]
        if steps:
            flags += [f"train.steps={steps}"]
        cfg = load_config(method, list(configs), flags + list(overrides))
        for warning in drop_unused(cfg):  # e.g. --config faceswap --method fastcut
            app.warn(warning)

    videos_to_dataset = _video_extractor(store, cfg)
    images_a = collect_images(list(sources), videos_to_dataset)
    images_b = collect_images(list(targets), videos_to_dataset)
    margins = face_margins(images_a + images_b)
    if len(margins) > 1:
        raise ConfigError(
            f"the face datasets were aligned with different margins ({', '.join(map(str, sorted(margins)))}): "
            "extract them again with one --margin"
        )
    if margins and cfg.data.mode == "face":  # the crops' own alignment, which apply then repeats
        cfg.data.margin = margins.pop()
    data = {
        side: {
            "name": Path(srcs[0]).resolve().name,
            "sources": [str(Path(s).resolve()) for s in srcs],
            "images": len(imgs),
        }
        for side, srcs, imgs in (("A", sources, images_a), ("B", targets, images_b))
    }
    app.info(
        f"{cfg.method}: {len(images_a)} images in A, {len(images_b)} in B, {cfg.data.size} px, "
        f"{cfg.train.steps} steps; checkpoints and samples in {run_dir}"
    )

    def publish(step, method):  # each checkpoint: a model usable now, marked partial
        save_trained_model(store / name, name, cfg, method, step, data, partial=True)

    try:
        result = train(
            cfg,
            images_a,
            images_b,
            run_dir,
            console=app.err,
            show_progress=app.show_progress,
            data=data,
            publish=publish,
        )
        if result.interrupted:
            signum = result.stop_signal or signal.SIGINT
            if result.runtime.is_main:
                app.warn(
                    f"interrupted ({signal.Signals(signum).name}) at step {result.step} of {cfg.train.steps}: "
                    f"checkpoint saved, partial model usable (--model {name}); rerun the same command to continue"
                )
            raise SystemExit(128 + signum)
        if result.runtime.is_main:
            refresh_batch_norm(cfg, result.method, images_a, images_b)
            folder = save_trained_model(store / name, name, cfg, result.method, result.step, data)
            app.info(f"model {name} saved to {folder} ({result.step} steps)")
    finally:  # also when training stopped with an error: every process leaves the group, none waits
        if dist.is_initialized():
            dist.destroy_process_group()


def _video_extractor(store, cfg):
    """Raw video sources go through `vidswap extract`'s cached dataset builder (face crops or
    frames at the training size; the loader's resize-and-crop jitter applies on top).
    Images found beside them are used as they are. Face crops are never aligned smaller
    than the aligner allows; the loader shrinks them to the training size."""
    import importlib.util

    if importlib.util.find_spec("vidswap.extract") is None:
        return None
    from vidswap.extract import ensure_dataset
    from vidswap.faces.align import aligned_size

    size = aligned_size(cfg.data.size) if cfg.data.mode == "face" else cfg.data.size
    return lambda videos: ensure_dataset(
        videos, store.parent / "datasets", mode=cfg.data.mode, size=size, margin=cfg.data.margin
    )
