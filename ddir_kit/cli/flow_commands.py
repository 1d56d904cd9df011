"""Commands of the dataset half of the flow: info, calibrate, capture, register, crop, validate,
card.

Over 400 lines because it is seven commands' options and help texts, each a thin call into its
stage's package; one module per command would split the flow a user reads in `--help` order
into files of forty lines.
"""

from __future__ import annotations

import click

from ..errors import DdirKitError
from .options import (ALL_SCALES, PATH, SCALE, SCALE_LIST, SHARD, SIZE_MM, SIZE_PX, DefaultCommandGroup, Group,
                      data_scale_option, dataset_input, one_dataset, scales_option)


def register_commands(cli: click.Group) -> None:
    for command in (info, calibrate, capture, register, crop, validate, card):
        cli.add_command(command)


# ---------------------------------------------------------------------------------------
# photos


@click.command()
@click.argument("photos", nargs=-1, required=True, type=PATH)
def info(photos):
    """Show size, bit depth and EXIF of photos (JPEG, PNG, TIFF, RAW)."""
    from ..photo.exif import read_exif
    from ..photo.photo_io import read_photo

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
        raise DdirKitError(f"none of the {len(photos)} files could be read as a photo")


# ---------------------------------------------------------------------------------------
# calibration


class _CalibrateGroup(DefaultCommandGroup):
    default_command = "sweep"


@click.group(cls=_CalibrateGroup, subcommand_metavar="SHOTS_DIR | COMMAND [ARGS]...")
def calibrate():
    """Measure the zoom lens's scale against focal length from a checkerboard sweep.

    \b
    Usage:
      ddir-kit calibrate SHOTS_DIR --out calibration.json [--scales 1.5,...,4]
                         [--board 9x6] [--reference-focal MM] [--focals focals.csv]
      ddir-kit calibrate check calibration.json PHOTO_HR PHOTO_LR --scale S
      ddir-kit calibrate pattern --out target.pdf --scales 1.5,2,3,4 --sensor-mm 36x24

    SHOTS_DIR alone is short for `ddir-kit calibrate sweep SHOTS_DIR`.
    """


@calibrate.command("sweep")
@click.argument("shots_dir", type=PATH)
@click.option("--out", type=PATH, default="calibration.json", show_default=True)
@scales_option(help_text="the scales to find focal lengths for")
@click.option("--board", default="9x6", show_default=True, help="inner corners, columns x rows")
@click.option("--reference-focal", type=float, default=None, help="mm; default: the longest in the sweep")
@click.option("--focals", "focals_csv", type=PATH, default=None,
              help="CSV with columns file,focal_mm; overrides or replaces EXIF focal lengths")
@click.option("--fit", "fit_model", type=click.Choice(["radial", "similarity"]), default="radial", show_default=True,
              help="board fit: homography + radial distortion per shot, or one similarity per shot")
def calibrate_sweep(shots_dir, out, scales, board, reference_focal, focals_csv, fit_model):
    """Calibrate from a folder of checkerboard shots (every file is listed: used or skipped)."""
    from ..calibration.calibrate import calibrate_sweep as run, write_calibration

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
@click.argument("calibration", type=PATH)
@click.argument("photo_hr", type=PATH)
@click.argument("photo_lr", type=PATH)
@click.option("--scale", type=SCALE, required=True, help="the wanted scale, e.g. 2.5")
@click.option("--board", default=None, help="inner corners; default: the calibration's")
def calibrate_check(calibration, photo_hr, photo_lr, scale, board):
    """Scale achieved by a candidate LR shot, and how far to turn the zoom to reach --scale."""
    from ..calibration.zoom_check import check_zoom

    c = check_zoom(calibration, photo_hr, photo_lr, float(scale), board)
    exif = "" if c.lr_exif_focal_mm is None else f" (EXIF {c.lr_exif_focal_mm:g} mm)"
    click.echo(f"scale achieved x{c.scale_achieved:.4f}{exif}; wanted x{c.target_scale:g} at "
               f"{c.target_focal_mm:.2f} mm; board residual {c.fit_residual_px:.3f} px")
    click.echo(c.advice)


@calibrate.command("pattern")
@click.option("--out", type=PATH, required=True, help=".pdf (vector) or .png")
@scales_option(help_text="the scales to draw a frame for")
@click.option("--sensor-mm", "--sensor", "sensor_mm", type=SIZE_MM, default="36x24", show_default=True,
              help="sensor WIDTHxHEIGHT in mm (sets the aspect)")
@click.option("--board", default="9x6", show_default=True, help="inner corners, columns x rows")
@click.option("--page", default="A3", show_default=True, help="A4..A0, LETTER, TABLOID or WIDTHxHEIGHT in mm")
@click.option("--dpi", type=int, default=300, show_default=True, help="PNG resolution")
def calibrate_pattern(out, scales, sensor_mm, board, page, dpi):
    """A printable board with nested rectangles for the given scales (calibration by eye)."""
    from ..calibration.target_pattern import draw_target, parse_page

    t = draw_target(out, scales, sensor_mm, board, parse_page(page), dpi)
    res = f", {t.dpi} dpi" if t.dpi else ""
    click.echo(f"wrote {t.path}: {t.page_mm[0]:g}x{t.page_mm[1]:g} mm page{res}, board {t.board} with "
               f"{t.square_mm:.2f} mm squares, reference rectangle {t.rects_mm[1.0][2]:.1f}x{t.rects_mm[1.0][3]:.1f} mm")


# ---------------------------------------------------------------------------------------
# capture


@click.group(cls=Group)
def capture():
    """Shot plans, ingest of a camera card, and the virtual zoom camera."""


@capture.command()
@click.argument("calibration", type=PATH)
@click.option("--out", type=PATH, default=None, help="also write the shot list as CSV")
def plan(calibration, out):
    """The shot list for one scene from a calibration."""
    from ..capture.shot_plan import plan_table_text, shot_plan, write_plan_csv

    shots = shot_plan(calibration)
    click.echo(plan_table_text(shots))
    if out is not None:
        write_plan_csv(shots, out)
        click.echo(f"wrote {out}")


@capture.command()
@click.argument("card_dir", type=PATH)
@click.option("--calibration", type=PATH, required=True)
@click.option("--out", type=PATH, required=True)
@click.option("--tolerance", "tolerance_mm", type=float, default=0.75, show_default=True,
              help="mm between an EXIF focal length and a calibrated one")
@click.option("--gap", "max_gap_s", type=float, default=120.0, show_default=True,
              help="seconds of pause between shots that end a scene")
@click.option("--jobs", type=int, default=1, show_default=True, help="worker processes over scenes")
@click.option("--shard", type=SHARD, default="1/1", show_default=True,
              help="i/N: take the i-th of N equal shares of the scenes")
def ingest(card_dir, calibration, out, tolerance_mm, max_gap_s, jobs, shard):
    """Group a camera card's photos into scenes ready for registration.

    Writes OUT/<scene>/hr.png, lr_x<tag>.png, scene.json, manifest.json and
    OUT/ingest_report.csv. A rerun skips finished scenes."""
    from ..capture.ingest import ingest_card

    def show(o):
        click.echo(f"{o.scene}: {o.status}, {len(o.scales)} LR, {o.warnings} warnings ({o.seconds:.1f} s)")

    report = ingest_card(card_dir, calibration, out, tolerance_mm=tolerance_mm, max_gap_s=max_gap_s,
                         jobs=jobs, shard=shard, progress=show)
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
    if report.scenes_planned == 0:
        raise DdirKitError("no scene found (an HR shot at the reference focal length followed by LR shots)", card_dir)
    if report.scenes and all(o.status == "failed" for o in report.scenes):
        raise DdirKitError(f"every scene failed ({len(report.scenes)}); see {report.report_csv}")


@capture.group(cls=Group)
def simulate():
    """Shoot with the virtual zoom camera (known ground truth)."""


_sensor_px = click.option("--sensor-px", "--sensor", "sensor_px", type=SIZE_PX, default="1200x800", show_default=True,
                          help="the sensor's WIDTHxHEIGHT in pixels (full frame: 5760x3840)")


@simulate.command("calibration")
@click.argument("out", type=PATH)
@click.option("--focals", default="24,28,32,35,40,45,50,55,60,70,80,90,105", show_default=True,
              help="EXIF focal lengths, mm; the longest is the reference")
@_sensor_px
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--format", "fmt", type=click.Choice(["jpg", "png", "tif", "dng"]), default="jpg", show_default=True)
@click.option("--board", default="9x6", show_default=True, help="inner corners, columns x rows")
@click.option("--bayer/--no-bayer", default=False, help="RGGB sensor with demosaicing")
@click.option("--distortion/--no-distortion", default=True, show_default=True, help="lens radial distortion")
@click.option("--disturb/--no-disturb", default=True, show_default=True,
              help="per-shot tripod and photometric disturbances")
def simulate_calibration(out, focals, sensor_px, seed, fmt, board, bayer, distortion, disturb):
    """A checkerboard sweep over the zoom range, with truth.json (true scales and corners)."""
    from ..calibration.board_detection import BoardSize
    from ..virtual_camera.lens_model import ZoomLens
    from ..virtual_camera.simulate import parse_focals, simulate_calibration as run

    lens = ZoomLens() if distortion else ZoomLens().without_distortion()
    b = BoardSize.parse(board)
    sweep = run(out, parse_focals(focals), seed=seed, fmt=fmt, sensor=sensor_px, board_corners=(b.cols, b.rows),
                bayer=bayer, lens=lens, disturb=disturb, progress=click.echo)
    for path in sweep.skipped:
        click.echo(f"skipped (already done): {path.name}")
    click.echo(f"{len(sweep.photos)} photos and {sweep.truth_path.name} in {sweep.out}")


@simulate.command("scenes")
@click.argument("out", type=PATH)
@click.option("--scenes", "n_scenes", type=int, default=4, show_default=True)
@click.option("--calibration", type=PATH, default=None, help="calibration.json: shoot its targets' focal lengths")
@click.option("--scales", type=SCALE_LIST, default=None, help="e.g. 1.5,2,3,4: shoot each at its TRUE focal length")
@_sensor_px
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--bit-depth", type=click.Choice(["8", "16"]), default="8", show_default=True)
@click.option("--bayer/--no-bayer", default=False, help="RGGB sensor with demosaicing")
@click.option("--moving-object", default="", help="scales whose LR shot gets an object no other shot has")
@click.option("--failed-exposure", default="", help="e.g. 3:over,2:under")
@click.option("--distortion/--no-distortion", default=True, show_default=True,
              help="lens radial distortion (off, with --no-disturb: every LR->HR map is exactly affine)")
@click.option("--disturb/--no-disturb", default=True, show_default=True,
              help="per-shot tripod and photometric disturbances")
@click.option("--textures", type=PATH, default=None,
              help="folder of photos to shoot (default: the packaged City100 postcards)")
def simulate_scenes(out, n_scenes, calibration, scales, sensor_px, seed, bit_depth, bayer, moving_object,
                    failed_exposure, distortion, disturb, textures):
    """Scenes shot at HR and at every LR scale, in the capture layout, with truth.json."""
    from ..virtual_camera.lens_model import ZoomLens
    from ..virtual_camera.planting import parse_planting
    from ..virtual_camera.scenes import photos_in
    from ..virtual_camera.simulate_scenes import simulate_scenes as run, targets_from_calibration

    if (calibration is None) == (scales is None):
        raise DdirKitError("give exactly one of --calibration and --scales")
    kw = {}
    if calibration is not None:
        kw["reference_focal_mm"], kw["targets"] = targets_from_calibration(calibration)
    else:
        kw["scales"] = scales
    result = run(out, n_scenes, seed=seed, sensor=sensor_px, bit_depth=int(bit_depth),
                 bayer=bayer, planting=parse_planting(moving_object, failed_exposure), disturb=disturb,
                 lens=ZoomLens() if distortion else ZoomLens().without_distortion(),
                 textures=None if textures is None else photos_in(textures), progress=click.echo, **kw)
    for path in result.skipped:
        click.echo(f"skipped (already done): {path.name}")
    click.echo(f"{len(result.scenes)} scenes written, {len(result.skipped)} skipped, in {result.out}")


# ---------------------------------------------------------------------------------------
# registration


class _RegisterGroup(DefaultCommandGroup):
    default_command = "captures"
    # the spellings of the release before the three modes had commands of their own
    routes = {"--inspect": ("inspect", True), "--hr": ("pair", False), "--lr": ("pair", False)}


@click.group(cls=_RegisterGroup, subcommand_metavar="CAPTURES | COMMAND [ARGS]...")
def register():
    """Align LR to HR photos into exact-scale pairs.

    \b
    Usage:
      ddir-kit register CAPTURES --out aligned/ [--jobs N] [--shard i/N] [--radial --perspective]
      ddir-kit register pair --hr HR --lr LR --scale S --out DIR
      ddir-kit register inspect DIR

    CAPTURES alone is short for `ddir-kit register captures CAPTURES`.
    """


def _registration_options(f):
    for option in reversed([
        click.option("--radial", is_flag=True, help="also fit a relative radial-distortion term"),
        click.option("--perspective", is_flag=True,
                     help="fit a homography (pan/tilt between shots) instead of an affine"),
        click.option("--colour-transfer", is_flag=True,
                     help="RealSR's colour correction of lr.png (off: DDIR models it)"),
        click.option("--interpolation", type=click.Choice(["lanczos", "bicubic"]), default="lanczos",
                     show_default=True),
        click.option("--photo-encoding", type=click.Choice(["srgb", "linear"]), default="srgb", show_default=True,
                     help="how the photos encode light: sRGB (camera JPEGs, ingested RAW) is decoded to linear light"),
        click.option("--template-blur", type=float, default=None,
                     help="the LR's extra blur, LR px, applied to the HR before its downscale "
                          "(default: measured per pair)"),
    ]):
        f = option(f)
    return f


def _registration_config(radial, perspective, colour_transfer, interpolation, photo_encoding, template_blur):
    from ..registration.config import RegistrationConfig

    return RegistrationConfig(radial=radial, perspective=perspective, colour_transfer=colour_transfer,
                              interpolation=interpolation, photo_encoding=photo_encoding,
                              template_blur_lr_px=template_blur)


@register.command("captures")
@click.argument("captures_dir", metavar="CAPTURES", type=PATH)
@click.option("--out", type=PATH, required=True, help="the aligned/ folder")
@click.option("--jobs", type=int, default=1, show_default=True, help="worker processes")
@click.option("--shard", type=SHARD, default="1/1", show_default=True, help="i/N: the i-th of N shares of the scenes")
@click.option("--pool-radial/--no-pool-radial", default=True, show_default=True,
              help="with --radial: one radial term per scale, the median of the scenes' fits "
                   "(off for a folder that mixes cameras, lenses or focal settings)")
@_registration_options
def register_folder(captures_dir, out, jobs, shard, pool_radial, **registration):
    """Register every scene of a capture folder into aligned/<scene>/x<s>/ (a rerun skips finished pairs)."""
    from ..registration.aligned_folder import REPORT_CSV
    from ..registration.register_captures import register_captures

    def show(row):
        scale_txt = f"x{row['scale']:g}" if isinstance(row.get("scale"), (int, float)) else ""
        click.echo(f"{row['scene']} {scale_txt}: {row['status']}" + (f" - {row['reason']}" if row.get("reason") else ""))

    report = register_captures(captures_dir, out, jobs=jobs, shard=shard, config=_registration_config(**registration),
                               pool_radial=pool_radial, on_pair=show)
    counts = {k: report.count(k) for k in ("ok", "rejected", "failed", "skipped")}
    click.echo(", ".join(f"{v} {k}" for k, v in counts.items()) + f"; report: {out / REPORT_CSV}")
    if counts["ok"] + counts["skipped"] == 0:
        raise DdirKitError(f"no pair was registered ({counts['rejected']} rejected, {counts['failed']} failed); "
                           f"see {out / REPORT_CSV}")


@register.command("pair")
@click.option("--hr", "hr_photo", type=PATH, required=True, help="the HR photo")
@click.option("--lr", "lr_photo", type=PATH, required=True, help="the LR photo")
@click.option("--scale", type=SCALE, required=True, help="the nominal scale, e.g. 2 or 1.5")
@click.option("--out", type=PATH, required=True, help="the pair folder to write")
@_registration_options
def register_one_pair(hr_photo, lr_photo, scale, out, **registration):
    """Register one LR photo to one HR photo into OUT/{hr.png, lr.png, pair.json}."""
    from ..registration.register_pair import register_pair

    res = register_pair(hr_photo, lr_photo, scale, out, _registration_config(**registration))
    click.echo(f"{out}: {res.status}" + (f" ({res.reason})" if res.reason else "")
               + (f", scale {res.scale_measured:.4f}, HR crop {res.hr_crop}, LR {res.lr_size}"
                  if res.status == "ok" else ""))
    if res.status != "ok":
        raise DdirKitError(f"the pair was rejected: {res.reason}", out)


@register.command("inspect")
@click.argument("pair_dir", metavar="DIR", type=PATH)
def register_inspect(pair_dir):
    """Write inspect.png, a figure to judge a registered pair, for a pair folder or every pair under aligned/."""
    from ..registration.inspect_figure import inspect_folder

    for png in inspect_folder(pair_dir):
        click.echo(f"wrote {png}")


# ---------------------------------------------------------------------------------------
# datasets


@click.command()
@click.argument("aligned", type=PATH)
@click.option("--out", type=PATH, required=True, help="the dataset folder to write")
@click.option("--split", "split_text", default="test=0.2", show_default=True, help="share of scenes in Test")
@click.option("--seed", type=int, default=0, show_default=True, help="seed of the scene split")
@click.option("--patch", "patch_hr", type=int, default=None,
              help="HR patch side in px (default: whole pairs)")
@click.option("--step", "step_hr", type=int, default=None,
              help="HR grid step in px (default: the patch side)")
@click.option("--train-scales", type=SCALE_LIST, default=None,
              help="scales kept in Train, e.g. 1.5,2,2.5,3,3.5,4 (default: all); the others stay unseen")
def crop(aligned, out, split_text, seed, patch_hr, step_hr, train_scales):
    """Cut aligned pairs into a dataset in the RealArbiSR layout."""
    from ..dataset.crop import CropSettings, crop_dataset, parse_split

    if step_hr is not None and patch_hr is None:
        raise DdirKitError("--step needs --patch")
    kept = None if train_scales is None else tuple(float(t) for t in train_scales)
    settings = CropSettings(parse_split(split_text), seed, patch_hr, step_hr, kept)
    report = crop_dataset(aligned, out, settings)
    for source, reason in report.skipped:
        click.echo(f"skipped {source}: {reason}", err=True)
    click.echo(f"{out}: {report.files} pairs of files; Train scenes {len(report.train_scenes)}, "
               f"Test scenes {len(report.test_scenes)} ({', '.join(report.test_scenes) or 'none'})")


@click.command()
@dataset_input
def validate(dataset, data_option):
    """Check a dataset in the RealArbiSR layout."""
    from ..dataset.validate import validate_dataset

    dataset = one_dataset(dataset, data_option)
    report = validate_dataset(dataset)
    for finding in report.findings:
        click.echo(str(finding), err=finding.level == "error")
    for (split, tag), n in sorted(report.pairs.items()):
        click.echo(f"{split} x{tag}: {n} pairs checked")
    click.echo(f"{dataset}: {len(report.errors)} errors, {len(report.warnings)} warnings")
    if not report.ok:
        raise DdirKitError(f"the dataset is not valid: {len(report.errors)} errors (listed above)", dataset)


@click.command()
@dataset_input
@click.option("--out", type=PATH, required=True, help="the card's folder: card.md, card.json, figures/")
@click.option("--aligned", type=PATH, default=None, help="the aligned/ folder the dataset was cropped from")
@data_scale_option()
@click.option("--figure-pairs", type=click.IntRange(min=1), default=3, show_default=True,
              help="pairs shown per scale in the residual figures")
def card(dataset, data_option, out, aligned, data_scale, figure_pairs):
    """Describe a dataset: contents, photometric shift and real-vs-bicubic residuals per scale.

    Reads a RealArbiSR-layout, RealSR v3 or paired-folder dataset (and, with --aligned, the
    registration records), writes OUT/card.md, OUT/card.json (docs/card.md) and OUT/figures/.
    """
    import shlex

    from ..dataset.card import make_card

    dataset = one_dataset(dataset, data_option)
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
    click.echo(f"{res.layout} dataset, {res.pairs} pairs, {res.seconds:.1f} s: wrote {res.card_md}, "
               f"{res.card_json.name} and {len(res.figures)} figures")


__all__ = ["register_commands", "ALL_SCALES"]
