"""card.md: the dataset card for people, rendered from the card.json dict (so the two never
disagree). Energies are shown as RMS in 8-bit levels (sqrt(mean square) x 255)."""

from __future__ import annotations

import math


def _f(v, fmt: str = ".3f") -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, fmt)


def _rgb(means, stds, fmt: str) -> str:
    return " / ".join(f"{_f(m, fmt)} ± {_f(s, fmt)}" for m, s in zip(means, stds))


def _rms(e: float) -> str:
    return _f(math.sqrt(e) * 255.0, ".2f")


def _sizes(sizes: list[dict]) -> str:
    return ", ".join(f"{s['size'][0]}x{s['size'][1]}" + (f" ({s['pairs']})" if len(sizes) > 1 else "") for s in sizes)


def card_markdown(card: dict) -> str:
    ds, made = card["dataset"], card["made_by"]
    lines = [f"# Dataset card: {ds['path']}", "",
             f"Made by `{made['command']}` with ddir-kit {made['kit_version']} on {made['created_utc']} "
             f"({made['seconds']:.1f} s). Layout: {ds['layout']}; {ds['pairs']} pairs, {ds['files']} image files; "
             f"content sha256 `{ds['content_sha256']}` (over the sorted lines '<path> <sha256>' of every image file).",
             ""]
    lines += [f"- {n}" for n in ds["notes"]] + ([""] if ds["notes"] else [])
    if card["warnings"]:
        lines += ["**Warnings**", ""] + [f"- {w}" for w in card["warnings"]] + [""]
    lines += ["## Contents", "",
              "| split | scale | pairs | scenes | HR sizes | LR sizes | bit depth HR/LR | HR pixels | LR pixels |",
              "|---|---|---|---|---|---|---|---|---|"]
    for r in card["splits"]:
        bits = f"{','.join(map(str, r['bit_depths']['hr']))}/{','.join(map(str, r['bit_depths']['lr']))}"
        lines.append(f"| {r['split']} | x{r['scale']:g} | {r['pairs']} | {_f(r['scenes'], 'd')} | {_sizes(r['hr_sizes'])} | "
                     f"{_sizes(r['lr_sizes'])} | {bits} | {r['hr_pixels']:,} | {r['lr_pixels']:,} |")
    lines += [""] + _split_section(card.get("manifest"))
    lines += _photometric_section(card)
    lines += _residual_section(card)
    if card.get("aligned"):
        lines += _aligned_section(card["aligned"], card["figures"])
    lines += ["## How each figure is computed", ""] + [f"- **{k}**: {v}" for k, v in card["methods"].items()] + [""]
    return "\n".join(lines)


def _split_section(man: dict | None) -> list[str]:
    if man is None:
        return ["## Split and checksums", "", "No manifest.json: the scenes behind the split are unknown, and the "
                "checksums above are the card's own.", ""]
    ck = man["checksums"]
    out = ["## Split and checksums", "",
           f"manifest.json (`{man['format']}`, sha256 `{man['sha256'][:16]}…`) keeps these scenes apart:", ""]
    for split, scenes in man["splits"].items():
        out.append(f"- {split} ({len(scenes)}): {', '.join(scenes) or 'none'}")
    out += ["", f"Scenes on both sides: {', '.join(man['scenes_in_both']) or 'none'}. Checksums: "
            f"{ck['matched']} of {ck['listed']} listed files match; {len(ck['differ'])} differ, "
            f"{len(ck['not_in_dataset'])} listed but absent, {len(ck['not_listed'])} present but not listed.", ""]
    if man["skipped"]:
        out += ["Left out by crop:", ""] + [f"- {s['source']}: {s['reason']}" for s in man["skipped"]] + [""]
    return out


def _figures(card: dict, kind: str) -> list[str]:
    return [f"![{f['what']}]({f['file']})" for f in card["figures"] if f["kind"] == kind]


def _photometric_section(card: dict) -> list[str]:
    out = ["## Photometric shift between the bicubic-upscaled LR and the HR", "",
           "Per channel, HR ~ gain x up(LR) + offset (least squares on low-passed images); mean ± spread over pairs, "
           "R / G / B. Offsets in full-scale units (1 = white).", "",
           "| scale | pairs | gain R / G / B | offset R / G / B |", "|---|---|---|---|"]
    for r in card["scales"]:
        ph = r["photometric"]
        out.append(f"| x{r['scale']:g} | {r['pairs']} | {_rgb(ph['gain']['mean'], ph['gain']['std'], '.3f')} | "
                   f"{_rgb(ph['offset']['mean'], ph['offset']['std'], '.4f')} |")
    return out + [""] + _figures(card, "overview") + [""] + _figures(card, "histogram") + [""]


def _residual_section(card: dict) -> list[str]:
    out = ["## Real against bicubic degradation", "",
           "RMS (x 255) of GT - up(real LR) and of GT - up(down(GT)), split at the LR Nyquist frequency; "
           "mean over pairs, and the ratio of mean energies real / synthetic.", "",
           "| scale | pairs | real low | real high | synthetic low | synthetic high | energy ratio low | "
           "energy ratio high |", "|---|---|---|---|---|---|---|---|"]
    for r in card["scales"]:
        re_, sy, q = r["residual"]["real"], r["residual"]["synthetic"], r["residual"]["real_over_synthetic"]
        out.append(f"| x{r['scale']:g} | {r['pairs']} | {_rms(re_['low']['mean'])} | {_rms(re_['high']['mean'])} | "
                   f"{_rms(sy['low']['mean'])} | {_rms(sy['high']['mean'])} | {_f(q['low'], '.2f')} | "
                   f"{_f(q['high'], '.2f')} |")
    return out + [""] + _figures(card, "residual") + [""]


def _aligned_section(al: dict, figures: list[dict]) -> list[str]:
    out = ["## Registration (aligned/)", "", f"From `{al['path']}`: pair.json of every registered pair.", "",
           "| scale | ok | rejected | relative blur LR px (mean ± spread, min-max) | scale error (median) | "
           "residual median abs (green, 0..255) | ZNCC | local tiles judged / bad | tile shift median / max p95 (LR px) |",
           "|---|---|---|---|---|---|---|---|---|"]
    for r in al["scales"]:
        b, loc = r["relative_blur_lr_px"], r["local_shift"]
        blur = "-" if not b else f"{b['mean']:.3f} ± {b['std']:.3f} ({b['min']:.2f}-{b['max']:.2f})"
        local = "-" if not loc else f"{loc['tiles_judged']} / {loc['tiles_bad']}"
        shift = "-" if not loc else f"{_f(loc['shift_median_px'])} / {_f(loc['shift_p95_px_max'])}"
        out.append(f"| x{r['scale']:g} | {r['ok']} | {r['rejected']} | {blur} | {_f(r['scale_error_median'], '.2e')} | "
                   f"{_f(r['residual_median_abs_median'], '.2f')} | {_f(r['residual_zncc_median'], '.4f')} | {local} | "
                   f"{shift} |")
    out += [""]
    if al["rejected"]:
        out += ["Rejected pairs:", ""] + [f"- {p['pair']}: {p['status']}, {p['reason']}" for p in al["rejected"]] + [""]
    else:
        out += ["No pair was rejected.", ""]
    if al["incomplete"]:
        out += [f"Pair folders without pair.json: {', '.join(al['incomplete'])}", ""]
    return out + [f"![{f['what']}]({f['file']})" for f in figures if f["kind"] == "aligned"] + [""]
