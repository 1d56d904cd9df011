"""Where each pixel of a virtual shot looks: pinhole + radial distortion + tripod rotation.

The camera turns about its optical centre (a tripod head; no parallax), so the map between
any two shots is independent of the scene. Scenes are planes ``Z = distance_mm`` in world
coordinates (x right, y down, z forward); with zero rotation the optical axis points at the
world origin of that plane.

Pixel coordinates follow docs/conventions.md: x right, y down, (0, 0) the centre of the top-left pixel.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

# Fixed-point iterations for undoing the radial distortion. Each one shrinks the error by
# about |3 k1 r^2| (< 0.3 over any frame this lens makes), so 12 reach 1e-7 px.
_UNDISTORT_ITERATIONS = 12


@dataclass(frozen=True)
class TripodPose:
    """Small rotation of the camera for one shot (tripod disturbance), degrees.

    roll about the optical axis, pan about the vertical (image x moves), tilt about the
    horizontal (image y moves).
    """

    roll_deg: float = 0.0
    pan_deg: float = 0.0
    tilt_deg: float = 0.0

    def rotation(self) -> np.ndarray:
        """3x3 world -> camera rotation."""
        r, p, t = (math.radians(a) for a in (self.roll_deg, self.pan_deg, self.tilt_deg))
        rz = np.array([[math.cos(r), -math.sin(r), 0], [math.sin(r), math.cos(r), 0], [0, 0, 1]])
        ry = np.array([[math.cos(p), 0, math.sin(p)], [0, 1, 0], [-math.sin(p), 0, math.cos(p)]])
        rx = np.array([[1, 0, 0], [0, math.cos(t), -math.sin(t)], [0, math.sin(t), math.cos(t)]])
        return rz @ ry @ rx

    @classmethod
    def random(cls, rng: np.random.Generator, focal_px: float, max_roll_deg: float = 0.5,
               max_shift_px: float = 3.0) -> "TripodPose":
        """A disturbance of up to ``max_roll_deg`` roll and about ``max_shift_px`` image shift."""
        roll = float(np.clip(rng.normal(0.0, max_roll_deg / 2.5), -max_roll_deg, max_roll_deg))
        shift = rng.uniform(-max_shift_px, max_shift_px, size=2)
        pan, tilt = (math.degrees(math.atan(s / focal_px)) for s in shift)
        return cls(roll, float(pan), float(-tilt))


@dataclass(frozen=True)
class ShotGeometry:
    """The intrinsic and extrinsic geometry of one shot.

    width_px, height_px: sensor size. focal_px: effective focal length in pixels.
    cx_px, cy_px: principal point (pixel coordinates). k1, k2: radial distortion (OpenCV).
    pose: the tripod rotation.
    """

    width_px: int
    height_px: int
    focal_px: float
    cx_px: float
    cy_px: float
    k1: float
    k2: float
    pose: TripodPose = TripodPose()

    @classmethod
    def from_lens(cls, lens, focal_mm: float, width_px: int, height_px: int,
                  sensor_width_mm: float = 36.0, pose: TripodPose = TripodPose(),
                  distortion: bool = True) -> "ShotGeometry":
        dx, dy = lens.axis_offset_px(focal_mm, width_px)
        k1, k2 = lens.distortion(focal_mm) if distortion else (0.0, 0.0)
        return cls(int(width_px), int(height_px), float(lens.focal_px(focal_mm, width_px, sensor_width_mm)),
                   (width_px - 1) / 2.0 + dx, (height_px - 1) / 2.0 + dy, float(k1), float(k2), pose)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ShotGeometry":
        d = dict(d)
        d["pose"] = TripodPose(**d.get("pose", {}))
        return cls(**d)

    def subsampled(self, k: int) -> "ShotGeometry":
        """The same view on a grid k times finer: fine pixel (U, V) is the point
        ((U + 0.5) / k - 0.5, (V + 0.5) / k - 0.5) of this grid (pixel-centre convention)."""
        if k == 1:
            return self
        return dataclasses.replace(self, width_px=k * self.width_px, height_px=k * self.height_px,
                                   focal_px=k * self.focal_px, cx_px=k * (self.cx_px + 0.5) - 0.5,
                                   cy_px=k * (self.cy_px + 0.5) - 0.5)

    @property
    def half_diagonal_px(self) -> float:
        return 0.5 * math.hypot(self.width_px, self.height_px)

    # -- pixel <-> ray ----------------------------------------------------------------------

    def pixel_to_ray(self, u, v) -> np.ndarray:
        """World ray directions (..., 3) through pixel coordinates u, v (float64 arrays)."""
        xd = (np.asarray(u, np.float64) - self.cx_px) / self.focal_px
        yd = (np.asarray(v, np.float64) - self.cy_px) / self.focal_px
        x, y = self.undistort_normalised(xd, yd)
        rays_cam = np.stack([x, y, np.ones_like(x)], axis=-1)
        return rays_cam @ self.pose.rotation()  # == R^T applied to each row vector

    def ray_to_pixel(self, rays) -> tuple[np.ndarray, np.ndarray]:
        """Pixel coordinates (u, v) of world ray directions (..., 3)."""
        cam = np.asarray(rays, np.float64) @ self.pose.rotation().T
        x, y = cam[..., 0] / cam[..., 2], cam[..., 1] / cam[..., 2]
        r2 = x * x + y * y
        g = 1.0 + self.k1 * r2 + self.k2 * r2 * r2
        return self.focal_px * x * g + self.cx_px, self.focal_px * y * g + self.cy_px

    def undistort_normalised(self, xd, yd) -> tuple[np.ndarray, np.ndarray]:
        # No closed form for the inverse of the Brown model; fixed-point iteration is the
        # textbook method (as in cv2.undistortPoints) but run to convergence, not 5 steps.
        x, y = xd, yd
        if self.k1 == 0.0 and self.k2 == 0.0:
            return np.asarray(x, np.float64), np.asarray(y, np.float64)
        for _ in range(_UNDISTORT_ITERATIONS):
            r2 = x * x + y * y
            g = 1.0 + self.k1 * r2 + self.k2 * r2 * r2
            x, y = xd / g, yd / g
        return x, y

    # -- pixel <-> plane --------------------------------------------------------------------

    def pixel_to_plane(self, u, v, distance_mm: float) -> tuple[np.ndarray, np.ndarray]:
        """Plane coordinates (X, Y) in mm on the plane Z = distance_mm seen at pixels (u, v)."""
        rays = self.pixel_to_ray(u, v)
        t = distance_mm / rays[..., 2]
        return rays[..., 0] * t, rays[..., 1] * t

    def plane_to_pixel(self, x_mm, y_mm, distance_mm: float) -> tuple[np.ndarray, np.ndarray]:
        """Pixel coordinates of plane points (X, Y) mm on the plane Z = distance_mm."""
        x_mm = np.asarray(x_mm, np.float64)
        rays = np.stack([x_mm, np.asarray(y_mm, np.float64), np.full_like(x_mm, distance_mm)], axis=-1)
        return self.ray_to_pixel(rays)

    def field(self, u, v) -> np.ndarray:
        """Distance from the optical axis over the half diagonal (0 on the axis, ~1 at a corner)."""
        return np.hypot(np.asarray(u, np.float64) - self.cx_px, np.asarray(v, np.float64) - self.cy_px) / self.half_diagonal_px


def map_pixels(src: ShotGeometry, dst: ShotGeometry, u, v) -> tuple[np.ndarray, np.ndarray]:
    """Where pixels (u, v) of shot ``src`` land in shot ``dst`` (exact, any scene)."""
    return dst.ray_to_pixel(src.pixel_to_ray(u, v))
