#!/bin/sh
# Restores a backup made by deploy/backup.sh into an EMPTY PostgreSQL database and an empty DATA_DIR, after
# checking the backup's checksums. Start the server on them afterwards: migrations newer than the backup are applied
# on start. It refuses a database that already holds tables, so it cannot overwrite a live server by mistake.
#
#   DATABASE_URL=postgres://cove@127.0.0.1/cove_restored DATA_DIR=/var/lib/cove-restored \
#     deploy/restore.sh /var/backups/cove/cove-20261207T030000Z
set -eu

backup=${1:?usage: restore.sh BACKUP_DIRECTORY}
: "${DATABASE_URL:?set DATABASE_URL (an empty database to restore into)}"
: "${DATA_DIR:?set DATA_DIR (an empty directory to restore into)}"

( cd "$backup" && sha256sum --check --quiet SHA256SUMS )

tables=$(psql --no-psqlrc --tuples-only --no-align --command \
  "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'" "$DATABASE_URL")
if [ "$tables" != "0" ]; then
  echo "restore.sh: the target database is not empty ($tables tables); restore into a new one" >&2
  exit 1
fi
if [ -d "$DATA_DIR" ] && [ -n "$(ls -A "$DATA_DIR")" ]; then
  echo "restore.sh: $DATA_DIR is not empty; restore into a new directory" >&2
  exit 1
fi

pg_restore --no-owner --no-privileges --exit-on-error --dbname="$DATABASE_URL" "$backup/database.dump"
umask 077
mkdir -p "$DATA_DIR"
tar --extract --gzip --file="$backup/data.tar.gz" --directory="$DATA_DIR"
echo "restored $backup"
