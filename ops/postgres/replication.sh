#!/bin/sh
# Run once, when the primary's data directory is created (/docker-entrypoint-initdb.d): standbys on
# the compose network may stream WAL as the database user, with its password.
set -eu
echo "host replication ${POSTGRES_USER} samenet scram-sha-256" >> "${PGDATA}/pg_hba.conf"
