#!/bin/sh
# A streaming standby of the compose `postgres` service (docs/operations.md, "Read replicas and
# failover"): cloned with pg_basebackup on its first start, a hot standby from then on.
set -eu
if [ ! -s "${PGDATA}/PG_VERSION" ]; then
  until pg_isready -h postgres -U "${POSTGRES_USER}" -d "${POSTGRES_DB}"; do sleep 1; done
  PGPASSWORD="${POSTGRES_PASSWORD}" pg_basebackup -h postgres -U "${POSTGRES_USER}" \
    -D "${PGDATA}" -R -X stream -c fast
  chmod 0700 "${PGDATA}"
fi
# Settings of the standby's own role: the primary's command line (archiving) is not copied, and a
# standby waits for no standby of its own.
exec postgres -c hot_standby=on -c hot_standby_feedback=on -c max_connections=200 \
  -c synchronous_standby_names=
