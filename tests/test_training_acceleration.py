"""The acceleration keys of a training profile (benchmark/acceleration.py) change how a step
runs, not what it computes: on a CPU, channels-last, every Adam implementation, TF32 (a no-op
there) and the loop that reads the loss only when it logs give the same numbers as before;
old run records resume with the arithmetic they had; CUDA query chunks grow with free memory
without changing a pixel."""

from __future__ import annotations

import copy
import csv
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from ddir_kit.benchmark import acceleration
from ddir_kit.benchmark.acceleration import Acceleration, LossReader, auto_workers, plan, prepare_model
from ddir_kit.benchmark.distributed import DistContext
from ddir_kit.benchmark.profiles import PROFILES, load_profile
from ddir_kit.benchmark.run_files import RunRecord
from ddir_kit.benchmark.training import _check_resume, train_method
from ddir_kit.errors import DdirKitError
from ddir_kit.models import inference, make_model, upscale
from ddir_kit.models.coords import make_coord

FIXTURES = Path(__file__).parent / "fixtures" / "formats"
METHODS = ("liif", "lte", "ciaosr", "ddir")
SMALL = {"encoder_args": {"n_resblocks": 2, "n_feats": 16}, "hidden_list": [32, 32]}
# 2 pairs x repeat 4 / batch 2: 4 iterations per epoch, tens of milliseconds each
TINY = {"lr_patch_px": 16, "queries": 64, "batch": 2, "repeat": 4, "num_workers": 0, "torch_threads": 1,
        "log_every_iters": 1, "checkpoint_every_iters": 3, "learning_rate_milestones_epochs": [2]}


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    yield


@pytest.fixture(scope="module")
def synthetic_dataset(tmp_path_factory) -> Path:
    """Two x2 training pairs and one test pair of smooth random images (HR 64x80)."""
    root = tmp_path_factory.mktemp("accel") / "ds"
    rng = np.random.default_rng(0)
    for split, names in (("Train", ("a", "b")), ("Test", ("c",))):
        for name in names:
            hr = cv2.resize(rng.integers(0, 256, (8, 10, 3), dtype=np.uint8), (80, 64), interpolation=cv2.INTER_CUBIC)
            lr = cv2.resize(hr, (40, 32), interpolation=cv2.INTER_AREA)
            for folder, img in (("HR2", hr), ("LR2", lr)):
                (root / split / folder).mkdir(parents=True, exist_ok=True)
                cv2.imwrite(str(root / split / folder / f"{name}.png"), img)
    return root


def _profile(**changes):
    return load_profile("quick", {**TINY, "epochs": 1, **changes})


def _batch(seed: int, n: int = 2, patch_px: int = 12, queries: int = 50, scale: float = 2.5):
    gen = torch.Generator().manual_seed(seed)
    hr_px = int(patch_px * scale)
    lr = torch.rand(n, 3, patch_px, patch_px, generator=gen)
    idx = torch.stack([torch.randperm(hr_px * hr_px, generator=gen)[:queries] for _ in range(n)])
    coord = make_coord((hr_px, hr_px))[idx]
    cell = torch.full((n, queries, 2), 2.0 / hr_px)
    return lr, coord, cell, torch.rand(n, queries, 3, generator=gen), torch.rand(n, queries, 3, generator=gen) - 0.5


def _acc(**changes) -> Acceleration:
    base = dict(device_type="cpu", precision="fp32", tf32=False, bf16_autocast=False, channels_last=False,
                optimizer="plain", compile=False, num_workers=0, pin_memory=False)
    return Acceleration(**{**base, **changes})


def _loss_and_grads(model, acc: Acceleration, batch):
    lr, coord, cell, rgb, deform = batch
    b = acc.to_device({"lr": lr, "coord": coord, "cell": cell}, "cpu")
    model.zero_grad(set_to_none=True)
    out = model(b["lr"], b["coord"], b["cell"])
    loss = model.loss(out, rgb, deform if model.uses_deform_target else None)
    loss.backward()
    return out.rgb.detach(), loss.detach(), [p.grad.clone() for p in model.parameters()]


def _weights(run: Path) -> dict:
    from ddir_kit.models import load_checkpoint

    return load_checkpoint(run / "model.pt")[0].state_dict()


def _losses(run: Path) -> dict[int, str]:
    return {int(r["iter"]): r["loss"] for r in csv.DictReader((run / "log.csv").open())}


# -- profile keys ------------------------------------------------------------------------------

def test_acceleration_keys_are_typed_and_validated():
    p = load_profile("quick", {"precision": "tf32", "channels_last": True, "optimizer_impl": "fused",
                               "compile": True, "num_workers": "auto"})
    assert (p.precision, p.channels_last, p.optimizer_impl, p.compile, p.num_workers) == ("tf32", True, "fused",
                                                                                         True, "auto")
    assert PROFILES["paper"].optimizer_impl == "auto" and not PROFILES["paper"].compile
    assert not PROFILES["paper"].channels_last and PROFILES["paper"].num_workers == "auto"
    with pytest.raises(DdirKitError, match="optimizer_impl: expected one of auto, foreach, fused, plain"):
        load_profile("quick", {"optimizer_impl": "apex"})
    with pytest.raises(DdirKitError, match="channels_last: expected true or false"):
        load_profile("quick", {"channels_last": "yes"})
    for bad in (-1, "many", 1.5):
        with pytest.raises(DdirKitError, match="num_workers: expected auto or a whole number"):
            load_profile("quick", {"num_workers": bad})
    assert load_profile("quick", {"num_workers": "3"}).num_workers == 3


def test_auto_workers_are_sized_from_the_machine():
    assert auto_workers("cuda", 2, cpus=16, ranks=1) == 8  # capped
    assert auto_workers("cuda", 2, cpus=16, ranks=4) == 3  # 4 cores a rank, one for its own process
    assert auto_workers("cuda", 2, cpus=8, ranks=8) == 1
    assert auto_workers("cpu", 2, cpus=2, ranks=1) == 1  # the torch threads take the cores; one worker still
    assert auto_workers("cpu", 4, cpus=16, ranks=2) == 4
    here = plan(load_profile("paper"), DistContext()).num_workers
    assert 1 <= here <= acceleration.MAX_AUTO_WORKERS


def test_plan_resolves_auto_per_device_and_notes_what_cannot_apply():
    acc = plan(load_profile("quick", {"precision": "tf32"}), DistContext())
    assert acc.optimizer == "foreach" and not acc.tf32 and not acc.pin_memory
    assert acc.notes == ("precision tf32 has no effect on a CPU: the run computes in fp32",)
    assert plan(load_profile("quick", {"precision": "bf16"}), DistContext()).bf16_autocast
    assert plan(load_profile("quick", {"optimizer_impl": "plain"}), DistContext()).optimizer == "plain"


# -- same numbers --------------------------------------------------------------------------------

@pytest.mark.parametrize("method", METHODS)
def test_channels_last_gives_the_contiguous_forward_loss_and_gradients(method):
    torch.manual_seed(0)
    plain = make_model(method, "edsr", **SMALL)
    fast = prepare_model(copy.deepcopy(plain), _acc(channels_last=True))
    assert fast.encoder.head[0].weight.is_contiguous(memory_format=torch.channels_last)
    batch = _batch(1)
    a, b = _loss_and_grads(plain, _acc(), batch), _loss_and_grads(fast, _acc(channels_last=True), batch)
    torch.testing.assert_close(b[0], a[0], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(b[1], a[1], rtol=1e-5, atol=1e-7)
    for ga, gb in zip(a[2], b[2]):
        torch.testing.assert_close(gb, ga, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("impl,channels_last", (("foreach", False), ("fused", False), ("fused", True)))
def test_every_adam_implementation_gives_plain_adams_weights(impl, channels_last):
    # both in the same memory format: only Adam's implementation differs
    torch.manual_seed(0)
    ref = prepare_model(make_model("liif", "edsr", **SMALL), _acc(channels_last=channels_last))
    other = copy.deepcopy(ref)
    opts = {m: _acc(optimizer=name).adam(m.parameters(), 1e-3) for m, name in ((ref, "plain"), (other, impl))}
    for step in range(4):
        batch = _batch(10 + step)
        for model, opt in opts.items():
            _loss_and_grads(model, _acc(), batch)
            opt.step()
    for (name, pa), pb in zip(ref.named_parameters(), other.parameters()):
        torch.testing.assert_close(pb, pa, rtol=1e-5, atol=1e-7, msg=name)


def test_compile_off_leaves_the_model_as_it_was():
    torch.manual_seed(0)
    model = make_model("liif", "edsr", **SMALL)
    batch = _batch(2)
    before = _loss_and_grads(model, _acc(), batch)[1]
    assert torch.equal(_loss_and_grads(prepare_model(model, _acc(compile=False)), _acc(), batch)[1], before)
    assert "after_first" not in vars(model.imnet)


@pytest.mark.slow  # compiling even a tiny model takes about half a minute on a 2-core CPU
def test_compiled_encoder_and_decoder_give_the_same_loss():
    torch.manual_seed(0)
    model = make_model("liif", "edsr", encoder_args={"n_resblocks": 1, "n_feats": 8}, hidden_list=[16, 16])
    compiled = prepare_model(copy.deepcopy(model), _acc(compile=True))
    batch = _batch(3)
    a, b = _loss_and_grads(model, _acc(), batch), _loss_and_grads(compiled, _acc(), batch)
    torch.testing.assert_close(b[1], a[1], rtol=1e-5, atol=1e-6)
    assert compiled.state_dict().keys() == model.state_dict().keys()


# -- the loop that reads the loss only when it logs -------------------------------------------

def test_loss_reader_reads_the_last_loss_and_catches_a_nonfinite_one_in_between():
    reader = LossReader(DistContext(), first_iter=1)
    for v in (1.0, 2.0):
        reader.add(torch.tensor(v))
    assert reader.read(2, "run") == 2.0
    for v in (3.0, float("nan"), 4.0):  # a non-finite loss between two reads is not forgotten
        reader.add(torch.tensor(v))
    with pytest.raises(DdirKitError, match=r"not finite in iterations 3 to 5 \(loss 4.0 at 5"):
        reader.read(5, "run")


def test_logging_every_third_iteration_logs_the_losses_of_logging_every_one(synthetic_dataset, tmp_path):
    every = train_method("liif", synthetic_dataset, tmp_path / "every", _profile(epochs=2, log_every_iters=1))
    third = train_method("liif", synthetic_dataset, tmp_path / "third", _profile(epochs=2, log_every_iters=3))
    a, b = _losses(every.run_dir), _losses(third.run_dir)
    assert sorted(a) == list(range(1, 9)) and sorted(b) == [3, 6, 8]  # the last iteration is always logged
    assert all(b[it] == a[it] for it in b)
    assert third.final_loss == every.final_loss and f"{third.final_loss:.6f}" == a[8]
    wa, wb = _weights(every.run_dir), _weights(third.run_dir)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def test_a_nonfinite_loss_stops_training_at_the_next_logging_point(synthetic_dataset, tmp_path, monkeypatch):
    from ddir_kit.models.liif_arch import LIIF

    honest, calls, seen = LIIF.loss, [], []

    def poisoned(self, out, target_rgb, target_deform=None):
        calls.append(1)
        loss = honest(self, out, target_rgb, target_deform)
        return loss * float("nan") if len(calls) == 2 else loss

    monkeypatch.setattr(LIIF, "loss", poisoned)
    with pytest.raises(DdirKitError, match=r"training diverged: the loss was not finite in iterations 1 to 4"):
        train_method("liif", synthetic_dataset, tmp_path / "run", _profile(epochs=2, log_every_iters=4,
                                                                           checkpoint_every_iters=100),
                     progress=lambda it, total, loss: seen.append(it))
    assert seen == [1, 2, 3]  # no step after the logging point that found it
    assert not (tmp_path / "run" / "model.pt").exists()


def test_an_accelerated_run_stopped_after_a_checkpoint_resumes_to_the_bit(synthetic_dataset, tmp_path):
    prof = _profile(epochs=2, channels_last=True, optimizer_impl="foreach", log_every_iters=2)
    full = train_method("liif", synthetic_dataset, tmp_path / "full", prof)

    class Stopped(Exception):
        pass

    def stop_at_5(it, total, loss):
        if it == 5:
            raise Stopped  # after the checkpoint of iteration 3

    with pytest.raises(Stopped):
        train_method("liif", synthetic_dataset, tmp_path / "cut", prof, progress=stop_at_5)
    resumed = train_method("liif", synthetic_dataset, tmp_path / "cut", prof, resume=True)
    assert resumed.resumed_at_iter == 3
    wa, wb = _weights(full.run_dir), _weights(resumed.run_dir)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert _losses(full.run_dir) == _losses(resumed.run_dir)


# -- records ---------------------------------------------------------------------------------------

def test_tf32_is_recorded_and_computes_as_fp32_on_a_cpu(synthetic_dataset, tmp_path):
    fp32 = train_method("liif", synthetic_dataset, tmp_path / "fp32", _profile())
    tf32 = train_method("liif", synthetic_dataset, tmp_path / "tf32", _profile(precision="tf32"))
    rec = RunRecord.read(tmp_path / "tf32" / "run.json")
    assert rec.profile.precision == "tf32" and rec.acceleration["tf32"] is False
    assert rec.acceleration["optimizer"] == "foreach" and rec.acceleration["num_workers"] == 0
    assert "precision tf32 has no effect on a CPU" in rec.acceleration["notes"][0]
    assert tf32.notes == ("precision tf32 has no effect on a CPU: the run computes in fp32",)
    assert _losses(fp32.run_dir) == _losses(tf32.run_dir)


def test_a_run_recorded_before_the_acceleration_keys_resumes_with_plain_adam(tmp_path):
    old = RunRecord.read(FIXTURES / "bench" / "run.json")
    assert old.acceleration == {}
    assert (old.profile.optimizer_impl, old.profile.channels_last, old.profile.compile) == ("plain", False, False)
    today = load_profile("quick", {"lr_patch_px": 16, "queries": 64, "repeat": 2, "batch": 2, "epochs": 1,
                                   "learning_rate_milestones_epochs": [1], "precision": "bf16", "num_workers": 0})
    assert today.optimizer_impl == "auto"
    new = RunRecord(old.method, old.encoder, today, old.dataset, old.dataset_kind, old.train_scales, 1,
                    old.model_spec)
    profile, notes = _check_resume(old, new, tmp_path / "run.json")
    assert profile.optimizer_impl == "plain" and profile.batch == 2
    assert notes == ["profile optimizer_impl='plain' kept from the run (asked: 'auto')"]


def test_a_recorded_acceleration_key_is_part_of_the_resume_check(tmp_path):
    old = RunRecord.read(FIXTURES / "bench" / "run.json")
    recorded = RunRecord(old.method, old.encoder, old.profile, old.dataset, old.dataset_kind, old.train_scales, 1,
                         old.model_spec, acceleration=plan(old.profile, DistContext()).to_dict())
    recorded.write(tmp_path / "run.json")
    again = RunRecord.read(tmp_path / "run.json")
    assert again == recorded and again.acceleration["optimizer"] == "plain"
    for key, value in (("optimizer_impl", "fused"), ("channels_last", True), ("compile", True)):
        changed = RunRecord(old.method, old.encoder, replace(old.profile, **{key: value}), old.dataset,
                            old.dataset_kind, old.train_scales, 1, old.model_spec)
        with pytest.raises(DdirKitError, match=f"--resume with profile {key}="):
            _check_resume(again, changed, tmp_path / "run.json")


# -- test-time query chunks -------------------------------------------------------------------------

def test_query_chunks_keep_the_cpu_cap_and_grow_with_free_cuda_memory():
    per_query, budget = 16384, 1 << 30
    assert inference.query_chunk(per_query, budget, torch.device("cpu")) == inference.MAX_CPU_CHUNK_QUERIES
    assert inference.query_chunk(per_query, 1 << 20, torch.device("cpu")) == (1 << 20) * 4 // 10 // per_query
    budget_chunk = int(budget * 0.4) // per_query
    cuda = torch.device("cuda")
    assert inference.query_chunk(per_query, budget, cuda, free_bytes=1 << 20) == budget_chunk  # never below
    assert inference.query_chunk(per_query, budget, cuda, free_bytes=4 << 30) == (2 << 30) // per_query
    assert inference.query_chunk(per_query, budget, cuda, free_bytes=140 << 30) == (8 << 30) // per_query  # cap


@pytest.mark.parametrize("method", ("liif", "ciaosr"))
def test_full_image_inference_is_the_same_in_any_query_chunk(method, monkeypatch):
    torch.manual_seed(0)
    extra = {"test_tile_px": 16, "test_overlap_px": 4} if method == "ciaosr" else {}
    model = make_model(method, "edsr", **SMALL, **extra)
    lr = torch.rand(3, 24, 28, generator=torch.Generator().manual_seed(5))
    if method == "ciaosr":
        assert model.test_tiles((24, 28), (48, 56)) is not None  # the official tiled test runs
    default = upscale(model, lr, (48, 56))
    for chunk in (37, 10 ** 6):
        monkeypatch.setattr(inference, "query_chunk", lambda *a, chunk=chunk, **k: chunk)
        torch.testing.assert_close(upscale(model, lr, (48, 56)), default, rtol=0, atol=1e-6)


def test_the_gpu_benchmark_refuses_a_machine_without_cuda_in_one_line():
    import subprocess
    import sys

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is here")
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_train_step.py"
    r = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr.strip().splitlines() == ["no CUDA device: the GPU figures need one (pass --cpu-smoke to run the "
                                             "code paths on tiny shapes on this CPU)"]


# -- CUDA -------------------------------------------------------------------------------------------

cuda_only = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")


@cuda_only
def test_cuda_tf32_applies_while_training_and_the_settings_are_restored(synthetic_dataset, tmp_path):
    before = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    seen = []
    prof = _profile(precision="tf32", channels_last=True)
    res = train_method("liif", synthetic_dataset, tmp_path / "run", prof, device="cuda",
                       progress=lambda *a: seen.append(torch.backends.cuda.matmul.allow_tf32))
    assert all(seen) and res.notes == ()
    assert (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32) == before
    rec = RunRecord.read(tmp_path / "run" / "run.json")
    assert rec.acceleration["tf32"] and rec.acceleration["optimizer"] == "fused" and rec.acceleration["pin_memory"]


@cuda_only
def test_cuda_query_chunk_uses_the_free_memory():
    model = make_model("liif", "edsr").cuda()
    chunk = inference.query_chunk(model.bytes_per_query(), 1 << 30, torch.device("cuda"))
    assert chunk > int((1 << 30) * 0.4) // model.bytes_per_query()
