#!/bin/sh
# image-check.sh builds the repository's Dockerfile and runs the image: the
# page, /healthz, app.wasm precompressed, the HEALTHCHECK turning healthy,
# a user that is not root, and, when PostgreSQL answers on 127.0.0.1:5432,
# a node on it (a throwaway database).
#
#   examples/deploy/image-check.sh             # needs a running Docker engine
#   BASES=local examples/deploy/image-check.sh # no image registry reachable
#
# With BASES=local the two build stages' base images (GO_IMAGE, NODE_IMAGE)
# are made from Debian's packages instead of pulled (local-bases.sh): Debian 12 (minbase,
# with git, make and CA certificates) plus this machine's Go toolchain
# (go env GOROOT) for golang:1.26-bookworm, and Debian's npm for the Node
# image. That is how the image was built on machines that reach Debian, the
# Go module proxy and the npm registry but no image registry
# (docs/DEPLOY.md, "Docker and compose"); the final stage is FROM scratch
# either way. The build uses the host's network (--network host), so the
# engine needs no bridge. It takes minutes: not part of make test. Run from
# the repository's root.
set -eu

DOCKER=${DOCKER:-docker}
TAG=${TAG:-telltale:check}
TMP=$(mktemp -d)
CTR=""
DB=""
cleanup() {
	[ -z "$CTR" ] || $DOCKER rm -f "$CTR" >/dev/null 2>&1 || true
	[ -z "$DB" ] || dropdb -h 127.0.0.1 -U postgres --if-exists "$DB" || true
	rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

$DOCKER version >/dev/null || { echo "image-check.sh: no Docker engine answers ($DOCKER version)" >&2; exit 2; }

# shellcheck source=examples/deploy/local-bases.sh
. "$(dirname "$0")/local-bases.sh"
args=""
if [ "${BASES:-}" = local ]; then
	build_bases
	args="--build-arg GO_IMAGE=telltale-base/golang --build-arg NODE_IMAGE=telltale-base/node"
fi

echo "image-check.sh: docker build"
# shellcheck disable=SC2086
DOCKER_BUILDKIT=${DOCKER_BUILDKIT:-0} $DOCKER build --network host $args \
	--build-arg GIT_DESCRIBE="$(git describe --always --dirty 2>/dev/null || echo check)" -t "$TAG" .

fail=0
ok() { echo "PASS $*"; }
bad() { echo "FAIL $*"; fail=1; }

user=$($DOCKER image inspect -f '{{.Config.User}}' "$TAG")
case $user in "" | 0 | 0:* | root | root:*) bad "the image runs as root ($user)" ;; *) ok "user $user" ;; esac
size=$($DOCKER image inspect -f '{{.Size}}' "$TAG")
echo "image-check.sh: $TAG is $size bytes"
$DOCKER run --rm "$TAG" version

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
envs="-e TELLTALE_ADDR=127.0.0.1:$port -e TELLTALE_JWT_SECRET=$(openssl rand -hex 32)"
if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
	DB=telltale_image_check_$$
	createdb -h 127.0.0.1 -U postgres "$DB"
	envs="$envs -e DATABASE_URL=postgres://postgres@127.0.0.1:5432/$DB -e TELLTALE_DEMO=false"
	store=postgres
else
	store=memory
fi
# shellcheck disable=SC2086
CTR=$($DOCKER run -d --network host $envs "$TAG")
base=http://127.0.0.1:$port
i=0
until curl -fs -o /dev/null "$base/healthz"; do
	i=$((i + 1))
	if [ $i -ge 300 ] || [ "$($DOCKER inspect -f '{{.State.Running}}' "$CTR")" != true ]; then
		$DOCKER logs "$CTR" >&2
		bad "the container never answered /healthz"
		exit 1
	fi
	sleep 0.1
done
health=$(curl -s "$base/healthz")
case $health in *"\"store\":\"$store\""*) ok "/healthz $health" ;; *) bad "/healthz $health, want store $store" ;; esac
page=$(curl -s -o /dev/null -w '%{http_code} %{content_type}' "$base/")
case $page in "200 text/html"*) ok "/ $page" ;; *) bad "/ $page" ;; esac
wasm=$(curl -s -o /dev/null -H 'Accept-Encoding: br' -w '%{http_code} %{size_download}' "$base/web/app.wasm")
enc=$(curl -s -o /dev/null -D - -H 'Accept-Encoding: br' "$base/web/app.wasm" | tr -d '\r' | grep -i '^content-encoding:' || true)
case $enc in *br*) ok "app.wasm brotli ($wasm)" ;; *) bad "app.wasm not sent precompressed ($wasm; $enc)" ;; esac
uplot=$(curl -s -o /dev/null -w '%{http_code}' "$base/web/uplot/uPlot.iife.min.js")
[ "$uplot" = 200 ] && ok "uPlot" || bad "uPlot: $uplot"
if $DOCKER exec "$CTR" telltale healthcheck >/dev/null; then ok "telltale healthcheck in the container"; else bad "telltale healthcheck in the container"; fi
$DOCKER cp "$CTR:/etc/ssl/certs/ca-certificates.crt" "$TMP/ca.crt" && [ -s "$TMP/ca.crt" ] && ok "CA certificates" || bad "no CA certificates"
i=0
while :; do
	status=$($DOCKER inspect -f '{{.State.Health.Status}}' "$CTR")
	[ "$status" != healthy ] || { ok "HEALTHCHECK: healthy"; break; }
	i=$((i + 1))
	[ $i -lt 60 ] || { bad "HEALTHCHECK: $status after 60 s"; break; }
	sleep 1
done
# SIGTERM ends it cleanly (exit 0) well within compose's 30 s.
$DOCKER stop -t 30 "$CTR" >/dev/null
code=$($DOCKER inspect -f '{{.State.ExitCode}}' "$CTR")
[ "$code" = 0 ] && ok "stopped with exit 0 on SIGTERM" || { $DOCKER logs "$CTR" 2>&1 | tail -20; bad "exit $code on SIGTERM"; }

[ $fail -eq 0 ] || { echo "image-check.sh: FAILED"; exit 1; }
echo "image-check.sh: all passed ($store store)"
