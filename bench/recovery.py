"""5. Recovery: backup (pg_dump) and restore (psql, one transaction) times for the shipped data set and
for one 100 times larger, generated in a scratch database; the live database is only read."""

from __future__ import annotations

import subprocess
import time

from edupro_verify.probes.database import Scratch, client
from edupro_verify.spec import load_profile
from edupro_verify.targets import Target, resolve

from .common import Figure, progress

# Ninety-nine copies of every student with their grades and disclosures: 100x the shipped rows.
GROW = """
INSERT INTO students (student_no, school, name, email_enc, birth_date_enc, synthetic, attributes, directory_opt_out)
  SELECT 'B' || lpad(k::text, 2, '0') || '-' || s.student_no, s.school, s.name, s.email_enc, s.birth_date_enc,
         true, s.attributes, s.directory_opt_out
  FROM students s, generate_series(1, {copies}) AS k WHERE s.student_no NOT LIKE 'B%';
INSERT INTO grades (student_id, g1, g2, g3)
  SELECT n.id, g.g1, g.g2, g.g3 FROM students n
  JOIN students o ON n.student_no = 'B' || substr(n.student_no, 2, 2) || '-' || o.student_no
  JOIN grades g ON g.student_id = o.id;
INSERT INTO disclosures (disclosed_at, actor_user_id, actor_role, student_id, record, purpose)
  SELECT d.disclosed_at, d.actor_user_id, d.actor_role, d.student_id, d.record, d.purpose
  FROM disclosures d, generate_series(1, {copies});
ANALYZE;
"""


def _dump(scratch_env: dict[str, str], database: str) -> tuple[bytes, float]:
    started = time.monotonic()
    result = subprocess.run([client("pg_dump"), "--format=plain", "--no-password", database],
                            env=scratch_env, capture_output=True)
    if result.returncode != 0:
        raise SystemExit(f"bench: pg_dump failed: {result.stderr.decode().strip().splitlines()[-1]}")
    return result.stdout, time.monotonic() - started


def _rows(scratch: Scratch) -> int:
    with scratch.connect() as conn:
        return int(conn.execute("SELECT (SELECT count(*) FROM students) + (SELECT count(*) FROM grades)"
                                " + (SELECT count(*) FROM disclosures)").fetchone()[0])


def recovery(quick: bool) -> list[Figure]:
    target: Target = resolve(load_profile("development"))
    figures: list[Figure] = []
    with Scratch(target) as shipped, Scratch(target) as grown:
        progress("recovery: backup and restore of the shipped data set")
        dump, backup_s = _dump(shipped.env(), str(target.database["name"]))
        restore_s = shipped.restore(dump)
        figures += [Figure("backup_shipped", backup_s, "s"), Figure("restore_shipped", restore_s, "s"),
                    Figure("dump_size_shipped", len(dump) / 1e6, "MB"), Figure("rows_shipped", _rows(shipped))]
        copies = 9 if quick else 99
        progress(f"recovery: a data set {copies + 1}x larger, generated in a scratch database")
        with shipped.connect() as conn:
            conn.execute(GROW.format(copies=copies))
        big, big_backup_s = _dump(shipped.env(), shipped.name)
        big_restore_s = grown.restore(big)
        figures += [Figure(f"backup_{copies + 1}x", big_backup_s, "s"), Figure(f"restore_{copies + 1}x", big_restore_s, "s"),
                    Figure(f"dump_size_{copies + 1}x", len(big) / 1e6, "MB"), Figure(f"rows_{copies + 1}x", _rows(grown))]
    return figures
