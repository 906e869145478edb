"""Export folders hold exactly the exported micrographs' files; .box files pair with their micrograph.

Issue 17, bugs 3 and 6: a micrograph removed from the inputs or now rejected kept its
``_autopick.star``, ``.box`` and picks CSV, which RELION's and crYOLO's folder imports then read;
and ``.box`` files were named after samcryo's sanitised name (``mic_ñ.mrc`` -> ``mic__.box``), so
box-reading tools could not pair them with their micrograph.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from samcryo_core.errors import InputError
from samcryo_core.export.eman_box import write_boxes
from samcryo_core.export.picks_set import MicrographPicks
from samcryo_core.export.relion import write_relion
from samcryo_core.export.stale import remove_stale_picks
from samcryo_core.io.coordinates import read_box


def _items(proj: Path, names: list[str]) -> list[MicrographPicks]:
    items = []
    for name in names:
        src = proj / "MotionCorr/job002/Movies" / f"{name}.mrc"
        src.parent.mkdir(parents=True, exist_ok=True)
        src.touch()
        picks = pd.DataFrame({"x": [100.0], "y": [50.0], "fom": [0.9]})
        items.append(MicrographPicks(name.replace("ñ", "_"), str(src), picks))
    return items


def test_relion_and_box_folders_hold_exactly_the_exported_micrographs(tmp_path):
    proj = tmp_path / "proj"
    relion, box = proj / "External/job011", tmp_path / "box"
    write_relion(_items(proj, ["a", "b", "c"]), relion, project_dir=proj)
    write_boxes(_items(proj, ["a", "b", "c"]), box, 64)
    (relion / "Movies" / "notes.txt").write_text("a user's file")  # not ours: kept
    hidden = relion / "Movies" / ".c_autopick.star.x1.tmp.star"  # a killed write's temporary: kept
    hidden.write_text("")

    # b left the inputs, c is rejected now: only a remains exported
    write_relion(_items(proj, ["a"]), relion, project_dir=proj)
    write_boxes(_items(proj, ["a"]), box, 64)
    # the job folder's own coords_suffix_autopick.star (a RELION job file) stays
    assert sorted(p.name for p in relion.rglob("*_autopick.star") if not p.name.startswith(".")) == [
        "a_autopick.star", "coords_suffix_autopick.star"]
    assert sorted(p.name for p in box.iterdir()) == ["a.box"]
    assert (relion / "Movies" / "notes.txt").is_file() and hidden.is_file()
    assert (relion / "autopick.star").read_text().count("_autopick.star") == 1

    # nothing exported at all: the folders are emptied of coordinate files, not left stale
    write_relion([], relion, project_dir=proj)
    assert not list(relion.rglob("a_autopick.star"))


def test_box_files_are_named_after_the_micrograph_file(tmp_path):
    proj = tmp_path / "proj"
    items = _items(proj, ["mic_ñ", "plain"])
    assert items[0].name == "mic__"  # samcryo's safe name differs from the file's stem
    written = write_boxes(items, tmp_path / "box", 64)
    assert [p.name for p in written] == ["mic_ñ.box", "plain.box"]
    assert read_box(tmp_path / "box" / "mic_ñ.box")["x"].tolist() == [100.0]
    # two files with one stem (other folders) would share a .box file: refused, naming both
    twin = MicrographPicks("plain2", str(proj / "other" / "plain.mrc"), items[1].picks)
    with pytest.raises(InputError, match="would overwrite"):
        write_boxes([*items, twin], tmp_path / "box2", 64)


def test_stale_picks_are_only_samcryo_csvs_of_micrographs_not_listed(tmp_path):
    picks = tmp_path / "picks"
    picks.mkdir()
    for name in ("a", "b"):
        (picks / f"{name}.csv").write_text("x,y\n")
        (picks / f"{name}.stamp.json").write_text("{}")
    (picks / "mine.csv").write_text("a user's table")  # no stamp: not samcryo's picks
    removed = remove_stale_picks([picks], ["a"])
    assert removed == [picks / "b.csv"]
    assert sorted(p.name for p in picks.iterdir()) == ["a.csv", "a.stamp.json", "mine.csv"]
