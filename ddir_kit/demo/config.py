"""What the demo shoots and trains: the default run and the smaller `--fast` run (CI)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

TRAIN_SCALES = (1.5, 2.0, 2.5, 3.0, 3.5, 4.0)

# The demo's models: every method at a reduced width (EDSR-baseline with 8 residual blocks of 32
# channels, MLPs of 4 x 128), so that its runs fit two CPU cores: a training step of the four
# full-size methods takes 4.5 s there, of these 1.4 s. Both the pretrained models and the
# from-scratch runs are these; the paper's sizes are the kit's defaults everywhere else.
DEMO_ENCODER_ARGS = {"n_resblocks": 8, "n_feats": 32}
DEMO_METHOD_ARGS = {
    "liif": {"encoder_args": DEMO_ENCODER_ARGS, "hidden_list": [128, 128, 128, 128]},
    "lte": {"encoder_args": DEMO_ENCODER_ARGS, "hidden_list": [128, 128, 128], "hidden_dim": 128},
    "ciaosr": {"encoder_args": DEMO_ENCODER_ARGS, "hidden_list": [128, 128, 128, 128]},
    "ddir": {"encoder_args": DEMO_ENCODER_ARGS, "hidden_list": [128, 128, 128, 128]},
}
UNSEEN_SCALES = (1.7, 2.3, 2.7, 3.3, 3.7)


@dataclass(frozen=True)
class DemoConfig:
    """sweep_focals_mm: EXIF focal lengths of the checkerboard sweep (longest = reference).
    sweep_sensor_px / scene_sensor_px: (width, height) of the virtual camera's frames.
    card_formats: what the virtual camera writes to its card ('dng' exercises the RAW path).
    profile_overrides: `--set` overrides of the bench profile."""

    seed: int = 0
    sweep_focals_mm: tuple[float, ...] = tuple(round(24 + i * 81 / 17, 2) for i in range(18))
    sweep_sensor_px: tuple[int, int] = (1200, 800)
    # Small frames: testing four implicit decoders at 11 scales costs about 1.6 TFLOP per
    # output megapixel for LIIF and several times that for CiaoSR, on two cores.
    scene_sensor_px: tuple[int, int] = (480, 320)
    n_scenes: int = 6
    test_fraction: float = 0.2
    train_scales: tuple[float, ...] = TRAIN_SCALES
    unseen_scales: tuple[float, ...] = UNSEEN_SCALES
    card_formats: tuple[str, ...] = ("dng", "jpg")
    methods: tuple[str, ...] = ("bicubic", "liif", "lte", "ciaosr", "ddir")
    encoder: str = "edsr"
    profile: str = "quick"
    # The from-scratch run that proves the training path: 10 epochs of 25 iterations per method
    # (the lr halves after epoch 8), minutes on two cores and far too short to learn much. The
    # comparison the report draws is that of the pretrained models (pretrain.py).
    profile_overrides: dict = field(default_factory=lambda: {"epochs": 10, "lr_milestones_epochs": [8]})
    # the pretrained models the bench scores beside the from-scratch run: None = the shipped
    # ones (ddir_kit/data/demo_models), else a folder `ddir-kit demo pretrain` wrote
    models_dir: str | None = None
    jobs: int = 2
    device: str = "cpu"  # where the bench trains and tests

    @property
    def all_scales(self) -> tuple[float, ...]:
        return tuple(sorted(self.train_scales + self.unseen_scales))

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        if d["models_dir"] is None:  # absent for the shipped models, so earlier runs' folders still match
            del d["models_dir"]
        return d


DEFAULT = DemoConfig()

# CI: every stage runs, on less data and fewer scales, in a few minutes; training is a
# smoke run (a few iterations), so its table shows the machinery, not the methods' quality.
FAST = DemoConfig(
    sweep_focals_mm=(24, 28, 33, 38, 44, 50, 57, 65, 74, 84, 94, 105),
    sweep_sensor_px=(1200, 800),
    scene_sensor_px=(480, 320),
    n_scenes=3,
    test_fraction=0.34,
    train_scales=(2.0, 3.0, 4.0),
    unseen_scales=(2.7,),
    card_formats=("jpg",),
    profile_overrides={"epochs": 1, "repeat": 2},
)


def demo_config(fast: bool, seed: int, device: str = "cpu", epochs: int | None = None,
                precision: str = "fp32", models_dir: str | None = None) -> DemoConfig:
    """epochs: train each method of the from-scratch run this long instead (the lr halves after
    80 % of them), e.g. on a GPU. precision: the bench profile's training precision (bf16:
    about 0.55x the time on a CPU with native bf16). models_dir: pretrained models to score
    instead of the shipped ones."""
    cfg = dataclasses.replace(FAST if fast else DEFAULT, seed=seed, device=device,
                              models_dir=None if models_dir is None else str(models_dir))
    overrides = dict(cfg.profile_overrides)
    if epochs is not None:
        if epochs < 1:
            raise ValueError(f"epochs must be at least 1, got {epochs}")
        overrides.update(epochs=epochs, lr_milestones_epochs=[max(1, round(0.8 * epochs))])
    if precision != "fp32":
        overrides["precision"] = precision  # absent for fp32, so earlier runs' folders still match
    return dataclasses.replace(cfg, profile_overrides=overrides)
