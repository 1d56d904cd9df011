"""The `ddir-kit` command line. Thin: parse options, call one library function, print.

Expected failures arrive as DdirKitError and leave as one line on stderr with exit code 1;
anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from .errors import DdirKitError


class _Group(click.Group):
    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except DdirKitError as e:
            click.echo(f"error: {e}", err=True)
            ctx.exit(1)


def _not_built(command: str, issue: int) -> None:
    raise DdirKitError(f"`ddir-kit {command}` is not built yet (tracked in issue {issue})")


_path_in = click.Path(exists=False, path_type=Path)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="ddir-kit")
def cli():
    """Build real-world scale-arbitrary SR datasets with a zoom lens, and benchmark DDIR,
    LIIF, LTE and CiaoSR on them.

    \b
    The flow, one command per stage:
      calibrate  checkerboard sweep      -> calibration.json
      capture    plan | ingest | simulate -> captures/<scene>/
      register   captures/               -> aligned/<scene>/x<s>/
      crop       aligned/                -> dataset (RealArbiSR layout); validate checks it
      card       dataset [+ aligned/]    -> card.md, card.json: what it holds, how it degrades
      train, test, bench, score          -> runs/<name>/
      upscale    checkpoint + photo      -> photo at any scale
      demo       all of the above on the virtual zoom camera
    """


# ---------------------------------------------------------------------------------------
# photos


@cli.command()
@click.argument("photos", nargs=-1, required=True, type=_path_in)
def info(photos):
    """Show size, bit depth and EXIF of photos (JPEG, PNG, TIFF, RAW)."""
    from .photo.exif import read_exif
    from .photo.photo_io import read_photo

    failed = 0
    for path in photos:
        try:
            photo = read_photo(path)
            exif = read_exif(path)
        except DdirKitError as e:
            click.echo(f"skipped: {e}", err=True)
            failed += 1
            continue
        w, h = photo.size
        fields = ", ".join(f"{k}={v}" for k, v in exif.to_dict().items() if v is not None) or "no EXIF"
        click.echo(f"{path}: {w}x{h}, {photo.bit_depth}-bit; {fields}")
    if failed == len(photos):
        sys.exit(1)


# ---------------------------------------------------------------------------------------
# calibration


class _DefaultCommandGroup(_Group):
    """A group that runs ``default_command`` when its first argument names no subcommand, so
    that `ddir-kit calibrate SHOTS_DIR ...` and `ddir-kit calibrate check ...` both work."""

    default_command = "sweep"

    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = [self.default_command, *args]
        return super().parse_args(ctx, args)


@cli.group(cls=_DefaultCommandGroup, subcommand_metavar="SHOTS_DIR | COMMAND [ARGS]...")
def calibrate():
    """Measure the zoom lens's scale against focal length from a checkerboard sweep.

    \b
    Usage:
      ddir-kit calibrate SHOTS_DIR --out calibration.json [--scales 1.5,...,4]
                         [--board 9x6] [--reference-focal MM] [--focals focals.csv]
      ddir-kit calibrate check calibration.json PHOTO_HR PHOTO_LR --scale S
      ddir-kit calibrate pattern --out target.pdf --scales 1.5,2,3,4 --sensor 36x24

    SHOTS_DIR alone is short for `ddir-kit calibrate sweep SHOTS_DIR`.
    """


@calibrate.command("sweep")
@click.argument("shots_dir", type=_path_in)
@click.option("--out", type=_path_in, default=Path("calibration.json"), show_default=True)
@click.option("--scales", default="1.5,1.7,2,2.3,2.5,2.7,3,3.3,3.5,3.7,4", show_default=True)
@click.option("--board", default="9x6", show_default=True, help="inner corners, columns x rows")
@click.option("--reference-focal", type=float, default=None, help="mm; default: the longest in the sweep")
@click.option("--focals", "focals_csv", type=_path_in, default=None,
              help="CSV with columns file,focal_mm; overrides or replaces EXIF focal lengths")
@click.option("--fit", "fit_model", type=click.Choice(["radial", "similarity"]), default="radial", show_default=True,
              help="board fit: homography + radial distortion per shot, or one similarity per shot")
def calibrate_sweep(shots_dir, out, scales, board, reference_focal, focals_csv, fit_model):
    """Calibrate from a folder of checkerboard shots (every file is listed: used or skipped)."""
    from .calibration.calibrate import calibrate_sweep as run, write_calibration

    def report(shot):
        if shot.ok:
            click.echo(f"  {shot.file}: {shot.focal_mm:g} mm, scale {shot.scale:.4f}, "
                       f"residual {shot.fit_residual_px:.3f} px")
        else:
            click.echo(f"  skipped {shot.file}: {shot.status}", err=True)

    cache = out.with_name(out.stem + "_detections.json")
    cal = run(shots_dir, scales, board, reference_focal, focals_csv, fit_model, progress=report, cache_path=cache)
    files = write_calibration(cal, out)
    click.echo(f"reference {cal.reference_file} at {cal.reference_focal_mm:g} mm; {len(cal.used)} shots used, "
               f"{len(cal.skipped)} skipped; model degree {cal.model.degree}, "
               f"residual {100 * cal.model.residual_rms:.3f} %")
    click.echo(f"{'scale':>6}  {'focal (mm)':>10}  {'+-(mm)':>7}  {'naive (mm)':>10}")
    for t in cal.targets:
        click.echo(f"{'x' + format(t.scale, 'g'):>6}  {t.focal_mm:>10.2f}  {t.focal_uncertainty_mm:>7.3f}  "
                   f"{t.naive_focal_mm:>10.2f}")
    for s in cal.skipped:
        click.echo(f"skipped {s.file}: {s.status}")
    click.echo(f"wrote {files.json}, {files.targets_csv}, {files.plot_png} (detections kept in {cache.name}: "
               f"a rerun detects only new or changed files)")


@calibrate.command("check")
@click.argument("calibration", type=_path_in)
@click.argument("photo_hr", type=_path_in)
@click.argument("photo_lr", type=_path_in)
@click.option("--scale", type=float, required=True, help="the wanted scale")
@click.option("--board", default=None, help="inner corners; default: the calibration's")
def calibrate_check(calibration, photo_hr, photo_lr, scale, board):
    """Scale achieved by a candidate LR shot, and how far to turn the zoom to reach --scale."""
    from .calibration.zoom_check import check_zoom

    c = check_zoom(calibration, photo_hr, photo_lr, scale, board)
    exif = "" if c.lr_exif_focal_mm is None else f" (EXIF {c.lr_exif_focal_mm:g} mm)"
    click.echo(f"scale achieved x{c.scale_achieved:.4f}{exif}; wanted x{c.target_scale:g} at "
               f"{c.target_focal_mm:.2f} mm; board residual {c.fit_residual_px:.3f} px")
    click.echo(c.advice)


@calibrate.command("pattern")
@click.option("--out", type=_path_in, required=True, help=".pdf (vector) or .png")
@click.option("--scales", default="1.5,1.7,2,2.3,2.5,2.7,3,3.3,3.5,3.7,4", show_default=True)
@click.option("--sensor", default="36x24", show_default=True, help="sensor WIDTHxHEIGHT in mm (sets the aspect)")
@click.option("--board", default="9x6", show_default=True, help="inner corners, columns x rows")
@click.option("--page", default="A3", show_default=True, help="A4..A0, LETTER, TABLOID or WIDTHxHEIGHT in mm")
@click.option("--dpi", type=int, default=300, show_default=True, help="PNG resolution")
def calibrate_pattern(out, scales, sensor, board, page, dpi):
    """A printable board with nested rectangles for the given scales (calibration by eye)."""
    from .calibration.target_pattern import draw_target, parse_page, parse_sensor

    t = draw_target(out, scales, parse_sensor(sensor), board, parse_page(page), dpi)
    res = f", {t.dpi} dpi" if t.dpi else ""
    click.echo(f"wrote {t.path}: {t.page_mm[0]:g}x{t.page_mm[1]:g} mm page{res}, board {t.board} with "
               f"{t.square_mm:.2f} mm squares, reference rectangle {t.rects_mm[1.0][2]:.1f}x{t.rects_mm[1.0][3]:.1f} mm")


# ---------------------------------------------------------------------------------------
# capture


@cli.group(cls=_Group)
def capture():
    """Shot plans, ingest of a camera card, and the virtual zoom camera."""


@capture.command()
@click.argument("calibration", type=_path_in)
@click.option("--out", type=_path_in, default=None, help="also write the shot list as CSV")
def plan(calibration, out):
    """The shot list for one scene from a calibration."""
    from .capture.shot_plan import plan_table_text, shot_plan, write_plan_csv

    shots = shot_plan(calibration)
    click.echo(plan_table_text(shots))
    if out is not None:
        write_plan_csv(shots, out)
        click.echo(f"wrote {out}")


@capture.command()
@click.argument("card_dir", type=_path_in)
@click.option("--calibration", type=_path_in, required=True)
@click.option("--out", type=_path_in, required=True)
@click.option("--tolerance", "tolerance_mm", type=float, default=0.75, show_default=True,
              help="mm between an EXIF focal length and a calibrated one")
@click.option("--gap", "max_gap_s", type=float, default=120.0, show_default=True,
              help="seconds of pause between shots that end a scene")
@click.option("--jobs", type=int, default=1, show_default=True, help="worker processes over scenes")
@click.option("--shard", default="1/1", show_default=True, help="i/N: take the i-th of N equal shares of the scenes")
def ingest(card_dir, calibration, out, tolerance_mm, max_gap_s, jobs, shard):
    """Group a camera card's photos into scenes ready for registration.

    Writes OUT/<scene>/hr.png, lr_x<tag>.png, scene.json, manifest.json and
    OUT/ingest_report.csv. A rerun skips finished scenes."""
    from .capture.ingest import ingest_card, parse_shard

    def show(o):
        click.echo(f"{o.scene}: {o.status}, {len(o.scales)} LR, {o.warnings} warnings ({o.seconds:.1f} s)")

    report = ingest_card(card_dir, calibration, out, tolerance_mm=tolerance_mm, max_gap_s=max_gap_s,
                         jobs=jobs, shard=parse_shard(shard), progress=show)
    for f in report.findings:
        if f.level != "info":
            click.echo(f"{f.level}: {f.scene or '-'} {f.file or ''} {f.message}".replace("  ", " "), err=True)
    if report.scenes:
        click.echo(f"\n{'scene':<12} {'status':<11} {'HR source':<28} {'scales':<34} missing")
    for o in report.scenes:
        click.echo(f"{o.scene:<12} {o.status:<11} {(o.hr_file or '-'):<28} "
                   f"{','.join(f'{s:g}' for s in o.scales) or '-':<34} {','.join(f'{s:g}' for s in o.missing) or '-'}")
    kinds = sorted({f.kind for f in report.findings if f.kind != "used"})
    click.echo(f"\n{report.files_scanned} files, {report.scenes_planned} scenes planned, shard "
               f"{report.shard[0]}/{report.shard[1]}: {len(report.scenes_with('written'))} written, "
               f"{len(report.scenes_with('up_to_date'))} already done (skipped), "
               f"{len(report.scenes_with('failed'))} failed")
    for kind in kinds:
        click.echo(f"  {kind}: {report.count(kind)}")
    click.echo(f"report: {report.report_csv}")
    if report.scenes and all(o.status == "failed" for o in report.scenes):
        sys.exit(1)
    if report.scenes_planned == 0:
        raise DdirKitError("no scene found (an HR shot at the reference focal length followed by LR shots)", card_dir)


@capture.group(cls=_Group)
def simulate():
    """Shoot with the virtual zoom camera (known ground truth)."""


@simulate.command("calibration")
@click.argument("out", type=_path_in)
@click.option("--focals", default="24,28,32,35,40,45,50,55,60,70,80,90,105", show_default=True,
              help="EXIF focal lengths, mm; the longest is the reference")
@click.option("--sensor", default="1200x800", show_default=True, help="WxH pixels (full frame: 5760x3840)")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--format", "fmt", type=click.Choice(["jpg", "png", "tif", "dng"]), default="jpg", show_default=True)
@click.option("--board", default="9x6", show_default=True, help="inner corners, columns x rows")
@click.option("--bayer/--no-bayer", default=False, help="RGGB sensor with demosaicing")
@click.option("--distortion/--no-distortion", default=True, show_default=True, help="lens radial distortion")
@click.option("--disturb/--no-disturb", default=True, show_default=True,
              help="per-shot tripod and photometric disturbances")
def simulate_calibration(out, focals, sensor, seed, fmt, board, bayer, distortion, disturb):
    """A checkerboard sweep over the zoom range, with truth.json (true scales and corners)."""
    from .virtual_camera.lens_model import ZoomLens
    from .virtual_camera.simulate import parse_focals, parse_size, simulate_calibration as run

    cols, rows = parse_size(board, "board")
    w, h = parse_size(sensor, "sensor")
    lens = ZoomLens() if distortion else ZoomLens().without_distortion()
    sweep = run(out, parse_focals(focals), seed=seed, fmt=fmt, sensor=(w, h), board_corners=(cols, rows),
                bayer=bayer, lens=lens, disturb=disturb, progress=click.echo)
    for path in sweep.skipped:
        click.echo(f"skipped (already done): {path.name}")
    click.echo(f"{len(sweep.photos)} photos and {sweep.truth_path.name} in {sweep.out}")


@simulate.command("scenes")
@click.argument("out", type=_path_in)
@click.option("--scenes", "n_scenes", type=int, default=4, show_default=True)
@click.option("--calibration", type=_path_in, default=None, help="calibration.json: shoot its targets' focal lengths")
@click.option("--scales", default=None, help="e.g. 1.5,2,3,4: shoot each at its TRUE focal length")
@click.option("--sensor", default="1200x800", show_default=True, help="WxH pixels (full frame: 5760x3840)")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--bit-depth", type=click.Choice(["8", "16"]), default="8", show_default=True)
@click.option("--bayer/--no-bayer", default=False, help="RGGB sensor with demosaicing")
@click.option("--moving-object", default="", help="scales whose LR shot gets an object no other shot has")
@click.option("--failed-exposure", default="", help="e.g. 3:over,2:under")
@click.option("--distortion/--no-distortion", default=True, show_default=True,
              help="lens radial distortion (off, with --no-disturb: every LR->HR map is exactly affine)")
@click.option("--disturb/--no-disturb", default=True, show_default=True,
              help="per-shot tripod and photometric disturbances")
@click.option("--textures", type=_path_in, default=None,
              help="folder of photos to shoot (default: the packaged City100 postcards)")
def simulate_scenes(out, n_scenes, calibration, scales, sensor, seed, bit_depth, bayer, moving_object,
                    failed_exposure, distortion, disturb, textures):
    """Scenes shot at HR and at every LR scale, in the capture layout, with truth.json."""
    from .virtual_camera.lens_model import ZoomLens
    from .virtual_camera.simulate import parse_size
    from .virtual_camera.planting import parse_planting
    from .virtual_camera.scenes import photos_in
    from .virtual_camera.simulate_scenes import simulate_scenes as run, targets_from_calibration

    if (calibration is None) == (scales is None):
        raise DdirKitError("give exactly one of --calibration and --scales")
    kw = {}
    if calibration is not None:
        kw["reference_focal_mm"], kw["targets"] = targets_from_calibration(calibration)
    else:
        from .scales import parse_scale_list
        kw["scales"] = parse_scale_list(scales)
    result = run(out, n_scenes, seed=seed, sensor=parse_size(sensor, "sensor"), bit_depth=int(bit_depth),
                 bayer=bayer, planting=parse_planting(moving_object, failed_exposure), disturb=disturb,
                 lens=ZoomLens() if distortion else ZoomLens().without_distortion(),
                 textures=None if textures is None else photos_in(textures), progress=click.echo, **kw)
    for path in result.skipped:
        click.echo(f"skipped (already done): {path.name}")
    click.echo(f"{len(result.scenes)} scenes written, {len(result.skipped)} skipped, in {result.out}")


# ---------------------------------------------------------------------------------------
# registration and datasets


@cli.command()
@click.argument("captures", required=False, type=_path_in)
@click.option("--out", type=_path_in, help="aligned/ folder (batch) or the pair folder (--hr/--lr)")
@click.option("--hr", "hr_photo", type=_path_in, help="one pair: the HR photo")
@click.option("--lr", "lr_photo", type=_path_in, help="one pair: the LR photo")
@click.option("--scale", default=None, help="one pair: the nominal scale, e.g. 2 or 1.5")
@click.option("--inspect", "inspect_dir", type=_path_in, help="write inspect.png for a pair folder (or all under aligned/)")
@click.option("--jobs", type=int, default=1, show_default=True, help="worker processes")
@click.option("--shard", default="1/1", show_default=True, help="i/N: the i-th of N shares of the scenes")
@click.option("--radial", is_flag=True, help="also fit a relative radial-distortion term")
@click.option("--pool-radial/--no-pool-radial", default=True, show_default=True,
              help="batch with --radial: one radial term per scale, the median of the scenes' fits "
                   "(off for a folder that mixes cameras, lenses or focal settings)")
@click.option("--perspective", is_flag=True, help="fit a homography (pan/tilt between shots) instead of an affine")
@click.option("--colour-transfer", is_flag=True, help="RealSR's colour correction of lr.png (off: DDIR models it)")
@click.option("--interpolation", type=click.Choice(["lanczos", "bicubic"]), default="lanczos", show_default=True)
@click.option("--photo-encoding", type=click.Choice(["srgb", "linear"]), default="srgb", show_default=True,
              help="how the photos encode light: sRGB (camera JPEGs, ingested RAW) is decoded to linear light")
@click.option("--template-blur", type=float, default=None,
              help="the LR's extra blur, LR px, applied to the HR before its downscale (default: measured per pair)")
def register(captures, out, hr_photo, lr_photo, scale, inspect_dir, jobs, shard, radial, pool_radial, perspective,
             colour_transfer, interpolation, photo_encoding, template_blur):
    """Align LR to HR photos into exact-scale pairs.

    \b
    ddir-kit register captures/ --out aligned/ [--jobs N] [--shard i/N]
    ddir-kit register --hr HR --lr LR --scale S --out DIR
    ddir-kit register --inspect DIR
    """
    if inspect_dir is not None:
        from .registration.inspect_figure import inspect_folder

        for png in inspect_folder(inspect_dir):
            click.echo(f"wrote {png}")
        return
    from .registration.register_pair import RegistrationConfig

    config = RegistrationConfig(radial=radial, perspective=perspective, colour_transfer=colour_transfer,
                                interpolation=interpolation, photo_encoding=photo_encoding,
                                template_blur_lr_px=template_blur)
    if out is None:
        raise DdirKitError("--out is required")
    if hr_photo is not None or lr_photo is not None:
        if hr_photo is None or lr_photo is None or scale is None or captures is not None:
            raise DdirKitError("one pair needs --hr, --lr, --scale and --out (and no CAPTURES folder)")
        from .registration.register_pair import register_pair

        res = register_pair(hr_photo, lr_photo, scale, out, config)
        click.echo(f"{out}: {res.status}" + (f" ({res.reason})" if res.reason else "")
                   + (f", scale {res.scale_measured:.4f}, HR crop {res.hr_crop}, LR {res.lr_size}"
                      if res.status == "ok" else ""))
        if res.status != "ok":
            sys.exit(1)
        return
    if captures is None:
        raise DdirKitError("give a CAPTURES folder, or --hr/--lr/--scale, or --inspect")
    from .capture.ingest import parse_shard
    from .registration.register_captures import register_captures

    def show(row):
        scale_txt = f"x{row['scale']:g}" if isinstance(row.get("scale"), (int, float)) else ""
        click.echo(f"{row['scene']} {scale_txt}: {row['status']}" + (f" - {row['reason']}" if row.get("reason") else ""))

    report = register_captures(captures, out, jobs=jobs, shard=parse_shard(shard), config=config,
                               pool_radial=pool_radial, on_pair=show)
    counts = {k: report.count(k) for k in ("ok", "rejected", "failed", "skipped")}
    click.echo(", ".join(f"{v} {k}" for k, v in counts.items()) + f"; report: {Path(out) / 'report.csv'}")
    if counts["ok"] + counts["skipped"] == 0:
        sys.exit(1)


@cli.command()
@click.argument("aligned", type=_path_in)
@click.option("--out", type=_path_in, required=True)
@click.option("--split", "split_text", default="test=0.2", show_default=True, help="share of scenes in Test")
@click.option("--seed", type=int, default=0, show_default=True, help="seed of the scene split")
@click.option("--patch", "patch_hr", type=int, default=None, help="HR patch side in px (default: whole pairs)")
@click.option("--step", "step_hr", type=int, default=None, help="HR grid step in px (default: the patch side)")
@click.option("--train-scales", default=None,
              help="scales kept in Train, e.g. 1.5,2,2.5,3,3.5,4 (default: all); the others stay unseen")
def crop(aligned, out, split_text, seed, patch_hr, step_hr, train_scales):
    """Cut aligned pairs into a dataset in the RealArbiSR layout."""
    from .dataset.crop import CropSettings, crop_dataset, parse_split

    if step_hr is not None and patch_hr is None:
        raise DdirKitError("--step needs --patch")
    from .scales import parse_scale_list

    kept = None if train_scales is None else tuple(float(t) for t in parse_scale_list(train_scales))
    settings = CropSettings(parse_split(split_text), seed, patch_hr, step_hr, kept)
    report = crop_dataset(aligned, out, settings)
    for source, reason in report.skipped:
        click.echo(f"skipped {source}: {reason}", err=True)
    click.echo(f"{out}: {report.files} pairs of files; Train scenes {len(report.train_scenes)}, "
               f"Test scenes {len(report.test_scenes)} ({', '.join(report.test_scenes) or 'none'})")


@cli.command()
@click.argument("dataset", type=_path_in)
def validate(dataset):
    """Check a dataset in the RealArbiSR layout."""
    from .dataset.validate import validate_dataset

    report = validate_dataset(dataset)
    for finding in report.findings:
        click.echo(str(finding), err=finding.level == "error")
    for (split, tag), n in sorted(report.pairs.items()):
        click.echo(f"{split} x{tag}: {n} pairs checked")
    click.echo(f"{dataset}: {len(report.errors)} errors, {len(report.warnings)} warnings")
    if not report.ok:
        sys.exit(1)


@cli.command()
@click.argument("dataset", type=_path_in)
@click.option("--out", type=_path_in, required=True, help="the card's folder: card.md, card.json, figures/")
@click.option("--aligned", type=_path_in, default=None, help="the aligned/ folder the dataset was cropped from")
@click.option("--scale", "data_scale", default=None, help="the scale of plain HR/LR folders")
@click.option("--figure-pairs", type=click.IntRange(min=1), default=3, show_default=True,
              help="pairs shown per scale in the residual figures")
def card(dataset, out, aligned, data_scale, figure_pairs):
    """Describe a dataset: contents, photometric shift and real-vs-bicubic residuals per scale.

    Reads a RealArbiSR-layout, RealSR v3 or paired-folder dataset (and, with --aligned, the
    registration records), writes OUT/card.md, OUT/card.json (docs/card.md) and OUT/figures/.
    """
    import shlex

    from .dataset.card import make_card

    # the command as parsed (sys.argv is the caller's own under a test runner or `python -m`)
    words = ["ddir-kit", "card", str(dataset), "--out", str(out)]
    words += ["--aligned", str(aligned)] if aligned is not None else []
    words += ["--scale", str(data_scale)] if data_scale is not None else []
    words += ["--figure-pairs", str(figure_pairs)] if figure_pairs != 3 else []
    res = make_card(dataset, out, aligned=aligned, scale=data_scale, figure_pairs=figure_pairs,
                    command=shlex.join(words))
    for w in res.warnings:
        click.echo(f"warning: {w}", err=True)
    for s in res.scales:
        blur = "" if s.relative_blur_lr_px is None else f", relative blur {s.relative_blur_lr_px:.3f} LR px"
        gains = "/".join(f"{g:.3f}" for g in s.gain_mean)
        offsets = "/".join(f"{o:+.4f}" for o in s.offset_mean)
        ratio = s.real_low / s.synthetic_low if s.synthetic_low > 0 else float("nan")
        click.echo(f"x{float(s.scale):g}: {s.pairs} pairs, gain R/G/B {gains}, offset {offsets}, "
                   f"low-band energy real/bicubic {ratio:.2f}{blur}")
    click.echo(f"{res.layout} dataset, {res.pairs} pairs, {res.seconds:.1f} s: wrote {res.card_md}, {res.card_json.name} "
               f"and {len(res.figures)} figures")


# ---------------------------------------------------------------------------------------
# benchmark


def _tqdm_progress(desc: str, with_loss: bool):
    """A progress callback drawing a tqdm bar (created on the first call, when the total is known)."""
    from tqdm import tqdm

    state = {}

    def cb(done, total, loss=None):
        if "bar" not in state:
            state["bar"] = tqdm(total=total, initial=done - 1, desc=desc, unit="it" if with_loss else "img",
                                dynamic_ncols=True, file=sys.stderr)
        bar = state["bar"]
        bar.update(done - bar.n)
        if loss is not None:
            bar.set_postfix(loss=f"{loss:.4f}", refresh=False)
        if done >= total:
            bar.close()

    return cb


_profile_opts = [
    click.option("--profile", default="paper", show_default=True,
                 help="paper (MODELS.md recipe, for GPUs), quick (2-core CPU, minutes), or a YAML file"),
    click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="override a profile key (repeatable)"),
    click.option("--device", default="cpu", show_default=True, help="cpu or cuda (per rank under torchrun)"),
    click.option("--scale", "data_scale", default=None, help="the scale of plain HR/LR folders"),
]


def _with_profile_opts(f):
    for opt in reversed(_profile_opts):
        f = opt(f)
    return f


@cli.command()
@click.option("--method", required=True, help="bicubic, liif, lte, ciaosr, ddir, or an ablation")
@click.option("--encoder", type=click.Choice(["edsr", "rdn"]), default="edsr", show_default=True)
@click.option("--data", type=_path_in, required=True)
@click.option("--out", type=_path_in, required=True)
@click.option("--resume", is_flag=True, help="continue the unfinished run in --out from its last checkpoint")
@_with_profile_opts
def train(method, encoder, data, out, resume, profile, overrides, device, data_scale):
    """Train one method on a dataset's Train split (torchrun for several processes)."""
    from .benchmark.profiles import load_profile, parse_set
    from .benchmark.training import train_method

    prof = load_profile(profile, parse_set(overrides))
    res = train_method(method, data, out, prof, encoder, resume=resume, device=device, scale=data_scale,
                       progress=_tqdm_progress(f"{method}-{encoder}", True))
    if os.environ.get("RANK", "0") != "0":  # under torchrun, rank 0 reports
        return
    if res.skipped:
        click.echo(f"skipped: {res.model_path} exists (finished run)")
    elif res.iters:
        resumed = f", resumed at iteration {res.resumed_at_iter}" if res.resumed_at_iter is not None else ""
        click.echo(f"trained {method}-{encoder}: {res.iters} iterations, final loss {res.final_loss:.4f}, "
                   f"{res.seconds:.0f} s{resumed} -> {res.model_path}")


@cli.command()
@click.option("--checkpoint", type=_path_in, required=True)
@click.option("--data", type=_path_in, required=True)
@click.option("--scales", default=None, help="comma list; default: every test scale of the dataset")
@click.option("--protocol", type=click.Choice(["ddir", "basicsr", "realsr"]), default="ddir", show_default=True)
@click.option("--out", "out_csv", type=_path_in, default=None, help="per-image CSV")
@click.option("--save-dir", type=_path_in, default=None, help="also write the predictions (16-bit PNG)")
@click.option("--device", default="cpu", show_default=True)
@click.option("--max-memory-mb", type=int, default=1024, show_default=True, help="per chunk of queries")
@click.option("--scale", "data_scale", default=None, help="the scale of plain HR/LR folders")
def test(checkpoint, data, scales, protocol, out_csv, save_dir, device, max_memory_mb, data_scale):
    """Score a checkpoint on a dataset's Test split: full images, PSNR-Y / SSIM-Y per image and scale."""
    from .benchmark.evaluation import test_checkpoint
    from .benchmark.metrics import get_protocol
    from .scales import parse_scale_list

    res = test_checkpoint(checkpoint, data, parse_scale_list(scales) if scales else None, protocol, device,
                          max_memory_mb << 20, out_csv, save_dir, data_scale, _tqdm_progress("test", False))
    if not res.is_main:
        return
    for im in res.images:
        click.echo(f"x{im.scale:g} {im.name}: PSNR-Y {im.psnr_y_db:.3f} dB, SSIM-Y {im.ssim_y:.4f}")
    for s in res.per_scale:
        click.echo(f"x{s.scale:g}: {s.n_images} images, PSNR-Y {s.psnr_y_db:.3f} dB, SSIM-Y {s.ssim_y:.4f}")
    click.echo(f"protocol: {get_protocol(protocol).description}")


@cli.command()
@click.option("--methods", default="bicubic,liif,lte,ciaosr,ddir", show_default=True)
@click.option("--encoder", type=click.Choice(["edsr", "rdn"]), default="edsr", show_default=True)
@click.option("--data", type=_path_in, required=True)
@click.option("--out", type=_path_in, required=True)
@click.option("--checkpoints", type=_path_in, default=None,
              help="folder of <method>-<encoder>.pt checkpoints to test instead of training")
@_with_profile_opts
def bench(methods, encoder, data, out, checkpoints, profile, overrides, device, data_scale):
    """Train what has no checkpoint, test every method at every test scale, write the paper's tables."""
    from .benchmark.bench import run_bench
    from .benchmark.profiles import load_profile, parse_set

    prof = load_profile(profile, parse_set(overrides))
    names = [m.strip() for m in methods.split(",") if m.strip()]
    res = run_bench(names, data, out, prof, encoder, checkpoints, device, data_scale,
                    log=lambda msg: click.echo(msg, err=True),
                    train_progress=lambda label: _tqdm_progress(f"train {label}", True),
                    test_progress=lambda label: _tqdm_progress(f"test {label}", False))
    for line in res.skipped:
        click.echo(f"skipped {line}")
    for r in res.rows:
        click.echo(f"{r.method:>14} {r.encoder:>5} x{r.scale:<4g} {r.n_images:3d} images  "
                   f"PSNR-Y {r.psnr_y:.3f} dB  SSIM-Y {r.ssim_y:.4f}")
    click.echo(f"wrote {res.out_dir / 'results.md'}, results.csv, results.tex, psnr_vs_scale.png, crops.png")


@cli.command()
@click.argument("sr_dir", type=_path_in)
@click.argument("hr_dir", type=_path_in)
@click.option("--scale", required=True, help="the SR factor (sets the shave, ceil(s) px)")
@click.option("--protocol", type=click.Choice(["ddir", "basicsr", "realsr"]), default="ddir", show_default=True)
@click.option("--out", "out_csv", type=_path_in, default=None, help="per-image CSV")
def score(sr_dir, hr_dir, scale, protocol, out_csv):
    """PSNR-Y / SSIM-Y of a folder of results against ground truth (files paired by sorted name)."""
    from .benchmark.metrics import get_protocol
    from .benchmark.scoring import score_folders

    result = score_folders(sr_dir, hr_dir, scale, protocol, out_csv)
    for im in result.images:
        click.echo(f"{im.name}: PSNR-Y {im.psnr_y_db:.3f} dB, SSIM-Y {im.ssim_y:.4f}")
    click.echo(f"mean of {len(result.images)} images at x{result.scale:g}: PSNR-Y {result.psnr_y_db:.3f} dB, "
               f"SSIM-Y {result.ssim_y:.4f}  [{get_protocol(protocol).description}]")
    if out_csv:
        click.echo(f"wrote {out_csv}")


@cli.command()
@click.argument("image", type=_path_in)
@click.option("--checkpoint", type=_path_in, required=True)
@click.option("--out", type=_path_in, required=True)
@click.option("--scale", default=None, help="any factor, e.g. 3.7")
@click.option("--size", default=None, help="exact output size WIDTHxHEIGHT, instead of --scale")
@click.option("--device", default="cpu", show_default=True, help="cpu or cuda")
@click.option("--max-memory", default="2GB", show_default=True, help="working memory for activations, e.g. 4GB")
def upscale(image, checkpoint, out, scale, size, device, max_memory):
    """Upscale a photo by any factor with a trained checkpoint (16-bit in, 16-bit out)."""
    from tqdm import tqdm

    from .models.inference import parse_bytes, parse_size, upscale_file

    size_px = parse_size(size) if size is not None else None
    with tqdm(total=1, unit="px", unit_scale=True, desc="upscale", file=sys.stderr) as bar:
        def progress(done, total):
            bar.total = total
            bar.update(done - bar.n)

        result = upscale_file(image, checkpoint, out, scale=scale, size_px=size_px, device=device,
                              max_memory_bytes=parse_bytes(max_memory), progress=progress)
    click.echo(f"wrote {result.out_path}: {result.out_size_px[0]}x{result.out_size_px[1]} "
               f"({result.bit_depth}-bit) from {result.in_size_px[0]}x{result.in_size_px[1]} with {result.method}")


@cli.command()
@click.option("--out", type=_path_in, default=Path("demo-out"), show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--fast", is_flag=True, help="a smaller run (CI): fewer scenes and shots, one epoch")
@click.option("--keep-going", is_flag=True, help="run the stages that do not need a failed one")
@click.option("--device", default="cpu", show_default=True, help="where the bench trains and tests: cpu or cuda")
@click.option("--epochs", type=click.IntRange(min=1), default=None,
              help="train each method this many epochs (default 10; 100 takes about a minute a method on a GPU)")
@click.option("--precision", type=click.Choice(["fp32", "bf16"]), default="fp32", show_default=True,
              help="training precision; bf16 trains in about 0.55x the time on a CPU with native bf16")
def demo(out, seed, fast, keep_going, device, epochs, precision):
    """Run the whole flow on the virtual zoom camera and write OUT/report.md.

    Calibrate a virtual zoom lens from a checkerboard sweep, shoot scenes at the calibrated
    focal lengths onto a camera card, ingest, register, crop into a dataset, validate it and
    bench bicubic, LIIF, LTE, CiaoSR and DDIR on it; every stage is compared with the camera's
    truth. A rerun resumes where the last one stopped.
    """
    import time

    from .demo.config import demo_config
    from .demo.pipeline import STAGE_TITLES, run_demo
    from .demo.report import write_report

    from .devices import resolve_device

    resolve_device(device)  # before minutes of stages, not at the bench
    config = demo_config(fast, seed, device, epochs, precision)
    started = {}

    def on_start(name):
        started[name] = time.monotonic()
        click.echo(f"[{name:9s}] {STAGE_TITLES[name]} ...")

    def on_end(o):
        figure = _stage_figure(o)
        extra = f": {o.error}" if o.error else (f" ({figure})" if figure else "")
        click.echo(f"[{o.name:9s}] {o.status} in {o.seconds:.0f} s{extra}")

    outcomes = run_demo(out, config, keep_going=keep_going, on_start=on_start, on_end=on_end)
    report = write_report(out, config, outcomes)
    click.echo(f"report: {report}")
    if any(o.status in ("failed", "not run") for o in outcomes):
        sys.exit(1)


def _stage_figure(o) -> str:
    s = o.summary
    if s is None:
        return ""
    if o.name == "calibrate":
        return f"largest focal error {s.max_error_mm:.3f} mm, naive {s.max_naive_error_mm:.3f} mm"
    if o.name == "capture":
        return f"{s.scenes_ok} scenes from {s.card_files} card files"
    if o.name == "register":
        return (f"{s.ok} pairs, median corner error {s.median_corner_error_lr_px:.4f} LR px, "
                f"{len(s.rejected)} rejected")
    if o.name == "dataset":
        return f"{s.files} pairs of files, {len(s.test_scenes)} test scenes"
    if o.name == "bench":
        return f"{len(s.rows)} method x scale results"
    return ""


def main() -> None:
    cli(prog_name="ddir-kit")


if __name__ == "__main__":
    main()
