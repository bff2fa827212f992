"""A plain pg_dump's rows per table, as the restore check counts them (OPS-04, DB-01)."""

from edupro_verify.probes.database import DUMP_COMPLETE, copied_rows

DUMP = b"""SET client_encoding = 'UTF8';
COPY public.students (id, name) FROM stdin;
1\tAna
2\tBo
\\.
COPY public."user" (id) FROM stdin;
\\.
""" + DUMP_COMPLETE + b"\n"


def test_rows_are_counted_per_copy_block() -> None:
    assert copied_rows(DUMP) == {"public.students": 2, 'public."user"': 0}


def test_a_dump_cut_inside_a_copy_block_counts_what_it_holds() -> None:
    cut = DUMP[:DUMP.index(b"2\tBo")]
    assert copied_rows(cut) == {"public.students": 1}
    assert DUMP_COMPLETE not in cut
