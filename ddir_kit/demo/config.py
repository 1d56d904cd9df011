"""What the demo shoots and trains: the default run and the smaller `--fast` run (CI)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

TRAIN_SCALES = (1.5, 2.0, 2.5, 3.0, 3.5, 4.0)
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
    # quick's 15 epochs take hours on two cores (benchmarks/results/city100_cpu_cost.md); the
    # default demo trains 10 epochs of 25 iterations per method (the lr halves after epoch 8)
    # to stay near 20 minutes, and says so.
    profile_overrides: dict = field(default_factory=lambda: {"epochs": 10, "lr_milestones_epochs": [8]})
    jobs: int = 2
    device: str = "cpu"  # where the bench trains and tests

    @property
    def all_scales(self) -> tuple[float, ...]:
        return tuple(sorted(self.train_scales + self.unseen_scales))

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


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
                precision: str = "fp32") -> DemoConfig:
    """epochs: train each method this long instead (the lr halves after 80 % of them), e.g. on
    a GPU, where 100 epochs take about a minute per method. precision: the bench profile's
    training precision (bf16: about 0.55x the time on a CPU with native bf16)."""
    cfg = dataclasses.replace(FAST if fast else DEFAULT, seed=seed, device=device)
    overrides = dict(cfg.profile_overrides)
    if epochs is not None:
        if epochs < 1:
            raise ValueError(f"epochs must be at least 1, got {epochs}")
        overrides.update(epochs=epochs, lr_milestones_epochs=[max(1, round(0.8 * epochs))])
    if precision != "fp32":
        overrides["precision"] = precision  # absent for fp32, so earlier runs' folders still match
    return dataclasses.replace(cfg, profile_overrides=overrides)
