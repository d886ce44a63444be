# A STAND-IN for compose.yaml's postgres:17-bookworm, made by
# examples/deploy/compose-check.sh (BASES=local) on machines that reach
# Debian's packages but no image registry; never pushed, tagged
# telltale-standin/postgres:17 and put in place by the check's own override
# file only. PostgreSQL 17 is Debian 13's (Debian 12 ships 15), so the base
# is trixie, not bookworm. ROOTFS is Debian 13 minbase with postgresql-17,
# imported by the script. What compose.yaml relies on is as in the official
# image: POSTGRES_USER, POSTGRES_PASSWORD and POSTGRES_DB on first start,
# the data in /var/lib/postgresql/data, pg_isready on PATH, port 5432, and
# SIGINT (fast shutdown) to stop.
ARG ROOTFS=telltale-standin/postgres-rootfs
FROM ${ROOTFS}
COPY postgres-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
ENV PATH=/usr/lib/postgresql/17/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PGDATA=/var/lib/postgresql/data \
    LANG=C.UTF-8
VOLUME /var/lib/postgresql/data
EXPOSE 5432
STOPSIGNAL SIGINT
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["postgres"]
