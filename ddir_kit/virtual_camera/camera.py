"""The virtual DSLR: renders a planar scene through a ZoomLens onto a noisy sensor.

Public API
----------
- ``CameraBody``: sensor size, noise, Bayer option, bit depth, EXIF names (default 1200x800
  for tests; ``CameraBody.full_frame()`` is 5760x3840).
- ``ShotSettings``: what changes per shot (focal length, tripod pose, exposure gain,
  white-balance gains, tone-curve gamma, noise seed, EXIF time); ``ShotSettings.random(...)``
  draws the per-shot disturbances from a numpy Generator.
- ``shot_geometry(lens, body, settings)`` -> ShotGeometry (see shot_geometry.py).
- ``shoot(lens, body, settings, scene, distance_mm)`` -> ``VirtualShot`` with the developed
  RGB image, the linear raw data, the exact geometry and the EXIF.
- ``save_shot(path, shot)``: JPEG / PNG / TIFF (8 or 16 bit) with EXIF, or a real DNG.

The image chain, in order: exact pixel -> plane map (pinhole, radial distortion, tripod
rotation) sampled from an area-prefiltered texture (antialiasing); lens PSF (Gaussian,
widening with field angle); vignetting; exposure; camera raw response (colour cast the
white balance removes); shot and read noise; optional RGGB mosaic and OpenCV demosaic;
white balance; tone curve (sRGB with a per-shot gamma); quantisation at save time.
Everything random comes from the seeds in ShotSettings, so a shot is a pure function of its
inputs.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import cv2
import numpy as np

from ..errors import DdirKitError
from ..photo.exif import PhotoExif
from .lens_model import ZoomLens
from .shot_geometry import ShotGeometry, TripodPose

SHOT_FORMATS = ("jpg", "png", "tif", "dng")

# The exact map is computed every _MAP_STEP_PX pixels and interpolated bilinearly: it is
# smooth (a homography times a quartic), so the interpolation error is < 0.002 px
# (tests/test_virtual_camera.py checks it) while the cost drops ~60-fold.
_MAP_STEP_PX = 8
_MAP_PAD = 2

# A sensor pixel integrates the light over its area. One bilinear point sample per pixel of a
# texture prefiltered to the pixel footprint is not that: its weights depend on where the
# pixel centre falls between texels, which moves edges by a phase-dependent part of a pixel
# (up to 0.12 px on a grating, tests/test_virtual_camera_render.py) and showed up as
# registration error against the exact geometry. The mean of 2 x 2 point samples at the
# pixel's quarter positions cuts that to 0.012 px (3 x 3: 0.003 px, for 2.25x the time).
SENSOR_SUBSAMPLES = 2
_BAND_ROWS = 256  # rendered in bands of output rows, so a full-frame shot stays near 1 GB


@dataclass(frozen=True)
class CameraBody:
    """The camera body.

    width_px, height_px: sensor size. sensor_width_mm: physical width (36 = full frame), which
        with the lens's focal length sets the field of view.
    full_well_e, read_noise_e: electrons at saturation and read noise (shot noise follows).
    raw_response: relative channel sensitivities (R, G, B) of the raw data; the white balance
        divides them out (as-shot multipliers 1 / raw_response).
    bayer: sample an RGGB mosaic and demosaic it (OpenCV), as a real camera does.
    bit_depth: 8 or 16 for PNG/TIFF output (JPEG is always 8, DNG 12).
    """

    width_px: int = 1200
    height_px: int = 800
    sensor_width_mm: float = 36.0
    full_well_e: float = 20000.0
    read_noise_e: float = 4.0
    raw_response: tuple[float, float, float] = (0.5, 1.0, 0.65)
    bayer: bool = False
    bit_depth: int = 8
    make: str = "ddir-kit"
    model: str = "Virtual DSLR"
    iso: int = 100
    f_number: float = 4.0

    def __post_init__(self):
        if self.width_px < 16 or self.height_px < 16:
            raise DdirKitError(f"sensor too small: {self.width_px}x{self.height_px}")
        if self.bayer and (self.width_px % 2 or self.height_px % 2):
            raise DdirKitError(f"a Bayer sensor needs even sides, got {self.width_px}x{self.height_px}")
        if self.bit_depth not in (8, 16):
            raise DdirKitError(f"bit depth must be 8 or 16, got {self.bit_depth}")

    @classmethod
    def full_frame(cls, **kw) -> "CameraBody":
        return cls(width_px=5760, height_px=3840, **kw)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "CameraBody":
        names = {f.name for f in dataclasses.fields(cls)}
        d = {k: v for k, v in d.items() if k in names}
        if "raw_response" in d:
            d["raw_response"] = tuple(d["raw_response"])
        return cls(**d)


@dataclass(frozen=True)
class ShotSettings:
    """One shot's settings and disturbances.

    focal_mm: the zoom ring's mark (written to EXIF). pose: tripod disturbance.
    exposure_gain: relative exposure (1 = nominal, small jitter from light and aperture;
        a failed exposure sets it far off and changes exposure_s to match).
    wb_gains: (R, G, B) error of the camera's auto white balance for this shot.
    tone_gamma: power applied after the sRGB curve (1 = plain sRGB).
    noise_seed: seed of this shot's sensor noise.
    exposure_s: exposure time written to EXIF.
    capture_time: EXIF DateTimeOriginal.
    """

    focal_mm: float
    pose: TripodPose = TripodPose()
    exposure_gain: float = 1.0
    wb_gains: tuple[float, float, float] = (1.0, 1.0, 1.0)
    tone_gamma: float = 1.0
    noise_seed: int = 0
    exposure_s: float = 1 / 125
    capture_time: datetime = datetime(2024, 5, 4, 10, 0, 0)

    @classmethod
    def random(cls, rng: np.random.Generator, lens: ZoomLens, body: CameraBody, focal_mm: float,
               capture_time: datetime, disturb: bool = True, photometric: bool = True) -> "ShotSettings":
        """Per-shot disturbances: tripod (sub-degree roll, up to 3 px shift), exposure
        (+-4 %), white balance (+-3 % on R and B), tone gamma (+-3 %)."""
        focal_mm = lens.check_focal(focal_mm)
        # draw every number whatever the flags, so the flags do not shift the random stream
        pose = TripodPose.random(rng, float(lens.focal_px(focal_mm, body.width_px, body.sensor_width_mm)),
                                 max_shift_px=3.0 * body.width_px / 1200)
        gain = float(np.exp(rng.uniform(-0.04, 0.04)))
        r_gain, _, b_gain = np.exp(rng.uniform(-0.03, 0.03, 3))  # green is the reference: 1
        wb = (float(r_gain), 1.0, float(b_gain))
        gamma = float(np.exp(rng.uniform(-0.03, 0.03)))
        seed = int(rng.integers(0, 2**62))
        return cls(focal_mm, pose if disturb else TripodPose(), gain if photometric else 1.0,
                   wb if photometric else (1.0, 1.0, 1.0), gamma if photometric else 1.0, seed,
                   capture_time=capture_time)

    def replace(self, **kw) -> "ShotSettings":
        return dataclasses.replace(self, **kw)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["capture_time"] = self.capture_time.isoformat()
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "ShotSettings":
        d = dict(d)
        d["pose"] = TripodPose(**d["pose"])
        d["wb_gains"] = tuple(d["wb_gains"])
        d["capture_time"] = datetime.fromisoformat(d["capture_time"])
        return cls(**d)


@dataclass(frozen=True)
class VirtualShot:
    """A rendered shot.

    rgb: float32 HxWx3 in [0, 1], developed (white-balanced, tone-mapped) like a camera JPEG.
    raw: float32 linear raw data in [0, 1] before white balance: HxW RGGB mosaic when the
        body has a Bayer sensor, else HxWx3.
    geometry: the exact pixel geometry. white_balance: as-shot multipliers (R, G, B).
    demosaic_blur_px2: where measured, {demosaic: blur it adds, px^2} (demosaic_blur.py).
    """

    rgb: np.ndarray
    raw: np.ndarray
    geometry: ShotGeometry
    settings: ShotSettings
    exif: PhotoExif
    white_balance: tuple[float, float, float]
    bit_depth: int = 8
    demosaic_blur_px2: dict[str, float] | None = None


def shot_geometry(lens: ZoomLens, body: CameraBody, settings: ShotSettings, distortion: bool = True) -> ShotGeometry:
    return ShotGeometry.from_lens(lens, settings.focal_mm, body.width_px, body.height_px,
                                  body.sensor_width_mm, settings.pose, distortion)


def shot_exif(lens: ZoomLens, body: CameraBody, settings: ShotSettings) -> PhotoExif:
    return PhotoExif(focal_mm=round(float(settings.focal_mm), 2),
                     exposure_s=settings.exposure_s, f_number=body.f_number,
                     iso=body.iso, capture_time=settings.capture_time, camera_make=body.make,
                     camera_model=body.model, lens_model=lens.name)


def plane_maps(geometry: ShotGeometry, distance_mm: float):
    """(x_mm, y_mm, field2): float32 HxW plane coordinates seen by every pixel on the plane
    Z = distance_mm, and the squared relative field position. Computed exactly on a grid
    every _MAP_STEP_PX pixels (padded beyond the frame) and upsampled bilinearly."""
    g, pad = _MAP_STEP_PX, _MAP_PAD
    nx = -(-geometry.width_px // g) + 2 * pad
    ny = -(-geometry.height_px // g) + 2 * pad
    # coarse sample j sits at full-resolution pixel g*j + (g-1)/2 - g*pad, which is where
    # cv2.resize's centre-aligned convention puts it when upsampling by g
    us = g * np.arange(nx) + (g - 1) / 2.0 - g * pad
    vs = g * np.arange(ny) + (g - 1) / 2.0 - g * pad
    uu, vv = np.meshgrid(us, vs)
    x_mm, y_mm = geometry.pixel_to_plane(uu, vv, distance_mm)
    f2 = geometry.field(uu, vv) ** 2
    crop = (slice(g * pad, g * pad + geometry.height_px), slice(g * pad, g * pad + geometry.width_px))
    out = []
    for coarse in (x_mm, y_mm, f2):
        full = cv2.resize(coarse, (nx * g, ny * g), interpolation=cv2.INTER_LINEAR)
        out.append(np.ascontiguousarray(full[crop], dtype=np.float32))
    return tuple(out)


def render_optical_image(lens: ZoomLens, body: CameraBody, settings: ShotSettings, scene,
                         distance_mm: float, geometry: ShotGeometry | None = None,
                         subsamples: int = SENSOR_SUBSAMPLES) -> np.ndarray:
    """The light on the sensor: float32 HxWx3 linear, before exposure and noise.

    scene: anything on the plane with ``render(x_mm, y_mm, footprint_mm)`` (PlanarTexture,
    PlanarScene); it prefilters itself to the footprint (antialiasing). Each pixel is the mean
    of ``subsamples`` x ``subsamples`` samples over its area (see SENSOR_SUBSAMPLES)."""
    geometry = geometry or shot_geometry(lens, body, settings)
    k = int(subsamples)
    fine = geometry.subsampled(k)
    x_mm, y_mm, f2 = plane_maps(fine, distance_mm)
    footprint_mm = distance_mm / fine.focal_px
    h, w = geometry.height_px, geometry.width_px
    img = np.empty((h, w, 3), np.float32)
    for r0 in range(0, h, _BAND_ROWS):
        r1 = min(h, r0 + _BAND_ROWS)
        band = scene.render(x_mm[k * r0:k * r1], y_mm[k * r0:k * r1], footprint_mm)
        # k x k blocks of the fine grid are exactly the pixels: INTER_AREA takes their mean
        img[r0:r1] = band if k == 1 else cv2.resize(band, (w, r1 - r0), interpolation=cv2.INTER_AREA)
    del x_mm, y_mm
    if k > 1:
        f2 = cv2.resize(f2, (w, h), interpolation=cv2.INTER_AREA)
    img = _field_dependent_blur(img, f2, lens, settings.focal_mm, body.width_px)
    img *= lens.vignetting(settings.focal_mm, np.sqrt(f2)).astype(np.float32)[:, :, None]
    return img


def _field_dependent_blur(img: np.ndarray, f2: np.ndarray, lens: ZoomLens, focal_mm: float, width_px: int) -> np.ndarray:
    # A spatially varying Gaussian by blending three global blurs linearly in field^2: the
    # PSF's sigma is linear in field^2, so the blend follows it closely, at the cost of
    # three separable convolutions instead of a per-pixel kernel.
    levels = np.array([0.0, 0.5, 1.0])
    s0, s1, s2 = (float(s) for s in lens.psf_sigma_px(focal_mm, np.sqrt(levels), width_px))
    b0 = cv2.GaussianBlur(img, (0, 0), s0, borderType=cv2.BORDER_REFLECT)
    b1 = cv2.GaussianBlur(img, (0, 0), s1, borderType=cv2.BORDER_REFLECT)
    b2 = cv2.GaussianBlur(img, (0, 0), s2, borderType=cv2.BORDER_REFLECT)
    two_w = 2.0 * f2
    a = np.clip(two_w, 0.0, 1.0)[:, :, None]        # weight of (b1 - b0)
    b = np.clip(two_w - 1.0, 0.0, 1.0)[:, :, None]  # weight of (b2 - b1)
    # b0 + a (b1 - b0) + b (b2 - b1), in place: full-frame temporaries cost more than the maths
    b2 -= b1
    b2 *= b
    b1 -= b0
    b1 *= a
    b0 += b1
    b0 += b2
    return b0


def expose(body: CameraBody, settings: ShotSettings, optical: np.ndarray):
    """Optical image -> (developed rgb, raw, white_balance multipliers). Noise from the shot's seed.

    ``optical`` is consumed (modified in place)."""
    rng = np.random.default_rng(settings.noise_seed)
    response = np.asarray(body.raw_response, np.float32)
    full_well = np.float32(body.full_well_e)
    optical *= np.float32(settings.exposure_gain) * response * full_well
    electrons = _mosaic(optical) if body.bayer else optical
    np.maximum(electrons, 0.0, out=electrons)
    # Poisson shot noise approximated by a Gaussian of the same variance (exact enough at
    # these electron counts and ~10x faster), plus Gaussian read noise
    noise = rng.standard_normal(electrons.shape, dtype=np.float32)
    sigma = electrons + np.float32(body.read_noise_e ** 2)
    np.sqrt(sigma, out=sigma)
    noise *= sigma
    del sigma
    electrons += noise
    del noise
    electrons *= np.float32(1.0) / full_well
    raw = np.clip(electrons, 0.0, 1.0, out=electrons)
    if body.bayer:
        from ..photo.dng import demosaic_rggb_bilinear

        camera_rgb = demosaic_rggb_bilinear(raw)
    else:
        camera_rgb = raw.copy()
    wb = np.asarray(settings.wb_gains, np.float32) / response
    camera_rgb *= wb
    rgb = _tone_curve(camera_rgb, settings.tone_gamma)
    return rgb, raw, tuple(float(v) for v in wb)


def _tone_curve(linear: np.ndarray, gamma: float) -> np.ndarray:
    """sRGB transfer curve then a per-shot power; ``linear`` is consumed. cv2.pow is used
    because numpy's float power is several times slower on full-frame images."""
    np.clip(linear, 0.0, 1.0, out=linear)
    dark = linear < np.float32(0.0031308)
    dark_values = linear[dark] * np.float32(12.92)
    out = cv2.pow(linear, 1 / 2.4)
    out *= np.float32(1.055)
    out -= np.float32(0.055)
    out[dark] = dark_values
    if gamma != 1.0:
        np.clip(out, 0.0, 1.0, out=out)
        out = cv2.pow(out, float(gamma))
    return out


def _mosaic(rgb: np.ndarray) -> np.ndarray:
    from ..photo.dng import mosaic_rggb

    return mosaic_rggb(rgb)


def shoot(lens: ZoomLens, body: CameraBody, settings: ShotSettings, scene,
          distance_mm: float, distortion: bool = True, measure_demosaic: bool = False) -> VirtualShot:
    """Render one shot of a planar scene (PlanarTexture or PlanarScene) at ``distance_mm``;
    deterministic for its settings. measure_demosaic: also measure the blur the demosaics add
    to this shot (for the truth of shots whose photos are demosaicked: Bayer bodies, DNG files)."""
    geometry = shot_geometry(lens, body, settings, distortion)
    optical = render_optical_image(lens, body, settings, scene, distance_mm, geometry)
    demosaic = None
    if measure_demosaic:
        from .demosaic_blur import central_window, measure_demosaic_blur

        response = np.asarray(body.raw_response, np.float32)
        noise_free = np.clip(central_window(optical) * np.float32(settings.exposure_gain) * response, 0.0, 1.0)
        demosaic = measure_demosaic_blur(noise_free, np.asarray(settings.wb_gains, np.float32) / response, body.bayer)
    rgb, raw, wb = expose(body, settings, optical)
    return VirtualShot(rgb, raw, geometry, settings, shot_exif(lens, body, settings), wb, body.bit_depth, demosaic)


def save_shot(path: str | Path, shot: VirtualShot) -> Path:
    """Write a shot by extension: .jpg (8 bit), .png/.tif (the body's bit depth), .dng (12-bit RGGB)."""
    from ..photo.dng import mosaic_rggb, write_dng
    from ..photo.photo_io import write_jpeg, write_png, write_tiff

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".jpg", ".jpeg"):
        return write_jpeg(path, shot.rgb, quality=95, exif=shot.exif)
    if suffix == ".png":
        return write_png(path, shot.rgb, shot.bit_depth, shot.exif)
    if suffix in (".tif", ".tiff"):
        return write_tiff(path, shot.rgb, shot.bit_depth, shot.exif)
    if suffix == ".dng":
        bayer = shot.raw if shot.raw.ndim == 2 else mosaic_rggb(shot.raw)
        return write_dng(path, bayer, shot.exif, white_balance=shot.white_balance)
    raise DdirKitError(f"cannot write a shot as {suffix or '(no extension)'}; use one of {', '.join(SHOT_FORMATS)}", path)


def shot_times(start: datetime, count: int, interval_s: float = 4.0) -> list[datetime]:
    """EXIF times of ``count`` shots taken in order, ``interval_s`` apart."""
    return [start + timedelta(seconds=interval_s * i) for i in range(count)]
