#!/bin/sh
# The compose `backup` service: create the stanza once, check that WAL reaches the repository, then
# a full backup every Sunday and a differential every other day, at BACKUP_HOUR (UTC).
set -eu
HOUR="${BACKUP_HOUR:-03}"
until pg_isready -h /var/run/postgresql -U ironlog -d ironlog >/dev/null 2>&1; do sleep 2; done
pgbackrest --stanza=ironlog stanza-create
pgbackrest --stanza=ironlog check
if ! pgbackrest --stanza=ironlog info --output=json | grep -q '"label"'; then
  pgbackrest --stanza=ironlog --type=full backup     # the first backup, at once
fi
while true; do
  sleep 3600
  [ "$(date -u +%H)" = "$HOUR" ] || continue
  if [ "$(date -u +%u)" = 7 ]; then kind=full; else kind=diff; fi
  pgbackrest --stanza=ironlog --type="$kind" backup || echo "backup ($kind) failed" >&2
done
