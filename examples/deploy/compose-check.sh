#!/bin/sh
# compose-check.sh runs compose.yaml as its header tells a user to, and
# checks it: PostgreSQL, two nodes built from the repository's Dockerfile,
# HAProxy on 127.0.0.1:8080 (which must be free). Both nodes turn healthy; the
# page, app.wasm and /healthz answer through the balancer; `telltale token`
# in a node mints a sign-in URL; a WebSocket through the balancer gets its
# welcome and its first ping (wscheck); then native clients on two streams,
# events published through the balancer's /api/v1/ingest, stay with every
# event exactly once, in order, with no second snapshot, across
# `restart node1` (SIGTERM: drained) and `kill node2` (SIGKILL)
# (resumecheck); the nodes stop with exit 0, and `down -v` leaves nothing.
#
#   examples/deploy/compose-check.sh              # pulls postgres:17-bookworm, haproxy:2.8
#   BASES=local examples/deploy/compose-check.sh  # no image registry reachable
#
# With BASES=local nothing is pulled: the Dockerfile's build stages get
# bases made from Debian's packages (local-bases.sh, as image-check.sh), and
# compose.yaml's postgres:17-bookworm and haproxy:2.8 are replaced, through
# an override file of this run only, by stand-ins made from Debian's
# packages (standin/*.Dockerfile: PostgreSQL 17 of Debian 13, HAProxy 2.6 of
# Debian 12). compose.yaml itself is run as it is. COMPOSE is the compose
# command (default: docker-compose, Debian 12's 1.29, else docker compose);
# PROJECT the compose project (default telltalecheck; it is taken down and
# its volume removed at the end, KEEP=1 leaves it up). NOBUILD=1 runs `up
# -d` on the telltale:local image already built instead of `up --build -d`.
# It takes minutes: not part of make test. Run from the repository's root.
set -eu

DOCKER=${DOCKER:-docker}
if [ -z "${COMPOSE:-}" ]; then
	if command -v docker-compose >/dev/null; then COMPOSE=docker-compose; else COMPOSE="docker compose"; fi
fi
PROJECT=${PROJECT:-telltalecheck}
PORT=8080 # compose.yaml's
TMP=$(mktemp -d)
dir=examples/deploy
files="-f $dir/compose.yaml"
dc() {
	# shellcheck disable=SC2086
	$COMPOSE -p "$PROJECT" $files "$@"
}
cleanup() {
	if [ "${KEEP:-}" != 1 ]; then
		dc down -v --remove-orphans >/dev/null 2>&1 || true
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

$DOCKER version >/dev/null || { echo "compose-check.sh: no Docker engine answers ($DOCKER version)" >&2; exit 2; }
$COMPOSE version >/dev/null || { echo "compose-check.sh: no $COMPOSE" >&2; exit 2; }
if curl -s -o /dev/null "http://127.0.0.1:$PORT/"; then
	echo "compose-check.sh: 127.0.0.1:$PORT is taken" >&2
	exit 2
fi

fail=0
ok() { echo "PASS $*"; }
bad() { echo "FAIL $*"; fail=1; }
now() { date +%s.%N; }
took() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f s", b - a }'; }

# shellcheck source=examples/deploy/local-bases.sh
. "$dir/local-bases.sh"
if [ "${BASES:-}" = local ]; then
	t=$(now)
	build_bases
	build_standins "$dir/standin"
	echo "compose-check.sh: local bases and stand-ins ready ($(took "$t"))"
	cat >"$TMP/standin.yaml" <<-EOF
		# compose-check.sh's override (BASES=local): stand-ins for the
		# images compose.yaml pulls, and the build stages' local bases.
		x-build: &build
		  build:
		    context: $PWD
		    args:
		      GO_IMAGE: telltale-base/golang
		      NODE_IMAGE: telltale-base/node
		services:
		  postgres:
		    image: telltale-standin/postgres:17
		  lb:
		    image: telltale-standin/haproxy
		  node1: *build
		  node2: *build
	EOF
	files="$files -f $TMP/standin.yaml"
fi

echo "compose-check.sh: building resumecheck and wscheck"
go build -o "$TMP/resumecheck" ./$dir/resumecheck
go build -o "$TMP/wscheck" ./$dir/wscheck

# As compose.yaml's header says.
POSTGRES_PASSWORD=$(openssl rand -hex 16)
TELLTALE_JWT_SECRET=$(openssl rand -hex 32)
export POSTGRES_PASSWORD TELLTALE_JWT_SECRET
export TELLTALE_GIT_DESCRIBE="$(git describe --always --dirty 2>/dev/null || echo check)"
t=$(now)
build=--build
[ "${NOBUILD:-}" != 1 ] || build=""
dc up $build -d
echo "compose-check.sh: up $build -d returned after $(took "$t")"

# healthy NAME: wait until the service's container reports healthy.
healthy() {
	c=$(dc ps -q "$1")
	i=0
	while :; do
		h=$($DOCKER inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "$c")
		[ "$h" != healthy ] || return 0
		i=$((i + 1))
		if [ $i -ge 120 ]; then
			$DOCKER logs --tail 30 "$c" >&2
			echo "$1: $h after 120 s" >&2
			return 1
		fi
		sleep 1
	done
}
for s in postgres node1 node2; do
	if healthy $s; then ok "$s healthy ($(took "$t") after up)"; else bad "$s never healthy"; fi
done
[ $fail -eq 0 ] || exit 1

base=http://127.0.0.1:$PORT
i=0
until curl -fs -o /dev/null "$base/healthz"; do
	i=$((i + 1))
	[ $i -lt 100 ] || { dc logs --tail 30 lb >&2; bad "no /healthz through the balancer after 10 s"; exit 1; }
	sleep 0.1
done
health=$(curl -s "$base/healthz")
case $health in *'"store":"postgres"'*) ok "/healthz through the balancer: $health" ;; *) bad "/healthz $health, want store postgres" ;; esac
page=$(curl -s -o /dev/null -w '%{http_code} %{content_type}' "$base/")
case $page in "200 text/html"*) ok "/ through the balancer: $page" ;; *) bad "/ $page" ;; esac
enc=$(curl -s -o /dev/null -D - -H 'Accept-Encoding: br' "$base/web/app.wasm" | tr -d '\r' | grep -i '^content-encoding:' || true)
case $enc in *br*) ok "app.wasm brotli" ;; *) bad "app.wasm not sent precompressed ($enc)" ;; esac

# The sign-in URL, as the header says (-T: no terminal here).
url=$(dc exec -T node1 telltale token -tenant acme -sub you -url "http://localhost:$PORT/")
case $url in "http://localhost:$PORT/"*) ok "telltale token -url: ${url%%#*}#…" ;; *) bad "telltale token -url printed: $url" ;; esac
token=$(dc exec -T node1 telltale token -tenant acme -sub compose-check)
key=$(dc exec -T node2 telltale ingest-key -tenant acme -label compose-check)
[ -n "$token" ] && [ -n "$key" ] && ok "token and ingest key minted in the nodes" || bad "no token or ingest key"

if "$TMP/wscheck" -url "$base" -token "$token"; then ok "WebSocket through the balancer: welcome and ping"; else bad "wscheck through the balancer"; fi

t=$(now)
if "$TMP/resumecheck" -url "$base" -token "$token" -key "$key" \
	-step "$COMPOSE -p $PROJECT $files restart node1" \
	-step "$COMPOSE -p $PROJECT $files kill node2"; then
	ok "resumecheck: restart node1, kill node2 ($(took "$t"))"
else
	bad "resumecheck"
fi
n2=$(dc ps -q node2)
echo "compose-check.sh: node2 after the kill: $($DOCKER inspect -f '{{.State.Status}} exit {{.State.ExitCode}}, restarts {{.RestartCount}}' "$n2")"
dc start node2
if healthy node2; then ok "node2 healthy again after start"; else bad "node2 not healthy after start"; fi

echo "compose-check.sh: images"
for img in $(dc config 2>/dev/null | awk '$1 == "image:" { print $2 }' | sort -u); do
	echo "  $img $($DOCKER image inspect -f '{{.Size}}' "$img") bytes"
done

t=$(now)
dc stop
echo "compose-check.sh: stop took $(took "$t")"
for s in node1 node2; do
	code=$($DOCKER inspect -f '{{.State.ExitCode}}' "$(dc ps -q $s)")
	[ "$code" = 0 ] && ok "$s exited 0 on stop (SIGTERM)" || { dc logs --tail 20 $s; bad "$s exited $code on stop"; }
done
if [ "${KEEP:-}" != 1 ]; then
	net=$($DOCKER network ls -q -f "name=${PROJECT}_telltale")
	t=$(now)
	dc down -v --remove-orphans
	echo "compose-check.sh: down -v took $(took "$t")"
	left=$($DOCKER ps -aq -f "label=com.docker.compose.project=$PROJECT")
	[ -z "$left" ] && [ -z "$($DOCKER network ls -q -f "id=${net:-none}")" ] && [ -z "$($DOCKER volume ls -q -f "label=com.docker.compose.project=$PROJECT")" ] &&
		ok "down -v left no container, network or volume" || bad "down -v left: $left"
fi

[ $fail -eq 0 ] || { echo "compose-check.sh: FAILED"; exit 1; }
echo "compose-check.sh: all passed"
