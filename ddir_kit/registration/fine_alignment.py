"""Fine LR-HR alignment: robust, coarse-to-fine Gauss-Newton on an affine map with a
per-step luminance gain and offset and an optional relative radial term (RealSR's recipe).

Written by hand because no library does this: OpenCV's findTransformECC fits an affine but
has no robust (IRLS) weighting, no luminance model beyond its global normalisation, no
radial term and no damping; scikit-image's registration is translation-only. The inner loop
leans on OpenCV (pyrDown, Sobel, remap) and vectorised numpy.

Model, at LR resolution (the RealSR authors' version-3 recipe): ``template`` T is the HR photo
downscaled to the LR grid (area filter); ``moving`` I is the LR photo (grey, tone-matched to T).
For every template pixel x = (u, v):

    T(x) ~ (gain + v1 rho + v2 rho^2 + vx dx + vy dy) * I + c * I^2 / 255 + offset,   I = I(D(A x)),
    (dx, dy) = (D(A x) - c) / R,   rho = dx^2 + dy^2

A is a 2x3 affine (grid px -> LR photo px), D the optional radial term of pair_map.PairMap.
The residuals are re-weighted with w = 1 / (|r| + eps) (an L1 approximation; intensities on
a 0..255 scale, eps = 0.1 as RealSR), steps are Levenberg-Marquardt damped, pixels whose
sample falls outside the LR photo are masked, and the estimate runs from the top of an image
pyramid down. At fine levels a fixed random subset of textured template pixels is used: a
few hundred thousand equations already pin an affine to well under 0.01 px, and sampling
keeps a 24-megapixel pair fast.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from ..errors import DdirKitError

# LR photo values are read with Lanczos-4 by default, not cubic: the photo is barely oversampled,
# and cubic's phase-dependent interpolation error biased the map (0.06-0.07 LR px at the corners of
# x4 pairs rendered through the exact map, noise-free; Lanczos-4: 0.01). Bilinear is worse still
# ("pixel locking"). Gradients only steer the steps, so bilinear serves them.
VALUE_INTERPOLATIONS = {"lanczos4": cv2.INTER_LANCZOS4, "cubic": cv2.INTER_CUBIC, "linear": cv2.INTER_LINEAR}
_INTERP_VALUE = cv2.INTER_LANCZOS4
_INTERP_GRAD = cv2.INTER_LINEAR


@dataclass
class FineAlignment:
    """Result of `fine_align`.

    grid_to_lr: float64 2x3, template grid px -> LR photo px (before the radial term).
    radial_k1: relative radial coefficient (0 when not estimated).
    gain, offset, vignetting (v1, v2, vx, vy): luminance, T ~ (gain + v1 rho + v2 rho^2 + vx dx +
        vy dy) * I + offset, (dx, dy) = (y - c) / R and rho = dx^2 + dy^2 at the LR photo point y
        (offset on the 0..255 scale): the two focal lengths vignette differently, which a global
        gain cannot absorb, and about axes a few pixels apart (the linear terms).
    tone_quadratic: c of an extra c * I^2 / 255 term (gamma and tone-curve differences).
    stats: on the last level's samples: median_abs, mean_abs of |r| (0..255 scale); zncc of T
        and gain * I + offset; zncc_best90 (the same without the worst-fitting 10 %, so that an
        object in one photo only does not hide a good fit); sharpness_ratio (mean gradient
        magnitude of the corrected LR over the template's: well below 1 for a blurred shot).
    iterations: per pyramid level, coarse to fine.
    converged: the last level's update fell below the tolerance.
    grid_to_lr_h: float64 3x3 homography (grid px -> LR photo px, before the radial term) when
        the perspective terms were fitted; then grid_to_lr holds its first two rows.
    """

    grid_to_lr: np.ndarray
    radial_k1: float
    gain: float
    offset: float
    vignetting: tuple[float, float]
    tone_quadratic: float
    stats: dict
    iterations: list[int] = field(default_factory=list)
    converged: bool = False
    grid_to_lr_h: np.ndarray | None = None


@dataclass(frozen=True)
class FineConfig:
    """irls_eps: the 0.1 of w = 1/(|r| + 0.1), 0..255 intensity scale.
    max_samples: template pixels used per level (a random, textured subset beyond this).
    top_side_px: the pyramid's top level has its shorter side at least this long.
    tolerance_px: stop a level when no grid corner moves by more than this (level pixels).
    radial: fit the relative radial term k1. vignetting: fit the relative vignetting v1, v2.
    perspective: fit a homography instead of an affine (two more terms; a camera that pans or
        tilts a little between the zoom shots maps the frame by a homography).
    radial_k1_fixed: with radial, apply this k1 instead of fitting it (known from other pairs
        shot at the same two focal lengths, see register_captures).
    value_interpolation: how LR photo values are read between pixels (VALUE_INTERPOLATIONS).
    finest_level: stop at this pyramid level (0: full resolution; 1 leaves the finest level to a
        later fit, e.g. against a template that this fit's map helps to build).
    """

    irls_eps: float = 0.1
    max_samples: int = 120_000
    top_side_px: int = 48
    max_levels: int = 7
    max_iter_top: int = 60
    max_iter: int = 20
    tolerance_px: float = 1e-3
    radial: bool = False
    perspective: bool = False
    vignetting: bool = True
    radial_k1_fixed: float | None = None
    finest_level: int = 0
    value_interpolation: str = "lanczos4"
    seed: int = 0

    def __post_init__(self):
        if self.value_interpolation not in VALUE_INTERPOLATIONS:
            raise DdirKitError(f"value_interpolation must be one of {', '.join(VALUE_INTERPOLATIONS)}, "
                               f"got {self.value_interpolation!r}")


def pyramid_levels(shape: tuple[int, int], top_side_px: int, max_levels: int) -> int:
    n, side = 1, min(shape)
    while n < max_levels and side // 2 >= top_side_px:
        side //= 2
        n += 1
    return n


def fine_align(template: np.ndarray, moving: np.ndarray, init_grid_to_lr: np.ndarray, *,
               template_mask: np.ndarray | None = None, radial_centre_px=(0.0, 0.0),
               radial_norm_px: float = 1.0, config: FineConfig = FineConfig()) -> FineAlignment:
    """Estimate A (and k1, gain, offset) so that T(x) ~ gain * I(D(A x)) + offset.

    template: float32 HxW grey, 0..255, on the LR grid. moving: float32 grey, 0..255, the LR
    photo (or a crop of it; then ``init_grid_to_lr`` and ``radial_centre_px`` are in the
    crop's pixels). template_mask: bool HxW, False where T must not be used (clipped, outside
    the HR photo).
    """
    n_levels = pyramid_levels(template.shape, config.top_side_px, config.max_levels)
    tpl = [np.ascontiguousarray(template, np.float32)]
    mov = [np.ascontiguousarray(moving, np.float32)]
    msk = [np.ones(template.shape, np.float32) if template_mask is None else template_mask.astype(np.float32)]
    for _ in range(n_levels - 1):
        tpl.append(cv2.pyrDown(tpl[-1]))
        mov.append(cv2.pyrDown(mov[-1]))
        msk.append(cv2.pyrDown(msk[-1]))
    rng = np.random.default_rng(config.seed)

    a = _as_3x3(init_grid_to_lr)
    k1 = config.radial_k1_fixed if config.radial and config.radial_k1_fixed is not None else 0.0
    gain, offset, vig, quad = 1.0, 0.0, (0.0, 0.0, 0.0, 0.0), 0.0
    iterations = []
    converged = False
    stats = {}
    for level in range(n_levels - 1, min(config.finest_level, n_levels - 1) - 1, -1):
        # pyrDown keeps the sample at even pixels: x_level = x_0 / 2**level for both images.
        f = 2.0 ** level
        lv = np.diag([f, f, 1.0])
        a_l = np.linalg.inv(lv) @ a @ lv
        state = _Level(tpl[level], mov[level], msk[level] > 0.999, np.asarray(radial_centre_px) / f,
                       radial_norm_px / f, config, rng)
        p = state.pack(a_l, k1, gain, offset, vig, quad)
        p, n_it, converged, stats = state.solve(p, config.max_iter_top if level == n_levels - 1 else config.max_iter)
        a_l, k1, gain, offset, vig, quad = state.unpack(p)
        a = lv @ a_l @ np.linalg.inv(lv)
        a = a / a[2, 2]
        iterations.append(n_it)
    return FineAlignment(a[:2] if not config.perspective else a[:2] / a[2, 2], float(k1), float(gain),
                         float(offset), tuple(float(v) for v in vig), float(quad), stats, iterations, converged,
                         a if config.perspective else None)


class _Level:
    """One pyramid level: a fixed set of template samples and the LM-damped IRLS solver."""

    def __init__(self, tpl, mov, mask, centre, norm, config: FineConfig, rng):
        self.mov = mov
        self.gx = cv2.Sobel(mov, cv2.CV_32F, 1, 0, ksize=3, scale=1 / 8)
        self.gy = cv2.Sobel(mov, cv2.CV_32F, 0, 1, ksize=3, scale=1 / 8)
        self.config = config
        self.interp = VALUE_INTERPOLATIONS[config.value_interpolation]
        self.radial = config.radial
        self.active = [i for i in range(11) if config.vignetting or i not in (_V1, _V2)]
        self.active += [_VX, _VY] if config.vignetting else []
        fit_k1 = config.radial and config.radial_k1_fixed is None
        self.active += ([_K] if fit_k1 else []) + ([_Q1, _Q2] if config.perspective else [])
        self.centre = np.asarray(centre, np.float64)
        self.norm = float(norm)
        h, w = tpl.shape
        # Candidates on a stride grid: enough to pick max_samples from without touching every
        # pixel of a full-frame template in numpy.
        stride = max(1, int(np.sqrt(h * w / (4.0 * config.max_samples))))
        tgx = cv2.Sobel(tpl, cv2.CV_32F, 1, 0, ksize=3, scale=1 / 8)[::stride, ::stride]
        tgy = cv2.Sobel(tpl, cv2.CV_32F, 0, 1, ksize=3, scale=1 / 8)[::stride, ::stride]
        mag = np.hypot(tgx, tgy)
        usable = mask[::stride, ::stride].copy()
        usable[:1, :] = False
        usable[:, :1] = False
        usable[(h - 2) // stride + 1:, :] = False
        usable[:, (w - 2) // stride + 1:] = False
        idx = np.flatnonzero(usable.ravel())
        if idx.size > config.max_samples:
            # Flat pixels carry no geometric information; keep the textured half, then thin it.
            m = mag.ravel()[idx]
            idx = idx[m >= np.median(m)]
            if idx.size > config.max_samples:
                idx = np.sort(rng.choice(idx, config.max_samples, replace=False))
        vs, us = np.divmod(idx, usable.shape[1])
        self.v, self.u = vs * stride, us * stride
        self.t = tpl[self.v, self.u].astype(np.float64)
        self.tmag = mag.ravel()[idx].astype(np.float64)
        # Normalised coordinates keep the normal equations well conditioned.
        self.cu, self.cv, self.sc = (w - 1) / 2.0, (h - 1) / 2.0, max(w, h) / 2.0
        self.xn = (self.u - self.cu) / self.sc
        self.yn = (self.v - self.cv) / self.sc
        self.corners = np.array([[-self.cu, -self.cv], [self.cu, -self.cv], [-self.cu, self.cv], [self.cu, self.cv]]) / self.sc
        self.shape = (h, w)

    # parameters: P (2x3 in normalised coords) row-major, gain, offset, v1, v2, [k1]
    def pack(self, a, k1, gain, offset, vig, quad):
        s = np.array([[self.sc, 0, self.cu], [0, self.sc, self.cv], [0, 0, 1.0]])
        pn = a @ s
        pn = pn / pn[2, 2]
        vx, vy = (vig[2], vig[3]) if len(vig) > 2 else (0.0, 0.0)
        return np.array(list(pn[:2].ravel()) + [gain, offset, vig[0], vig[1], quad, k1, pn[2, 0], pn[2, 1], vx, vy],
                        np.float64)

    def unpack(self, p):
        pn = np.vstack([p[:6].reshape(2, 3), [p[_Q1], p[_Q2], 1.0]])
        s_inv = np.array([[1 / self.sc, 0, -self.cu / self.sc], [0, 1 / self.sc, -self.cv / self.sc], [0, 0, 1.0]])
        return pn @ s_inv, p[_K], p[_G], p[_B], (p[_V1], p[_V2], p[_VX], p[_VY]), p[_C]

    def _warp(self, p, xn, yn):
        pn = p[:6].reshape(2, 3)
        den = 1.0 + p[_Q1] * xn + p[_Q2] * yn  # 1 unless the perspective terms are fitted
        y = np.stack([(pn[0, 0] * xn + pn[0, 1] * yn + pn[0, 2]) / den,
                      (pn[1, 0] * xn + pn[1, 1] * yn + pn[1, 2]) / den], axis=1)
        if not self.radial:
            return y, y, None
        d = y - self.centre
        rho = np.sum(d * d, axis=1) / self.norm ** 2
        return self.centre + d * (1 + p[_K] * rho)[:, None], y, (d, rho)

    def evaluate(self, p):
        x, y, rad = self._warp(p, self.xn, self.yn)
        h, w = self.mov.shape
        valid = (x[:, 0] >= 1) & (x[:, 0] <= w - 2) & (x[:, 1] >= 1) & (x[:, 1] <= h - 2)
        mx, my = _as_map(x[:, 0]), _as_map(x[:, 1])
        iw = _sample(self.mov, mx, my, self.interp, x.shape[0])
        # relative vignetting: a gain that falls off with the radius in the LR photo
        lin = (x - self.centre) / self.norm
        rv = np.sum(lin * lin, axis=1)
        gain = p[_G] + p[_V1] * rv + p[_V2] * rv * rv + p[_VX] * lin[:, 0] + p[_VY] * lin[:, 1]
        # a quadratic tone term absorbs gamma / tone-curve differences (units: per 255 levels)
        r = gain * iw + p[_C] * iw * iw / 255.0 + p[_B] - self.t
        slope = gain + 2.0 * p[_C] * iw / 255.0  # d(model)/dI: scales the image gradient
        return {"p": p, "r": r, "iw": iw, "valid": valid, "mx": mx, "my": my, "rad": rad, "rv": rv, "lin": lin,
                "gain": gain,
                "slope": slope}

    def _cost(self, ev):
        v = ev["valid"]
        return np.mean(np.abs(ev["r"][v])) if v.sum() > 8 else np.inf

    def solve(self, p, max_iter):
        cfg = self.config
        ev = self.evaluate(p)
        cost = self._cost(ev)
        lam = 1e-4
        n_it = 0
        converged = False
        while n_it < max_iter:
            n_it += 1
            jac, r, w = self._normal_terms(ev)
            h = jac.T @ (jac * w[:, None])
            g = jac.T @ (w * r)
            improved = False
            for _ in range(8):
                hd = h + lam * np.diag(np.diag(h))
                try:
                    delta = np.zeros_like(ev["p"])
                    delta[self.active] = -np.linalg.solve(hd, g)
                except np.linalg.LinAlgError:
                    lam *= 10
                    continue
                trial = self.evaluate(ev["p"] + delta)
                c = self._cost(trial)
                if c <= cost * (1 + 1e-9):
                    improved = True
                    break
                lam *= 4
            if not improved:
                converged = True  # no damped step lowers the robust cost: at the minimum
                break
            move = self._corner_motion(ev["p"], trial["p"])
            ev, cost = trial, c
            lam = max(lam / 3, 1e-7)
            if move < cfg.tolerance_px:
                converged = True
                break
        return ev["p"], n_it, converged, self._stats(ev)

    def _stats(self, ev) -> dict:
        v = ev["valid"]
        r, t = ev["r"][v], self.t[v]
        if r.size < 16:
            return {"median_abs": np.nan, "mean_abs": np.nan, "zncc": np.nan, "zncc_best90": np.nan,
                    "sharpness_ratio": np.nan}
        keep = np.abs(r) <= np.percentile(np.abs(r), 90)
        gx = _sample(self.gx, ev["mx"], ev["my"], _INTERP_GRAD, self.xn.shape[0])[v]
        gy = _sample(self.gy, ev["mx"], ev["my"], _INTERP_GRAD, self.xn.shape[0])[v]
        sharp = np.mean(np.abs(ev["slope"][v]) * np.hypot(gx, gy)) / max(np.mean(self.tmag[v]), 1e-9)
        return {"median_abs": float(np.median(np.abs(r))), "mean_abs": float(np.mean(np.abs(r))),
                "zncc": _zncc(t, t + r), "zncc_best90": _zncc(t[keep], (t + r)[keep]),
                "sharpness_ratio": float(sharp)}

    def _normal_terms(self, ev):
        p, v = ev["p"], ev["valid"]
        n = self.xn.shape[0]
        gx = _sample(self.gx, ev["mx"], ev["my"], _INTERP_GRAD, n)
        gy = _sample(self.gy, ev["mx"], ev["my"], _INTERP_GRAD, n)
        gx, gy = ev["slope"] * gx, ev["slope"] * gy
        xn, yn = self.xn, self.yn
        cols = []
        if self.radial:
            d, rho = ev["rad"]
            k = p[_K]
            # Chain rule through D: J_D = (1 + k rho) I + 2 k / R^2 d d^T (symmetric).
            q = 2 * k / self.norm ** 2
            ax = (1 + k * rho) * gx + q * d[:, 0] * (d[:, 0] * gx + d[:, 1] * gy)
            ay = (1 + k * rho) * gy + q * d[:, 1] * (d[:, 0] * gx + d[:, 1] * gy)
            dk = (gx * d[:, 0] + gy * d[:, 1]) * rho
        else:
            ax, ay = gx, gy
        rv = ev["rv"]
        # projective division: dy/dP = x~ / den, dy/dq = -y x~ / den
        den = 1.0 + p[_Q1] * xn + p[_Q2] * yn
        ax, ay = ax / den, ay / den
        _, y, _ = self._warp(p, xn, yn)
        ayy = ax * y[:, 0] + ay * y[:, 1]
        cols = [ax * xn, ax * yn, ax, ay * xn, ay * yn, ay, ev["iw"], np.ones_like(xn), ev["iw"] * rv,
                ev["iw"] * rv * rv, ev["iw"] * ev["iw"] / 255.0,
                dk if self.radial else np.zeros_like(xn), -ayy * xn, -ayy * yn,
                ev["iw"] * ev["lin"][:, 0], ev["iw"] * ev["lin"][:, 1]]
        jac = np.stack(cols, axis=1)[v][:, self.active]
        r = ev["r"][v]
        w = 1.0 / (np.abs(r) + self.config.irls_eps)
        return jac, r, w

    def _corner_motion(self, p0, p1):
        x0, _, _ = self._warp(p0, self.corners[:, 0], self.corners[:, 1])
        x1, _, _ = self._warp(p1, self.corners[:, 0], self.corners[:, 1])
        return float(np.max(np.linalg.norm(x1 - x0, axis=1)))


# indices in p: gain, offset, vignetting (2), quadratic tone, radial k1, perspective (2)
_G, _B, _V1, _V2, _C, _K, _Q1, _Q2, _VX, _VY = 6, 7, 8, 9, 10, 11, 12, 13, 14, 15

_MAP_COLS = 4096  # cv2.remap wants maps under 32767 pixels a side: fold the samples into rows


def _as_map(v: np.ndarray) -> np.ndarray:
    n = v.shape[0]
    rows = -(-n // _MAP_COLS)
    out = np.zeros(rows * _MAP_COLS, np.float32)
    out[:n] = v
    return out.reshape(rows, _MAP_COLS)


def _sample(img: np.ndarray, mx: np.ndarray, my: np.ndarray, interp: int, n: int) -> np.ndarray:
    return cv2.remap(img, mx, my, interp, borderMode=cv2.BORDER_REPLICATE).ravel()[:n].astype(np.float64)


def sample_at(img: np.ndarray, xs: np.ndarray, ys: np.ndarray, interp: int = _INTERP_VALUE) -> np.ndarray:
    """float64 values of ``img`` at N points (any N: folded into rows that cv2.remap accepts)."""
    return _sample(img, _as_map(xs), _as_map(ys), interp, np.asarray(xs).shape[0])


def _as_3x3(m) -> np.ndarray:
    m = np.asarray(m, np.float64)
    return m.copy() if m.shape == (3, 3) else np.vstack([m, [0.0, 0.0, 1.0]])


def _zncc(a: np.ndarray, b: np.ndarray) -> float:
    if a.size < 2:
        return float("nan")
    a = a - a.mean()
    b = b - b.mean()
    den = np.sqrt(np.sum(a * a) * np.sum(b * b))
    return float(np.sum(a * b) / den) if den > 0 else 0.0
