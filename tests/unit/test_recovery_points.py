"""Where a WAL segment ends, and which segment the archiver has archived whole (OPS-03)."""

from __future__ import annotations

from edupro_verify.probes.recovery import archived_in_full, segment_end

MB16 = 16 * 1024 * 1024


def test_a_segment_ends_where_the_next_begins() -> None:
    assert segment_end("000000010000000000000001", MB16) == 2 * MB16
    assert segment_end("0000000100000000000000FF", MB16) == 0x1_0000_0000  # the last of log 0
    assert segment_end("000000010000000100000000", MB16) == 0x1_0000_0000 + MB16
    assert segment_end("000000020000000000000003", MB16) == 4 * MB16  # the timeline does not count


def test_the_archiver_s_last_file_names_a_whole_segment_or_the_one_before() -> None:
    assert archived_in_full("00000001000000000000000A") == "00000001000000000000000A"
    # a backup history file is archived while its segment is still being written
    assert archived_in_full("00000001000000000000000A.00000028.backup") == "000000010000000000000009"
    assert archived_in_full("000000010000000100000000.00000028.backup") == "0000000100000000000000FF"
    assert archived_in_full("00000002.history") is None
    assert archived_in_full(None) is None
