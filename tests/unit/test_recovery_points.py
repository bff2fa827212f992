"""Where a WAL segment ends, and which segment the archiver has archived whole (OPS-03)."""

from __future__ import annotations

from edupro_verify.probes.recovery import archived_in_full, replayed_into, segment_start

MB16 = 16 * 1024 * 1024


def test_where_a_segment_begins() -> None:
    assert segment_start("000000010000000000000001", MB16) == MB16
    assert segment_start("0000000100000000000000FF", MB16) == 0xFF * MB16  # the last of log 0
    assert segment_start("000000010000000100000000", MB16) == 0x1_0000_0000
    assert segment_start("000000020000000000000003", MB16) == 3 * MB16  # the timeline does not count


def test_a_replay_read_a_segment_when_it_applied_a_record_past_its_start() -> None:
    four = "000000010000000000000004"
    assert replayed_into(5 * MB16, four, MB16)  # ended by a switch: the replay ends where segment 5 begins
    assert replayed_into(0x4FFF6C0, four, MB16)  # its last record continues into segment 5, not archived yet
    assert not replayed_into(4 * MB16, four, MB16)  # segment 3 ended by a switch, segment 4 missing
    assert not replayed_into(0x3FFF000, four, MB16)  # segment 3's last record continues into the missing 4


def test_the_archiver_s_last_file_names_a_whole_segment_or_the_one_before() -> None:
    assert archived_in_full("00000001000000000000000A") == "00000001000000000000000A"
    # a backup history file is archived while its segment is still being written
    assert archived_in_full("00000001000000000000000A.00000028.backup") == "000000010000000000000009"
    assert archived_in_full("000000010000000100000000.00000028.backup") == "0000000100000000000000FF"
    assert archived_in_full("00000002.history") is None
    assert archived_in_full(None) is None
