#!/bin/sh
# Backs up a Cove server: the PostgreSQL database (pg_dump, custom format) and the server's local state under
# DATA_DIR (sealed-sender trust root, VAPID keys, disk attachments), into BACKUP_DIR/cove-<UTC time>/.
# It does not back up an S3 attachment bucket (use the bucket's versioning or replication) or PGlite's embedded
# database while the server runs (stop it first, then copy DATA_DIR: PGlite has no online dump).
#
#   DATABASE_URL=postgres://cove@127.0.0.1/cove DATA_DIR=/var/lib/cove BACKUP_DIR=/var/backups/cove deploy/backup.sh
#
# The dump is consistent on its own (one snapshot); attachments written while it runs may be newer than the dump,
# which is harmless (rows pointing at missing files are impossible, files without a row are purged later).
set -eu

: "${DATABASE_URL:?set DATABASE_URL (the server's PostgreSQL)}"
: "${DATA_DIR:?set DATA_DIR (the server's data directory)}"
: "${BACKUP_DIR:?set BACKUP_DIR (where backups go)}"

stamp=$(date -u +%Y%m%dT%H%M%SZ)
target="$BACKUP_DIR/cove-$stamp"
umask 077
mkdir -p "$target"

# --no-owner/--no-privileges: restorable into a database owned by another role.
pg_dump --format=custom --no-owner --no-privileges --file="$target/database.dump" "$DATABASE_URL"

# Staged (unfinished) uploads and PGlite's files are left out: the first are resumable only on their instance, the
# second is not in use with DATABASE_URL.
tar --create --gzip --file="$target/data.tar.gz" --directory="$DATA_DIR" \
  --exclude=./attachments-staging --exclude=./pglite .

( cd "$target" && sha256sum database.dump data.tar.gz > SHA256SUMS )
echo "$target"
