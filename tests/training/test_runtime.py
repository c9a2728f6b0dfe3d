"""Device choice, mixed precision and data-parallel set-up, without a GPU: CUDA's presence is
faked with monkeypatch (the hardware is absent); everything else is real torch."""

import pytest
import torch
from torch import nn

import trainer.runtime
from trainer.config import load_config
from trainer.loop import train
from trainer.methods import method_spec
from trainer.runtime import Runtime, make_runtime
from vidswap.device import pick_device, select_device
from vidswap.errors import ConfigError
from vidswap.nets.acgan import ACGANDiscriminator


@pytest.mark.parametrize(
    "requested, local_rank, world_size, gpus, expected",
    [
        ("auto", 0, 1, 0, "cpu"),
        ("cpu", 0, 1, 2, "cpu"),
        ("auto", 0, 1, 2, "cuda:0"),
        ("cuda", 0, 1, 1, "cuda:0"),
        ("cuda:1", 0, 1, 2, "cuda:1"),
        ("auto", 1, 2, 2, "cuda:1"),
        ("cuda", 1, 2, 2, "cuda:1"),
        ("auto", 1, 2, 0, "cpu"),
    ],
)
def test_select_device_gives_cuda_devices_an_index(requested, local_rank, world_size, gpus, expected):
    device = select_device(requested, local_rank, world_size, gpus)
    assert device == torch.device(expected)
    assert device.type == "cpu" or device.index is not None


@pytest.mark.parametrize(
    "requested, local_rank, world_size, gpus, message",
    [
        ("cuda:3", 0, 1, 2, "only 2 GPU"),
        ("cuda", 0, 1, 0, "no CUDA GPU"),
        ("cuda:0", 0, 1, 0, "no CUDA GPU"),
        ("auto", 2, 3, 2, "LOCAL_RANK 2 but only 2 GPU"),
        ("cuda:0", 1, 2, 2, "all 2 processes on one GPU"),
        ("gpu", 0, 1, 1, "expected auto, cpu, cuda or cuda:N"),
        ("cuda:x", 0, 1, 1, "expected auto"),
    ],
)
def test_select_device_errors_are_one_line(requested, local_rank, world_size, gpus, message):
    with pytest.raises(ConfigError, match=message) as err:
        select_device(requested, local_rank, world_size, gpus)
    assert "\n" not in str(err.value)


@pytest.fixture
def two_fake_gpus(monkeypatch):
    """torch sees two CUDA GPUs; set_device records its argument and, like torch, refuses a device without an index."""
    chosen = []

    def set_device(device):
        if isinstance(device, torch.device) and device.index is None:
            raise ValueError(f"Expected a torch.device with a specified index or an integer, but got:{device}")
        chosen.append(device)

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    monkeypatch.setattr(torch.cuda, "set_device", set_device)
    flags = [
        (torch.backends.cudnn, "benchmark"),
        (torch.backends.cudnn, "allow_tf32"),
        (torch.backends.cuda.matmul, "allow_tf32"),
    ]
    saved = [getattr(owner, name) for owner, name in flags]
    yield chosen
    for (owner, name), value in zip(flags, saved):  # make_runtime sets them process-wide
        setattr(owner, name, value)


def test_make_runtime_makes_an_indexed_gpu_current(two_fake_gpus, monkeypatch):
    for var in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
        monkeypatch.delenv(var, raising=False)
    rt = make_runtime("cuda")
    assert two_fake_gpus == [torch.device("cuda", 0)] and rt.device == torch.device("cuda", 0)
    assert rt.amp_dtype == torch.bfloat16 and not rt.sync_batch_norm
    assert pick_device("auto") == "cuda:0"


def test_under_torchrun_each_process_takes_its_gpu_and_batch_norm_is_synchronised(two_fake_gpus, monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("LOCAL_RANK", "1")
    with monkeypatch.context() as patch:
        patch.setattr(trainer.runtime.dist, "is_initialized", lambda: True)  # as if NCCL had started
        rt = make_runtime("auto")
    assert two_fake_gpus == [torch.device("cuda", 1)]
    assert (rt.device, rt.rank, rt.world_size, rt.sync_batch_norm) == (torch.device("cuda", 1), 1, 2, True)


def test_synchronised_batch_norm_networks_train_and_export_plain_ones():
    # what a GPU process under torchrun builds, here on the CPU in one process (torch then synchronises nothing)
    rt = Runtime(device=torch.device("cpu"), sync_batch_norm=True)
    method = method_spec("acgan").build(load_config("acgan", ["tiny"]), rt)
    for name, net in method.modules.items():
        kinds = {type(m) for m in net.modules()}
        assert nn.SyncBatchNorm in kinds and nn.BatchNorm2d not in kinds, name
    batch = {side: torch.rand(2, 3, 32, 32) * 2 - 1 for side in "AB"}
    assert all(torch.isfinite(torch.tensor(v)) for v in method.train_step(batch, 1).values())
    translator = method.export()["AtoB"]  # a plain network again, with the trained weights
    assert nn.SyncBatchNorm not in {type(m) for m in translator.modules()}
    assert torch.equal(translator.generator.convs[0].weight, method.modules["G"].convs[0].weight)


def test_gloo_lets_two_processes_share_one_gpu(two_fake_gpus, monkeypatch):
    # NCCL refuses two ranks on one GPU; with train.dist_backend=gloo rank 1 shares GPU 0 and
    # batch norm is still synchronised (torch's SyncBatchNorm gathers through gloo)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("LOCAL_RANK", "1")
    backends = []
    monkeypatch.setattr(trainer.runtime.dist, "is_initialized", lambda: False)
    monkeypatch.setattr(trainer.runtime.dist, "init_process_group", backends.append)
    rt = make_runtime("auto", dist_backend="gloo")
    assert backends == ["gloo"] and two_fake_gpus == [torch.device("cuda", 0)]
    assert (rt.device, rt.rank, rt.world_size, rt.sync_batch_norm) == (torch.device("cuda", 0), 1, 2, True)
    with pytest.raises(ConfigError, match="LOCAL_RANK 1 but only 1 GPU.*train.dist_backend=gloo"):
        make_runtime("auto")  # NCCL: one process a GPU


def test_on_cpu_under_torchrun_batch_norm_is_left_alone(monkeypatch):
    # torch's SyncBatchNorm forward refuses CPU tensors, so gloo runs keep per-process batch norm
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setattr(trainer.runtime.dist, "is_initialized", lambda: True)
    rt = make_runtime("cpu", "off")
    assert rt.device == torch.device("cpu") and not rt.sync_batch_norm
    net = rt.prepare(ACGANDiscriminator(size=16, ndf=4))
    assert nn.SyncBatchNorm not in {type(m) for m in net.modules()}


def test_a_non_finite_loss_is_refused_before_the_weights_change():
    rt = Runtime(device=torch.device("cpu"))
    net = nn.Linear(2, 1)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    before = net.weight.detach().clone()
    with pytest.raises(trainer.runtime.NonFiniteLoss, match="non-finite"):
        rt.step(net(torch.tensor([[float("nan"), 1.0]])).sum(), opt)
    assert torch.equal(net.weight, before)


def test_fp16_loss_scale_is_updated_once_an_iteration(tmp_path, tiny_domains, monkeypatch):
    calls = {"step": 0, "update": 0}
    for name in calls:
        real = getattr(torch.amp.GradScaler, name)

        def counting(self, *args, _real=real, _name=name, **kwargs):
            calls[_name] += 1
            return _real(self, *args, **kwargs)

        monkeypatch.setattr(torch.amp.GradScaler, name, counting)
    cfg = load_config("cyclegan", ["tiny"], ["train.device=cpu", "train.amp=fp16", "train.steps=3"])
    images = [sorted(d.glob("*.png")) for d in tiny_domains]
    result = train(cfg, *images, tmp_path / "run", show_progress=False)
    assert result.runtime.scaler is not None and result.runtime.amp_dtype == torch.float16
    assert calls == {"step": 6, "update": 3}  # two optimizers a step, one update after both


def test_ddp_leaves_batch_norm_buffers_unbroadcast(tmp_path):
    # methods call a network twice before backward; rank 0's buffers copied in at the second call
    # modify in place what the first call saved for backward: torch 2.11 then refuses FastCUT with
    # net.norm=batch under torchrun ("modified by an inplace operation"), seen with real torchrun + gloo
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    try:
        rt = Runtime(device=torch.device("cpu"), world_size=2)
        net = rt.wrap(nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4)))
        assert isinstance(net, nn.parallel.DistributedDataParallel) and not net.broadcast_buffers
        x = torch.rand(2, 3, 8, 8)
        (net(x).sum() + net(x).sum()).backward()  # two calls, one backward
    finally:
        dist.destroy_process_group()
