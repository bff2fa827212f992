#!/bin/sh
# First start: a UTF-8, UTC cluster with scram-sha-256, reachable from the EduPro network only.
# Every start: the TLS key pair from the read-only mount and the settings the local driver uses (TLS, WAL
# archiving to the host's backup area), in edupro.conf, so ALTER SYSTEM still overrides them as it would.
set -eu
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  install -d -o postgres -g postgres -m 700 "$PGDATA"
  install -o postgres -m 600 /run/secrets/postgres_password /tmp/pwfile
  runuser -u postgres -- initdb -D "$PGDATA" -U postgres --pwfile=/tmp/pwfile -A scram-sha-256 -E UTF8 --locale=C.UTF-8 >/dev/null
  rm -f /tmp/pwfile
  # A new cluster restarts WAL numbering: an older cluster's segments (a volume removed, the archive kept)
  # would block archiving under the same names, so they move aside, kept.
  archive=/var/lib/postgresql/wal_archive
  if [ -n "$(ls -A "$archive" 2>/dev/null | grep -v '^previous-')" ]; then
    aside="$archive/previous-$(date -u +%Y%m%dT%H%M%SZ)"
    mkdir -p "$aside"
    find "$archive" -maxdepth 1 -type f -exec mv {} "$aside"/ \;
  fi
fi
# Who may connect from the EduPro network, on every start: TLS only where the environment requires it (staging and
# production: EDUPRO_HBA_TYPE=hostssl), and pg_basebackup from the host (deploy.sh backup) for point-in-time
# restores (OPS-03).
network="${EDUPRO_NETWORK:-172.20.0.0/16}"
sed -i "\\#^host\\(ssl\\)\\? \\(all all\\|replication postgres\\) $network #d" "$PGDATA/pg_hba.conf"
echo "${EDUPRO_HBA_TYPE:-host} all all $network scram-sha-256" >> "$PGDATA/pg_hba.conf"
echo "${EDUPRO_HBA_TYPE:-host} replication postgres $network scram-sha-256" >> "$PGDATA/pg_hba.conf"
grep -q "^include_if_exists = 'edupro.conf'" "$PGDATA/postgresql.conf" \
  || echo "include_if_exists = 'edupro.conf'" >> "$PGDATA/postgresql.conf"
install -o postgres -g postgres -m 644 /etc/edupro-tls/edupro.crt "$PGDATA/server.crt"
install -o postgres -g postgres -m 600 /etc/edupro-tls/edupro.key "$PGDATA/server.key"
install -d -o postgres -g postgres -m 700 /var/lib/postgresql/wal_archive
cat > "$PGDATA/edupro.conf" <<CONF
listen_addresses = '*'
password_encryption = 'scram-sha-256'
timezone = 'UTC'
log_timezone = 'UTC'
ssl = on
ssl_cert_file = 'server.crt'
ssl_key_file = 'server.key'
ssl_min_protocol_version = 'TLSv1.2'
wal_level = replica
archive_mode = on
archive_command = 'test ! -f /var/lib/postgresql/wal_archive/%f && cp %p /var/lib/postgresql/wal_archive/%f'
archive_timeout = ${EDUPRO_ARCHIVE_TIMEOUT:-300}
max_connections = 200
CONF
chown postgres:postgres "$PGDATA/edupro.conf"
install -d -o postgres -g postgres /run/postgresql
exec runuser -u postgres -- postgres -D "$PGDATA"
