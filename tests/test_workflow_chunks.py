"""Chunk membership stays stable as micrographs arrive (live collection), leave, or are re-listed."""

from __future__ import annotations

import pytest
from workflow_support import job_counts

from samcryo_core.errors import ConfigError
from samcryo_core.workflow.chunks import (
    Membership,
    assign_chunks,
    chunk_id,
    read_membership,
    split_into_chunks,
    write_membership,
)


def _names(n: int, prefix: str = "mic") -> list[str]:
    return [f"{prefix}_{i:04d}" for i in range(n)]


def test_a_first_run_splits_the_sorted_list_into_consecutive_chunks():
    m = assign_chunks(_names(10), 4)
    assert m.chunks == split_into_chunks(_names(10), 4)
    assert list(m.chunks) == ["chunk0000", "chunk0001", "chunk0002"]
    assert m.chunks["chunk0002"] == ["mic_0008", "mic_0009"]


def test_new_micrographs_never_shift_earlier_chunks():
    first = assign_chunks(_names(10), 4)
    # new ones sorting before every old one, and after: the old chunks keep their members
    grown = sorted(_names(3, "aaa") + _names(10) + _names(4, "zzz"))
    second = assign_chunks(grown, 4, first)
    for cid in ("chunk0000", "chunk0001"):
        assert second.chunks[cid] == first.chunks[cid]
    # the last chunk fills up to chunk_size, then new chunks follow
    assert second.chunks["chunk0002"] == ["aaa_0000", "aaa_0001", "mic_0008", "mic_0009"]
    assert second.chunks["chunk0003"] == ["aaa_0002", "zzz_0000", "zzz_0001", "zzz_0002"]
    assert second.chunks["chunk0004"] == ["zzz_0003"]
    assert sorted(n for ns in second.chunks.values() for n in ns) == grown


def test_removed_micrographs_leave_their_chunk():
    first = assign_chunks(_names(10), 4)
    kept = [n for n in _names(10) if n not in {"mic_0001", "mic_0008", "mic_0009"}]
    second = assign_chunks(kept, 4, first)
    assert second.chunks == {"chunk0000": ["mic_0000", "mic_0002", "mic_0003"],
                             "chunk0001": first.chunks["chunk0001"]}
    third = assign_chunks([*kept, "new_0000", "new_0001"], 4, second)
    assert third.chunks["chunk0001"] == first.chunks["chunk0001"]  # full: not touched
    assert third.chunks["chunk0002"] == ["new_0000", "new_0001"]


def test_a_new_chunk_size_splits_afresh_and_job_processes_see_only_the_plan():
    first = assign_chunks(_names(10), 4)
    assert assign_chunks(_names(10), 5, first).chunks == split_into_chunks(_names(10), 5)
    late = assign_chunks([*_names(10), "zzz"], 4, first, known_only=True)
    assert late.chunks == first.chunks


def test_membership_round_trips_and_a_broken_record_means_a_fresh_split(tmp_path):
    m = assign_chunks(_names(6), 4)
    path = tmp_path / "results" / "ingest" / "chunk_membership.json"
    write_membership(m, path)
    assert read_membership(path) == m
    mtime = path.stat().st_mtime_ns
    write_membership(Membership(m.chunk_size, dict(m.chunks)), path)  # unchanged: not rewritten
    assert path.stat().st_mtime_ns == mtime
    path.write_text("{not json")
    assert read_membership(path) is None
    assert read_membership(tmp_path / "missing.json") is None


# ---- chunk ids and the job-count parser of the workflow tests --------------------------------

def test_chunks_are_consecutive_and_cover_everything():
    items = [f"m{i:03d}" for i in range(10)]
    chunks = split_into_chunks(items, 4)
    assert list(chunks) == ["chunk0000", "chunk0001", "chunk0002"]
    assert [len(v) for v in chunks.values()] == [4, 4, 2]
    assert sum(chunks.values(), []) == items


def test_chunk_ids_widen_for_large_datasets_and_sort_like_indices():
    ids = [chunk_id(i, 12000) for i in (0, 9, 10, 11999)]
    assert ids == ["chunk00000", "chunk00009", "chunk00010", "chunk11999"]
    assert ids == sorted(ids)


def test_empty_list_gives_no_chunks_and_bad_size_names_the_key():
    assert split_into_chunks([], 5) == {}
    with pytest.raises(ConfigError) as exc:
        split_into_chunks(["a"], 0)
    assert exc.value.key == "chunk_size"


def test_job_counts_parses_the_job_stats_table():
    text = ("Job stats:\njob          count\n---------  -------\ningest           2\n"
            "normalize        2\ntotal            4\n\nReasons:\n")
    assert job_counts(text) == {"ingest": 2, "normalize": 2}


# ---- unit tests of the stale-output invalidation used by the segment rule ---------------------
