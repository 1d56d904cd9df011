"""Faults planted in the LR shots of simulated scenes, to test rejection downstream: a moving
object (a patch of another photograph present in that shot only) and a failed exposure."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from ..errors import DdirKitError
from ..scales import as_fraction, parse_scale_list

# Exposure gain of a failed shot: 8x over or 12x under.
FAILED_GAIN = {"over": 8.0, "under": 1 / 12}


@dataclass(frozen=True)
class Planting:
    """Planted faults, per nominal LR scale.

    moving_object: scales whose LR shot gets an object (a patch of another photo) that no
        other shot of the scene shows.
    failed_exposure: {scale: 'over' | 'under'}: that LR shot is 8x over or 12x under exposed.
    object_size: object side as a fraction of the HR frame height.
    """

    moving_object: tuple[float, ...] = ()
    failed_exposure: dict = field(default_factory=dict)
    object_size: float = 0.25

    def __post_init__(self):
        for kind in self.failed_exposure.values():
            if kind not in FAILED_GAIN:
                raise DdirKitError(f"failed exposure must be 'over' or 'under', got {kind!r}")

    def to_dict(self) -> dict:
        return dict(moving_object=[float(s) for s in self.moving_object],
                    failed_exposure={str(float(k)): v for k, v in self.failed_exposure.items()},
                    object_size=self.object_size)

    def has_object(self, scale: Fraction) -> bool:
        return any(as_fraction(s) == scale for s in self.moving_object)

    def exposure(self, scale: Fraction) -> str | None:
        for s, kind in self.failed_exposure.items():
            if as_fraction(s) == scale:
                return kind
        return None

    def check_scales(self, shot_scales) -> None:
        """Refuse a fault at a scale that has no LR shot."""
        shot = {as_fraction(s) for s in shot_scales}
        for s in list(self.moving_object) + list(self.failed_exposure):
            if as_fraction(s) not in shot:
                raise DdirKitError(f"cannot plant a fault at x{float(s):g}: no LR shot at that scale")


def parse_planting(moving_object: str = "", failed_exposure: str = "") -> Planting:
    """CLI text -> Planting: moving_object '2,3' (scales); failed_exposure '3:over,2:under'."""
    objects = tuple(float(s) for s in parse_scale_list(moving_object)) if moving_object.strip() else ()
    failed = {}
    for item in (t.strip() for t in failed_exposure.split(",")):
        if not item:
            continue
        scale, _, kind = item.partition(":")
        if kind not in FAILED_GAIN:
            raise DdirKitError(f"failed exposure must look like 3:over or 2:under, got {item!r}")
        failed[float(as_fraction(scale))] = kind
    return Planting(moving_object=objects, failed_exposure=failed)
