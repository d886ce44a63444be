# local-bases.sh: sourced by image-check.sh and compose-check.sh (BASES=local)
# on machines that reach Debian's packages, the Go module proxy and the npm
# registry but no image registry. It makes from Debian's packages, with
# mmdebstrap, the images that would otherwise be pulled; each only if it is
# not there yet. Needs DOCKER and TMP (a scratch folder) set.

LOCAL_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# with_host_ca IMAGE: this machine's CA bundle into a base image, so that
# npm and the Go command inside the build trust what the host trusts (a
# network that inspects TLS with its own CA, as these machines' does; for
# Node, NODE_EXTRA_CA_CERTS, as it keeps its own roots).
with_host_ca() {
	c=$($DOCKER create "$1" /bin/true)
	$DOCKER cp /etc/ssl/certs/ca-certificates.crt "$c:/etc/ssl/certs/ca-certificates.crt"
	$DOCKER commit --change "ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt" "$c" "$1" >/dev/null
	$DOCKER rm "$c" >/dev/null
}

need_mmdebstrap() {
	command -v mmdebstrap >/dev/null || { echo "BASES=local needs mmdebstrap (apt-get install mmdebstrap)" >&2; exit 2; }
}

# build_bases: the Dockerfile's two build stages' bases, for
# --build-arg GO_IMAGE=telltale-base/golang --build-arg NODE_IMAGE=telltale-base/node:
# Debian 12 (minbase, with git, make and CA certificates) plus this machine's
# Go toolchain (go env GOROOT) for golang:1.26-bookworm, and Debian's npm for
# the Node image.
build_bases() {
	need_mmdebstrap
	goroot=$(go env GOROOT)
	if ! $DOCKER image inspect telltale-base/golang >/dev/null 2>&1; then
		echo "local-bases: making telltale-base/golang (Debian 12 + $(go version | cut -d' ' -f3))"
		mmdebstrap --quiet --variant=minbase --include=ca-certificates,git,make \
			--customize-hook="copy-in $goroot /usr/local" bookworm "$TMP/go.tar" http://deb.debian.org/debian
		$DOCKER import --change "ENV PATH=/usr/local/go/bin:$LOCAL_PATH" --change "ENV GOPATH=/go" "$TMP/go.tar" telltale-base/golang >/dev/null
		rm "$TMP/go.tar"
		with_host_ca telltale-base/golang
	fi
	if ! $DOCKER image inspect telltale-base/node >/dev/null 2>&1; then
		echo "local-bases: making telltale-base/node (Debian 12 + npm)"
		mmdebstrap --quiet --variant=minbase --include=ca-certificates,npm bookworm "$TMP/node.tar" http://deb.debian.org/debian
		$DOCKER import --change "ENV PATH=$LOCAL_PATH" "$TMP/node.tar" telltale-base/node >/dev/null
		rm "$TMP/node.tar"
		with_host_ca telltale-base/node
	fi
}

# build_standins DIR: stand-ins for compose.yaml's postgres:17-bookworm and
# haproxy:2.8, tagged telltale-standin/postgres:17 and
# telltale-standin/haproxy (DIR/postgres.Dockerfile and
# DIR/haproxy.Dockerfile say what they are and what they are not).
build_standins() {
	need_mmdebstrap
	if ! $DOCKER image inspect telltale-standin/postgres:17 >/dev/null 2>&1; then
		echo "local-bases: making telltale-standin/postgres:17 (Debian 13 + postgresql-17)"
		mmdebstrap --quiet --variant=minbase --include=postgresql-17 \
			--essential-hook='mkdir -p "$1/etc/postgresql-common/createcluster.d" && echo "create_main_cluster = false" >"$1/etc/postgresql-common/createcluster.d/standin.conf"' \
			trixie "$TMP/pg.tar" http://deb.debian.org/debian
		$DOCKER import --change "ENV PATH=$LOCAL_PATH" "$TMP/pg.tar" telltale-standin/postgres-rootfs >/dev/null
		rm "$TMP/pg.tar"
		DOCKER_BUILDKIT=0 $DOCKER build -q -f "$1/postgres.Dockerfile" -t telltale-standin/postgres:17 "$1" >/dev/null
		$DOCKER rmi telltale-standin/postgres-rootfs >/dev/null
	fi
	if ! $DOCKER image inspect telltale-standin/haproxy >/dev/null 2>&1; then
		echo "local-bases: making telltale-standin/haproxy (Debian 12 + haproxy)"
		mmdebstrap --quiet --variant=minbase --include=haproxy bookworm "$TMP/haproxy.tar" http://deb.debian.org/debian
		$DOCKER import --change "ENV PATH=$LOCAL_PATH" "$TMP/haproxy.tar" telltale-standin/haproxy-rootfs >/dev/null
		rm "$TMP/haproxy.tar"
		DOCKER_BUILDKIT=0 $DOCKER build -q -f "$1/haproxy.Dockerfile" -t telltale-standin/haproxy "$1" >/dev/null
		$DOCKER rmi telltale-standin/haproxy-rootfs >/dev/null
	fi
}
