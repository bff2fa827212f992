#!/bin/sh
# First start: a UTF-8, UTC cluster with scram-sha-256, reachable from the EduPro network only.
set -eu
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  install -d -o postgres -g postgres -m 700 "$PGDATA"
  install -o postgres -m 600 /run/secrets/postgres_password /tmp/pwfile
  runuser -u postgres -- initdb -D "$PGDATA" -U postgres --pwfile=/tmp/pwfile -A scram-sha-256 -E UTF8 --locale=C.UTF-8 >/dev/null
  rm -f /tmp/pwfile
  echo "host all all ${EDUPRO_NETWORK:-172.20.0.0/16} scram-sha-256" >> "$PGDATA/pg_hba.conf"
  printf "listen_addresses = '*'\ntimezone = 'UTC'\nlog_timezone = 'UTC'\npassword_encryption = 'scram-sha-256'\n" >> "$PGDATA/postgresql.conf"
fi
install -d -o postgres -g postgres /run/postgresql
exec runuser -u postgres -- postgres -D "$PGDATA"
