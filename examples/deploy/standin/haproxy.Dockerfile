# A STAND-IN for compose.yaml's haproxy:2.8, made by
# examples/deploy/compose-check.sh (BASES=local) on machines that reach
# Debian's packages but no image registry; never pushed, tagged
# telltale-standin/haproxy and put in place by the check's own override
# file only. HAProxy is Debian 12's, 2.6 (no Debian release ships 2.8; the
# config must hold on 2.6 and later). ROOTFS is Debian 12 minbase with
# haproxy, imported by the script. As in the official image: the config at
# /usr/local/etc/haproxy/haproxy.cfg, run by user haproxy (not root) in the
# foreground in master-worker mode, stopped gracefully with SIGUSR1.
ARG ROOTFS=telltale-standin/haproxy-rootfs
FROM ${ROOTFS}
RUN mkdir -p /usr/local/etc/haproxy /var/lib/haproxy && chown haproxy:haproxy /var/lib/haproxy
USER haproxy
WORKDIR /var/lib/haproxy
STOPSIGNAL SIGUSR1
CMD ["haproxy", "-W", "-db", "-f", "/usr/local/etc/haproxy/haproxy.cfg"]
