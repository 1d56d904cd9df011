"""Where the demo's pretrained models lose to bicubic: each test image's PSNR-Y as the bench
scored it, and after removing the image's global Y offset (and a Y gain + offset) against the
HR, bicubic treated the same way. A loss that the offset explains is an image-level photometric
bias (the virtual camera's per-shot exposure, which a model trained on other scenes cannot
know); a loss that remains is detail.

Reads the SR images that `bench` saved of each scale's first test image (the demo's default run
has one test scene, so these are all of them), 8-bit PNGs: the "as scored" column differs from
results.md by the rounding only.

    python benchmarks/demo_pretrained_bias.py --demo DEMO_OUT [--out FILE]
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

import harness
from ddir_kit.benchmark.metrics import get_protocol, shave_px, y_channel
from ddir_kit.dataset.open import open_dataset
from ddir_kit.photo.photo_io import read_photo
from ddir_kit.scales import scale_tag

METHODS = ("bicubic", "liif", "lte", "ciaosr", "ddir")


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(1.0 / np.mean((a - b) ** 2)))


def main() -> None:
    ap = harness.parser(__file__, __doc__)
    ap.add_argument("--demo", type=Path, required=True, help="a finished `ddir-kit demo` output folder")
    args = ap.parse_args()
    run = harness.Run()
    bench = args.demo / "bench_pretrained"
    runs = {m: next(p for p in bench.iterdir() if p.is_dir() and (p.name == m or p.name.startswith(f"{m}-edsr")))
            for m in METHODS}
    ds = open_dataset(args.demo / "dataset")
    proto = get_protocol("ddir")
    rows, verdicts = [], {k: [0, 0] for k in range(3)}
    for s in ds.test_scales:
        pair = ds.test[s][0]
        hr = read_photo(pair.hr).rgb
        b = shave_px(s, proto)
        yh = y_channel(hr, proto)[b:-b, b:-b]
        scores = {}
        for m in METHODS:
            sr = read_photo(runs[m] / "sr" / f"x{scale_tag(s)}" / f"{pair.hr.stem}.png").rgb
            ys = y_channel(sr, proto)[b:-b, b:-b]
            off = float(np.mean(ys - yh))
            gain, c = np.linalg.lstsq(np.stack([ys.ravel(), np.ones(ys.size)], 1), yh.ravel(), rcond=None)[0]
            scores[m] = (_psnr(ys, yh), off * 255, _psnr(ys - off, yh), _psnr(gain * ys + c, yh))
            rows.append(f"| x{float(s):g} | {m} | {scores[m][0]:.2f} | {scores[m][1]:+.2f} | {scores[m][2]:.2f} | "
                        f"{scores[m][3]:.2f} |")
        for k, col in enumerate((0, 2, 3)):
            verdicts[k][0] += all(scores[m][col] > scores["bicubic"][col] for m in METHODS[1:])
            verdicts[k][1] += scores["ddir"][col] > scores["liif"][col]
    n = len(ds.test_scales)
    lines = ["# The demo's pretrained models against bicubic: photometric bias or detail", "",
             f"Demo folder `{args.demo}`, test image `{pair.hr.stem}` at each scale; PSNR-Y (dB, protocol `ddir`) of the "
             "saved 8-bit SR images; the mean Y offset of SR - HR (x255); PSNR-Y after removing that offset, and after "
             "a least-squares Y gain + offset.", "",
             "| scale | method | PSNR-Y as scored | mean Y offset (x255) | offset removed | gain + offset removed |",
             "|---|---|---:|---:|---:|---:|", *rows, ""]
    for k, name in enumerate(("as scored", "offset removed", "gain + offset removed")):
        lines.append(f"- {name}: every learned method above bicubic at {verdicts[k][0]} of {n} scales; "
                     f"DDIR above LIIF at {verdicts[k][1]} of {n}.")
    run.write(args.out, "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
