"""`register inspect`: a figure a person can judge a pair by, also for the demo's small pairs:
checkerboard squares of a round number of LR px, several along each side; the shift map on
axes in LR px, with a key arrow and, when the tiles are few, each tile's shift in figures."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from ddir_kit.photo.photo_io import write_png  # noqa: E402
from ddir_kit.registration.inspect_figure import (_checkerboard_panel, _shift_panel, checkerboard_overlay,  # noqa: E402
                                                  inspect_pair, square_lr_px)
from ddir_kit.registration.pair_record import PairRecord  # noqa: E402

FORMATS = Path(__file__).parent / "fixtures" / "formats"


@pytest.mark.parametrize("lr_size, side", [((160, 106), 16), ((420, 300), 32), ((3000, 2000), 256),
                                           ((30, 20), 2), ((5, 5), 1)])
def test_squares_are_a_power_of_two_lr_px_with_six_along_the_short_side(lr_size, side):
    assert square_lr_px(lr_size) == side
    assert min(lr_size) / side >= 6 or side == 1


def test_the_checkerboard_alternates_hr_and_lr_by_square():
    hr, lr = np.zeros((64, 64, 3), np.float32), np.ones((64, 64, 3), np.float32)
    board = checkerboard_overlay(hr, lr, 16.0)
    assert board[0, 0, 0] == 0 and board[0, 16, 0] == 1 and board[16, 0, 0] == 1 and board[16, 16, 0] == 0
    assert checkerboard_overlay(hr, lr, 2.5)[0, 2, 0] == 0 and checkerboard_overlay(hr, lr, 2.5)[0, 3, 0] == 1


def _lr(w, h):
    return np.random.default_rng(0).random((h, w, 3), np.float32)


def test_the_panels_of_a_demo_sized_pair_are_in_lr_px_with_labelled_tiles():
    rec = PairRecord.read(FORMATS / "pair_ok_homography.json")  # a demo pair: LR 160x106, two 64 px tiles
    lr = _lr(*rec.lr_size)
    fig, (a, b) = plt.subplots(1, 2)
    hr_s = np.repeat(np.repeat(lr, 3, 0), 3, 1)
    _checkerboard_panel(a, hr_s, hr_s, rec.lr_size)
    assert a.get_xlim() == (0, 160) and a.get_xlabel() == "LR px" and "16 LR px squares" in a.get_title()
    assert len(a.lines) == (10 - 1) + (7 - 1)  # the dotted edges inside the grid: 10 x 7 squares (the last cut)
    _shift_panel(b, rec.local_shift, lr, trimmed=False)
    assert b.get_xlim() == (0, 160) and b.get_ylim() == (106, 0) and b.get_xlabel().startswith("LR px")
    labels = [t.get_text() for t in b.texts]
    mags = [float(np.hypot(*c)) for row in rec.local_shift.shift_px for c in row]
    assert [f"{m:.3f}" for m in mags] == [t for t in labels if t[0].isdigit()]
    assert [k.text.get_text() for k in b.artists if hasattr(k, "text")] == ["0.1 LR px shift"]
    plt.close(fig)


def test_many_tiles_are_drawn_without_figures_and_a_trim_is_named(tmp_path):
    d = json.loads((FORMATS / "pair_rejected_local_misfit.json").read_text())  # 6 x 9 tiles, some bad
    fig, ax = plt.subplots()
    rec = PairRecord.from_dict(d)
    _shift_panel(ax, rec.local_shift, None, trimmed=True)
    assert not any(t.get_text()[0].isdigit() for t in ax.texts)
    assert "before the trim" in ax.get_xlabel() and ax.get_xlim() == (0, 9 * 64)
    plt.close(fig)
    # the whole figure, for a pair a run trimmed
    d.update(status="ok", reason="trimmed 1 tile row with local misfit")
    (tmp_path / "pair.json").write_text(json.dumps(d))
    write_png(tmp_path / "hr.png", _lr(1080, 720), 8)
    write_png(tmp_path / "lr.png", _lr(540, 360), 8)
    assert inspect_pair(tmp_path).stat().st_size > 10_000
