"""The dataset card against the virtual camera's truth: does the card recover the degradations the
camera was set to make?

- Photometric shift. A pair's HR and LR shots differ by exposure, white balance, tone gamma and
  vignetting (camera.py, lens_model.py). From the truth, each HR pixel's value predicts the value
  the LR shot recorded at the same scene point: decode the HR's tone curve, scale the linear light
  by k_c = (E_lr wb_lr,c V_lr) / (E_hr wb_hr,c V_hr) (vignetting V at each shot's own field
  position of that point). That light is then sampled as the LR photo samples it: area-averaged
  onto the LR grid in linear light (a sensor pixel integrates light), encoded with the LR's tone
  curve, and upscaled with the card's bicubic. The truth's gain and offset are the card's own fit
  (dataset/card_measures.py fit_gain_offset) of the HR against that prediction in place of the
  upscaled LR, so both sides share the sampling, the low-pass, the clipping mask and the border.
  Photos ingest developed from RAW files carry neither the camera's per-shot white balance error
  nor its tone power (one white balance per scene, the plain sRGB curve): for them k_c is the
  exposure ratio and both curves are sRGB.
- Relative blur. Registration blurs the HR photo by sigma_rel (LR px) and area-averages it onto
  the LR grid to match the LR photo, so sigma_rel^2 = V_lr - (V_hr + A(s)) / s^2, where V is the
  variance (each photo in its own pixels) of what the camera puts between the wall's texels and
  the photo: the lens PSF (lens_model.py psf_sigma_px, averaged as a variance over the pair's
  pixels), the sensor's k x k point samples per pixel ((k^2 - 1) / (12 k^2), camera.py), the
  texture read (bilinear; a minified LR view first prefilters the texture, scenes.py) and, for a
  demosaicked photo (a Bayer body's own photos, or a DNG developed by ingest), the demosaic's
  blur, which the camera measured on each shot (demosaic_blur.py); A(s) is the variance of the
  area average's weights over the HR pixels (pair_resampling.area_weight_variance_hr_px2: 0.25
  HR px^2 at x2, not the continuous box's 1/3). JPEG compression is not modelled (see
  TruthComparison.jpeg_sources).

Truth comes as the demo's camera-card truth (card_truth.json, scenes matched to the ingested
captures through scene.json's source files) or as the <scene>/truth.json files of `ddir-kit
capture simulate scenes`.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..dataset.card import CardAlignedPair, CardPairs
from ..dataset.card_measures import bicubic_resize, fit_gain_offset
from ..errors import DdirKitError
from ..photo.photo_io import read_photo
from ..photo.srgb import linear_to_srgb, srgb_to_linear
from ..registration.pair_resampling import area_weight_variance_hr_px2, hr_on_lr_grid
from .camera import SENSOR_SUBSAMPLES, ShotSettings
from .demosaic_blur import CAMERA_DEMOSAIC
from .lens_model import ZoomLens
from .shot_geometry import ShotGeometry, map_pixels

# Per-scale means, per channel; offsets in full-scale units. Set (before the truth modelled the
# LR's sampling and the demosaic) at about twice the largest disagreement then measured on the
# demo's dataset (gain 0.009, offset 0.006); today's largest: gain 0.0146 (one --fast pair),
# offset 0.0074 (benchmarks/results/card_vs_truth.md). The blur's is half the registration
# estimator's candidate step (0.2 LR px): below ~0.2 LR px it cannot tell blurs apart (docs/card.md).
GAIN_TOLERANCE = 0.02
OFFSET_TOLERANCE = 0.01
BLUR_TOLERANCE_LR_PX = 0.1
_FIELD_STEP_PX = 8  # the blur truth averages the PSF variance over a grid this coarse


@dataclass(frozen=True)
class ScaleAgreement:
    """One scale: card and truth means over the scale's pairs. gain/offset: (R, G, B); blur in LR px
    (None where the card has no aligned/ pair at the scale)."""

    scale: float
    pairs: int
    gain_card: tuple[float, float, float]
    gain_truth: tuple[float, float, float]
    offset_card: tuple[float, float, float]
    offset_truth: tuple[float, float, float]
    blur_pairs: int
    blur_card_lr_px: float | None
    blur_truth_lr_px: float | None

    @property
    def gain_error(self) -> float:
        return max(abs(a - b) for a, b in zip(self.gain_card, self.gain_truth))

    @property
    def offset_error(self) -> float:
        return max(abs(a - b) for a, b in zip(self.offset_card, self.offset_truth))

    @property
    def blur_error(self) -> float | None:
        if self.blur_card_lr_px is None or self.blur_truth_lr_px is None:
            return None
        return abs(self.blur_card_lr_px - self.blur_truth_lr_px)


@dataclass(frozen=True)
class TruthComparison:
    """Per-scale agreement and the per-pair rows behind it (dicts: pair, scale, gain/offset card and
    truth, or blur card and truth). jpeg_sources: the captures came from JPEG files; JPEG
    compression (quantisation, 4:2:0 chroma subsampling) softens each photo at its own pixel pitch,
    so the LR more than the HR, which the blur truth leaves out (it is no setting of the camera).
    raw_sources: some were developed from RAW files. demosaic_in_truth: the blur truth of every
    pair whose photos are demosaicked holds the demosaic's blur the camera measured (False for a
    truth written before the camera measured it, which leaves the demosaic out)."""

    scales: tuple[ScaleAgreement, ...]
    pairs: tuple[dict, ...] = field(default_factory=tuple)
    gain_tolerance: float = GAIN_TOLERANCE
    offset_tolerance: float = OFFSET_TOLERANCE
    blur_tolerance_lr_px: float = BLUR_TOLERANCE_LR_PX
    jpeg_sources: bool = False
    raw_sources: bool = False
    demosaic_in_truth: bool = False

    def _photometric_within(self, s: ScaleAgreement) -> bool:
        return s.gain_error <= self.gain_tolerance and s.offset_error <= self.offset_tolerance

    def _blur_within(self, s: ScaleAgreement) -> bool:
        return s.blur_error is None or s.blur_error <= self.blur_tolerance_lr_px

    @property
    def photometric_ok(self) -> bool:
        return all(self._photometric_within(s) for s in self.scales)

    @property
    def blur_ok(self) -> bool:
        return all(self._blur_within(s) for s in self.scales)

    @property
    def scales_within(self) -> int:
        """How many scales agree in gain, offset and blur."""
        return sum(self._photometric_within(s) and self._blur_within(s) for s in self.scales)

    @property
    def ok(self) -> bool:
        return self.photometric_ok and self.blur_ok

    def markdown_lines(self) -> list[str]:
        """A table for a report: card against truth per scale, with the tolerances."""
        def verdict(ok):
            return "all scales within" if ok else "NOT all scales within"

        lines = [f"The dataset card against the virtual camera's settings: gain and offset {verdict(self.photometric_ok)} "
                 f"{self.gain_tolerance} and {self.offset_tolerance} (full scale), relative blur "
                 f"{verdict(self.blur_ok)} {self.blur_tolerance_lr_px} LR px.", "",
                 "| scale | pairs | gain card (R/G/B) | gain truth | offset card | offset truth | relative blur card / truth "
                 "(LR px) |", "|---|---|---|---|---|---|---|"]
        for s in self.scales:
            blur = "-" if s.blur_error is None else f"{s.blur_card_lr_px:.3f} / {s.blur_truth_lr_px:.3f}"
            lines.append(f"| x{s.scale:g} | {s.pairs} | {_rgb(s.gain_card, '.3f')} | {_rgb(s.gain_truth, '.3f')} | "
                         f"{_rgb(s.offset_card, '.4f')} | {_rgb(s.offset_truth, '.4f')} | {blur} |")
        chain = "lens PSF, sensor sampling, texture read" + (", demosaic" if self.demosaic_in_truth else "")
        if self.jpeg_sources:
            lines += ["", "The photos were JPEG files: compression softens each photo at its own pixel pitch, so the "
                          f"LR more than the HR, and the blur truth ({chain}) leaves that out."]
        if self.raw_sources and self.demosaic_in_truth:
            lines += ["", "The photos were developed from RAW files: the blur truth holds the blur the demosaic "
                          "adds to each photo, which the camera measured on the shot itself."]
        elif self.raw_sources:
            lines += ["", "The photos were developed from RAW files: demosaicing softens each photo at its own pixel "
                          f"pitch, so the LR more than the HR, and the blur truth ({chain}) leaves that out."]
        return lines


def _rgb(v, fmt: str) -> str:
    return " / ".join(format(x, fmt) for x in v)


def compare_with_truth(card: str | Path | dict, truth: str | Path, captures_dir: str | Path | None = None,
                       gain_tolerance: float = GAIN_TOLERANCE, offset_tolerance: float = OFFSET_TOLERANCE,
                       blur_tolerance_lr_px: float = BLUR_TOLERANCE_LR_PX) -> TruthComparison:
    """Compare a card (its folder, card.json, or the dict) made with ``--aligned`` on a dataset of
    the virtual camera with the camera's truth: ``truth`` is card_truth.json (then
    ``captures_dir`` maps the ingested scenes to its scenes by source file; without it, by name)
    or a captures folder holding <scene>/truth.json. Raises DdirKitError when the card has no
    aligned/ section or a pair has no truth."""
    rec = CardPairs.read(card)
    if not rec.aligned:
        raise DdirKitError("the card was made without --aligned: no HR crops and no measured blur to compare")
    t = _truth_shots(Path(truth), None if captures_dir is None else Path(captures_dir))
    shots, lens = t.shots, t.lens
    aligned = {a.pair: a for a in rec.aligned}
    rows = []
    for p in rec.pairs:
        if not p.source or p.source not in aligned:
            raise DdirKitError(f"{p.hr}: no aligned pair behind it (the card needs the dataset's manifest.json)")
        a = aligned[p.source]
        hr_shot, lr_shot = _shots_for(shots, a)
        hr = read_photo(rec.dataset_root / p.hr).rgb
        bx, by = (p.hr_box_in_pair or (0, 0))[:2]
        pred = _predicted_lr_photo(hr, (a.hr_crop[0] + bx, a.hr_crop[1] + by), hr_shot, lr_shot, lens,
                                   p.scale_fraction)
        fit = fit_gain_offset(hr, pred, p.scale_fraction)
        rows.append({"pair": p.hr, "source": p.source, "scale": p.scale, "gain_card": list(p.gain),
                     "gain_truth": list(fit.gain), "offset_card": list(p.offset), "offset_truth": list(fit.offset)})
    blur_rows = []
    demosaic_known = True
    for a in aligned.values():
        if a.status != "ok" or a.relative_blur_lr_px is None:
            continue
        hr_shot, lr_shot = _shots_for(shots, a)
        d_hr, d_lr = (_demosaic_px2(sh, t.bayer) for sh in (hr_shot, lr_shot))
        demosaic_known &= d_hr is not None and d_lr is not None
        blur = _relative_blur_truth(a, hr_shot, lr_shot, lens, t.texel.get(a.scene, 1.0), d_hr or 0.0, d_lr or 0.0)
        blur_rows.append({"pair": a.pair, "scale": a.scale, "blur_card": a.relative_blur_lr_px, "blur_truth": blur,
                          "demosaic_hr_px2": d_hr, "demosaic_lr_px2": d_lr})
    scales = []
    for sc in sorted({r["scale"] for r in rows}):
        rs = [r for r in rows if r["scale"] == sc]
        bs = [b for b in blur_rows if b["scale"] == sc]

        def mean3(key):
            return tuple(float(np.mean([r[key][c] for r in rs])) for c in range(3))

        scales.append(ScaleAgreement(sc, len(rs), mean3("gain_card"), mean3("gain_truth"), mean3("offset_card"),
                                     mean3("offset_truth"), len(bs),
                                     statistics.fmean(b["blur_card"] for b in bs) if bs else None,
                                     statistics.fmean(b["blur_truth"] for b in bs) if bs else None))
    demosaicked = t.bayer or t.raw
    return TruthComparison(tuple(scales), tuple(rows + blur_rows), gain_tolerance, offset_tolerance,
                           blur_tolerance_lr_px, t.jpeg, t.raw, demosaicked and bool(blur_rows) and demosaic_known)


@dataclass(frozen=True)
class _Shot:
    """What the comparison needs of one shot's truth, from either kind of truth file. files:
    the photo files the shot was written as; developed_from: the one ingest used, where known, and
    demosaic the algorithm it developed a RAW file with; demosaic_blur_px2: what the camera
    measured (None in truth files written before it did)."""

    geometry: ShotGeometry
    settings: ShotSettings
    true_scale: float | None
    files: tuple[str, ...]
    developed_from: str | None = None
    demosaic: str | None = None
    demosaic_blur_px2: dict[str, float] | None = None


@dataclass(frozen=True)
class _Truth:
    """shots: {(scene, 'hr') or (scene, Fraction(scale)): _Shot}; texel: {scene: texel size of the
    wall's photos in HR px} where the truth records it (else 1, the packaged textures' size at the
    demo's sensors); jpeg / raw: whether any photo came from a JPEG file / was developed from RAW;
    bayer: the camera's own photos are demosaicked."""

    shots: dict
    lens: ZoomLens
    texel: dict
    jpeg: bool
    raw: bool
    bayer: bool


def _truth_shots(truth: Path, captures_dir: Path | None) -> _Truth:
    """The shots of the truth file(s), read by truth.py, their one reader."""
    from .truth import read_card_truth, read_scene_truth

    out: dict = {}
    texel: dict = {}
    if truth.is_dir():
        dirs = sorted(f.parent for f in truth.glob("*/truth.json"))
        if not dirs:
            raise DdirKitError("no <scene>/truth.json here (the virtual camera's truth)", truth)
        lens, bayer = None, False
        for d in dirs:
            rec = read_scene_truth(d)
            lens, bayer = lens or rec.lens, bayer or rec.camera.bayer
            out[(rec.scene, "hr")] = _Shot(rec.hr.geometry, rec.hr.settings, None, (rec.hr.file,),
                                           demosaic_blur_px2=rec.hr.demosaic_blur_px2)
            texel[rec.scene] = rec.texture.texel_mm / rec.texture.hr_pixel_mm
            for lr in rec.lr:
                out[(rec.scene, Fraction(lr.scale).limit_denominator(100))] = _Shot(
                    lr.geometry, lr.settings, lr.true_scale, (lr.file,), demosaic_blur_px2=lr.demosaic_blur_px2)
        return _Truth(out, lens, texel, False, False, bayer)
    if not truth.is_file():
        raise DdirKitError("not found (the virtual camera's truth: card_truth.json or a folder of "
                           "<scene>/truth.json)", truth)
    card = read_card_truth(truth)

    def shot(t, developed_from=None, development=None) -> _Shot:
        return _Shot(t.geometry, t.settings, t.true_scale, tuple(t.files), developed_from,
                     (development or {}).get("demosaic"), t.demosaic_blur_px2)

    if captures_dir is None:
        for scene in card.scenes:
            for t in scene.shots:
                key = "hr" if t.role == "hr" else Fraction(t.scale).limit_denominator(100)
                out[(scene.scene, key)] = shot(t)
    else:
        from ..capture.capture_layout import list_scene_dirs, read_scene_json

        by_file = card.by_file()
        for d in list_scene_dirs(captures_dir):
            sr = read_scene_json(d)
            for shot_rec, key in [(sr.hr, "hr")] + [(lr, Fraction(lr.scale).limit_denominator(100)) for lr in sr.lr]:
                name = Path(shot_rec.source).name
                if name in by_file:
                    out[(sr.scene, key)] = shot(by_file[name][0], name, shot_rec.development or sr.development)
    used = [f for sh in out.values() for f in ([sh.developed_from] if sh.developed_from else sh.files)]
    raw = any(_from_raw(sh) for sh in out.values())
    jpeg = any(f.lower().endswith((".jpg", ".jpeg")) for f in used) and not raw
    return _Truth(out, card.lens, texel, jpeg, raw, card.camera.bayer)


def _from_raw(shot: _Shot) -> bool:
    """Whether the photo of a shot was developed from its RAW file: the file ingest used, or, where
    that is not known, whether the shot has one (ingest prefers RAW)."""
    files = [shot.developed_from] if shot.developed_from else shot.files
    return any(f.lower().endswith(".dng") for f in files)


def _demosaic_px2(shot: _Shot, bayer: bool) -> float | None:
    """The blur (px^2) the demosaic of this shot's photo added: the development's for a photo
    developed from RAW (ingest's default AHD where the record names none), the camera's own for
    its photos from a Bayer body, 0 for a camera photo without one; None where the truth lacks it."""
    if _from_raw(shot):
        key = shot.demosaic or "AHD"
    elif not bayer:
        return 0.0
    else:
        key = CAMERA_DEMOSAIC
    return None if shot.demosaic_blur_px2 is None else shot.demosaic_blur_px2.get(key)


def _shots_for(shots: dict, aligned_pair: CardAlignedPair) -> tuple[_Shot, _Shot]:
    scene, s = aligned_pair.scene, aligned_pair.scale_fraction
    if (scene, "hr") not in shots or (scene, s) not in shots:
        raise DdirKitError(f"no truth for pair {aligned_pair.pair}")
    return shots[(scene, "hr")], shots[(scene, s)]


def _tone(settings: ShotSettings | None):
    gamma = 1.0 if settings is None else float(settings.tone_gamma)
    return (lambda lin: np.power(np.clip(linear_to_srgb(np.clip(lin, 0.0, 1.0)), 0.0, 1.0), gamma),
            lambda enc: srgb_to_linear(np.power(np.clip(enc, 0.0, 1.0), 1.0 / gamma)))


def _fields(hr_shot: _Shot, lr_shot: _Shot, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Field positions of HR photo pixels (u, v) in the HR shot and, at the same scene point, in
    the LR shot."""
    gh, gl = hr_shot.geometry, lr_shot.geometry
    ul, vl = map_pixels(gh, gl, u, v)
    return gh.field(u, v), gl.field(ul, vl)


def _predicted_lr_linear(hr: np.ndarray, origin: tuple[int, int], hr_shot: _Shot, lr_shot: _Shot, lens: ZoomLens):
    """(float64 HR-sized linear light the LR shot received at each HR pixel's scene point, the LR
    photo's encoding curve)."""
    h, w = hr.shape[:2]
    v, u = np.mgrid[0:h, 0:w].astype(np.float64)
    f_hr, f_lr = _fields(hr_shot, lr_shot, u + origin[0], v + origin[1])
    hs, ls = hr_shot.settings, lr_shot.settings
    vig = lens.vignetting(ls.focal_mm, f_lr) / lens.vignetting(hs.focal_mm, f_hr)
    k = np.full(3, float(ls.exposure_gain) / float(hs.exposure_gain))
    if _from_raw(hr_shot) and _from_raw(lr_shot):
        # ingest develops every RAW file of a scene with one white balance and the plain sRGB
        # curve: the camera's per-shot white balance error and tone power never reach the photos
        encode_lr, decode_hr = _tone(None)
    else:
        k *= np.asarray(ls.wb_gains, np.float64) / np.asarray(hs.wb_gains, np.float64)
        encode_lr, _ = _tone(ls)
        _, decode_hr = _tone(hs)
    return decode_hr(hr).astype(np.float64) * vig[..., None] * k[None, None, :], encode_lr


def _predicted_lr_values(hr: np.ndarray, origin: tuple[int, int], hr_shot: _Shot, lr_shot: _Shot,
                         lens: ZoomLens) -> np.ndarray:
    """float32 HR-sized: the value the LR shot recorded at each HR pixel's scene point."""
    lin, encode_lr = _predicted_lr_linear(hr, origin, hr_shot, lr_shot, lens)
    return encode_lr(lin.astype(np.float32)).astype(np.float32)


def _predicted_lr_photo(hr: np.ndarray, origin: tuple[int, int], hr_shot: _Shot, lr_shot: _Shot, lens: ZoomLens,
                        scale: Fraction) -> np.ndarray:
    """float32 HR-sized: the LR photo the camera's photometric settings predict, as the card sees
    it (the bicubic upscale of its LR pixels). Each LR pixel integrates linear light over its
    footprint (the area average onto the LR grid) and the photo stores that encoded: because the
    encoding is concave, an LR pixel over fine texture holds a brighter value than the mean of the
    HR's encoded values under it, and by more the larger the scale. A pixel-wise prediction leaves
    that out, and the card's gain and offset per pair differed from it by up to 0.034 and 0.024 at
    x4 on the demo's dataset (0.020 and 0.011 with it). No blur: the prediction keeps the HR's."""
    lin, encode_lr = _predicted_lr_linear(hr, origin, hr_shot, lr_shot, lens)
    h, w = hr.shape[:2]
    lr = hr_on_lr_grid(lin.astype(np.float32), (0, 0, w, h), Fraction(scale))
    return bicubic_resize(encode_lr(lr).astype(np.float32), (w, h))


def _relative_blur_truth(aligned_pair: CardAlignedPair, hr_shot: _Shot, lr_shot: _Shot, lens: ZoomLens,
                         texel_hr_px: float, demosaic_hr_px2: float = 0.0, demosaic_lr_px2: float = 0.0) -> float:
    x0, y0, w, h = aligned_pair.hr_crop
    v, u = np.mgrid[y0:y0 + h:_FIELD_STEP_PX, x0:x0 + w:_FIELD_STEP_PX].astype(np.float64)
    f_hr, f_lr = _fields(hr_shot, lr_shot, u, v)
    s = float(lr_shot.true_scale or aligned_pair.scale)
    psf_hr = np.mean(lens.psf_sigma_px(hr_shot.settings.focal_mm, f_hr, int(hr_shot.geometry.width_px)) ** 2)
    psf_lr = np.mean(lens.psf_sigma_px(lr_shot.settings.focal_mm, f_lr, int(lr_shot.geometry.width_px)) ** 2)
    k = SENSOR_SUBSAMPLES
    pixel = (k * k - 1) / (12.0 * k * k)  # k x k point samples per pixel, as camera.py renders
    v_hr = _texture_variance_hr_px2(1.0 / k, texel_hr_px) + pixel + psf_hr + demosaic_hr_px2  # HR px^2
    v_lr = _texture_variance_hr_px2(s / k, texel_hr_px) / (s * s) + pixel + psf_lr + demosaic_lr_px2  # LR px^2
    # the template: HR blurred by sigma_rel, then area-averaged onto the LR grid (registration)
    area = area_weight_variance_hr_px2(aligned_pair.scale_fraction)
    return float(np.sqrt(max(0.0, v_lr - (v_hr + area) / (s * s))))


def _texture_variance_hr_px2(sample_hr_px: float, texel_hr_px: float) -> float:
    """Variance (HR px^2) of what the virtual camera's texture lookup adds to the wall's texel
    samples when it samples every ``sample_hr_px``: a bilinear read of the texels; for a minified
    view, the texture first prefiltered as scenes.py's PlanarTexture.at_texel_mm does (a Gaussian
    of max(0.3, (r - 1) / 2) texels and an area resize by r, above r = 1.05) and read bilinearly
    on the new grid."""
    r = sample_hr_px / texel_hr_px
    if r <= 1.05:
        return texel_hr_px ** 2 / 6.0
    sigma = max(0.3, (r - 1.0) / 2.0) * texel_hr_px
    return sigma ** 2 + sample_hr_px ** 2 / 12.0 + sample_hr_px ** 2 / 6.0
