#!/bin/sh
# check.sh runs examples/deploy's proxy configs (nginx.conf, haproxy.cfg,
# Caddyfile) on loopback ports in front of bin/telltale, and checks through
# each that the page, /healthz and the live WebSocket pass: the upgrade, the
# origin check (the Host header), the welcome, and the server's first ping
# 15 s later (a proxy timing out idle tunnels fails it), and, at the same
# time, a long-poll held 25 s (a proxy timing it out fails). nginx and HAProxy
# run with TLS (a throwaway self-signed certificate), Caddy over plain HTTP.
# Through nginx and HAProxy, a burst of requests for /api/v1/ws must meet
# the per-address limit the example sets (429). Through a second copy of
# each proxy, in front of a second server that trusts it
# (-trusted-proxies), two clients from their own loopback addresses
# (127.0.N.2, 127.0.N.3) must each get the server's per-address budget, and
# a forged X-Forwarded-For none. It also runs
# systemd-analyze verify on telltale.service when installed, and haproxy -c
# on compose-haproxy.cfg.
#
#   make build   # or: go build -o bin/telltale ./backend/cmd/telltale
#   examples/deploy/check.sh [nginx] [haproxy] [caddy]   # default: all three
#
# A proxy asked for but not installed is an error, not a skip
# (apt-get install nginx-light haproxy caddy). Env: TELLTALE_BIN (default
# bin/telltale), TELLTALE_WEB_DIR (default static, which needs make build's
# app.wasm). It uses the embedded
# store and the demo feed, not PostgreSQL. Run from the repository's root.
set -eu

BIN=${TELLTALE_BIN:-$PWD/bin/telltale}
WEB=${TELLTALE_WEB_DIR:-$PWD/static}
HERE=$(cd "$(dirname "$0")" && pwd)
PROXIES=${*:-nginx haproxy caddy}

[ -x "$BIN" ] || { echo "check.sh: no $BIN: run make build first (or set TELLTALE_BIN)" >&2; exit 2; }
# limited NAME BASE-URL [CA]: 120 requests for /api/v1/ws at once from one
# address meet the proxy's limit on new WebSockets (429) past its burst.
limited() {
	name=$1 base=$2 cacurl=""
	[ -z "${3:-}" ] || cacurl="--cacert $3"
	# shellcheck disable=SC2086
	codes=$(seq 120 | sed "s|.*|url = \"$base/api/v1/ws\"\noutput = \"/dev/null\"|" |
		curl -s -w '%{http_code}\n' $cacurl --parallel --parallel-max 20 -K - | sort | uniq -c | tr -s ' \n' ' ')
	case $codes in
	*" 429"*) echo "PASS $name: per-address limit on new WebSockets (status counts:$codes)" ;;
	*) echo "FAIL $name: 120 requests for /api/v1/ws at once were never refused with 429 (status counts:$codes)"; fail=1 ;;
	esac
}

for p in $PROXIES; do
	case $p in
	nginx) want=nginx pkg=nginx-light ;;
	haproxy) want=haproxy pkg=haproxy ;;
	caddy) want=caddy pkg=caddy ;;
	*) echo "check.sh: unknown proxy $p (nginx, haproxy or caddy)" >&2; exit 2 ;;
	esac
	PATH=$PATH:/usr/sbin command -v $want >/dev/null ||
		{ echo "check.sh: $want is not installed: apt-get install $pkg (or name only the proxies you have)" >&2; exit 2; }
done
PATH=$PATH:/usr/sbin

TMP=$(mktemp -d)
PIDS=""
cleanup() {
	for pid in $PIDS; do kill "$pid" 2>/dev/null || true; done
	for pid in $PIDS; do wait "$pid" 2>/dev/null || true; done
	rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_http URL [curl options]: until the URL answers at all (any status), at
# most 20 s, while telltale runs.
wait_http() {
	url=$1; shift
	i=0
	until curl -s -o /dev/null "$@" "$url"; do
		i=$((i + 1))
		if [ $i -ge 200 ] || ! kill -0 "$SERVER_PID" 2>/dev/null; then
			echo "check.sh: $url never answered; telltale's log:" >&2
			cat "$TMP/telltale.log" >&2
			return 1
		fi
		sleep 0.1
	done
}

# The systemd unit, with its paths pointed at this build.
if command -v systemd-analyze >/dev/null; then
	sed -e "s|/usr/local/bin/telltale|$BIN|" -e "s|/etc/telltale/telltale.env|$HERE/telltale.env|" \
		"$HERE/telltale.service" >"$TMP/telltale.service"
	if systemd-analyze verify "$TMP/telltale.service"; then
		echo "PASS telltale.service (systemd-analyze verify)"
	else
		echo "FAIL telltale.service (systemd-analyze verify)"
		exit 1
	fi
else
	echo "NOT CHECKED telltale.service: systemd-analyze is not installed"
fi

# compose.yaml's load balancer config (its node names resolve only in
# compose: HAProxy starts without them, init-addr none).
case " $PROXIES " in
*" haproxy "*)
	if haproxy -q -c -f "$HERE/compose-haproxy.cfg"; then
		echo "PASS compose-haproxy.cfg (haproxy -c)"
	else
		echo "FAIL compose-haproxy.cfg (haproxy -c)"
		exit 1
	fi
	;;
esac

echo "check.sh: building the WebSocket check"
go build -o "$TMP/wscheck" github.com/telltale/telltale/examples/deploy/wscheck

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
	-subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
	-keyout "$TMP/key.pem" -out "$TMP/cert.pem" 2>/dev/null
cat "$TMP/cert.pem" "$TMP/key.pem" >"$TMP/haproxy.pem"

SECRET=$(openssl rand -hex 32)
UP=$(free_port)
TELLTALE_JWT_SECRET=$SECRET "$BIN" -addr 127.0.0.1:$UP -web "$WEB" -log-level warn -drain-delay 0 >"$TMP/telltale.log" 2>&1 &
SERVER_PID=$!
PIDS="$PIDS $SERVER_PID"
wait_http "http://127.0.0.1:$UP/healthz"
TOKEN=$(TELLTALE_JWT_SECRET=$SECRET "$BIN" token -tenant demo -sub deploy-check -ttl 10m)

# rewritten FILE PORT UPSTREAM: the example's address lines were all
# rewritten (an example changed without this script would otherwise be
# checked on the wrong ports).
rewritten() {
	if ! grep -q "localhost:$2\|127.0.0.1:$2" "$1" || ! grep -q "127.0.0.1:$3" "$1"; then
		echo "check.sh: $1 was not rewritten to ports $2 and $3: update check.sh with the example" >&2
		exit 1
	fi
}

# A second server, for the client addresses' check: it trusts the proxies
# on 127.0.0.1 (as telltale.env does) and gives each client address a burst
# of 3 new WebSockets, refilled one per 100 s.
UP2=$(free_port)
TELLTALE_JWT_SECRET=$SECRET "$BIN" -addr 127.0.0.1:$UP2 -web "$WEB" -log-level warn -drain-delay 0 -demo=false \
	-trusted-proxies 127.0.0.1 -conn-burst 3 -conn-rate 0.01 >"$TMP/telltale2.log" 2>&1 &
PIDS="$PIDS $!"
wait_http "http://127.0.0.1:$UP2/healthz"

# budgets NAME BASE-URL NET [CA]: through the proxy at BASE-URL, in front of
# the second server, client NET.2 (a source address on loopback) gets its
# burst of 3 and then 429, also when it forges an X-Forwarded-For, while
# client NET.3 behind the same proxy still gets its own 3; and NET.2 asking
# the server straight (a peer it does not trust) with a forged header is
# keyed on its own address, spent: 429.
budgets() {
	name=$1 base=$2 a=$3.2 b=$3.3 cacurl=""
	[ -z "${4:-}" ] || cacurl="--cacert $4"
	got=""
	for req in "$a" "$a" "$a" "$a" "$a 127.0.0.9" "$b" "$b" "$b" "$a 127.0.0.8 direct"; do
		set -- $req
		url=$base
		[ -z "${3:-}" ] || url=http://127.0.0.1:$UP2
		# HTTP/1.1: over HTTP/2, nginx's relay of the server's 426 is a
		# stream error to curl.
		# shellcheck disable=SC2086
		got="$got $(curl -4 --http1.1 -s -o /dev/null -w '%{http_code}' $cacurl --interface "$1" ${2:+-H "X-Forwarded-For: $2"} "$url/api/v1/ws")"
	done
	want=" 426 426 426 429 429 426 426 426 429"
	if [ "$got" = "$want" ]; then
		echo "PASS $name: a budget per client behind the proxy, none for a forged X-Forwarded-For (statuses:$got)"
	else
		echo "FAIL $name: client addresses: statuses$got, want$want (426: within the client's budget, 429: past it)"
		fail=1
	fi
}

fail=0
# check NAME BASE-URL [curl/wscheck CA option]: the page, /healthz and the WebSocket through BASE-URL.
check() {
	name=$1 base=$2 ca=${3:-}
	cacurl="" ; caws=""
	[ -z "$ca" ] || { cacurl="--cacert $ca"; caws="-cacert $ca"; }
	# shellcheck disable=SC2086
	wait_http "$base/healthz" $cacurl
	# shellcheck disable=SC2086
	health=$(curl -sS $cacurl "$base/healthz")
	# shellcheck disable=SC2086
	page=$(curl -sS -o /dev/null -w '%{http_code} %{content_type}' $cacurl "$base/")
	case $health in *'"status":"ok"'*) ;; *) echo "FAIL $name: /healthz answered $health"; fail=1; return ;; esac
	case $page in "200 text/html"*) ;; *) echo "FAIL $name: / answered $page"; fail=1; return ;; esac
	echo "$name: /healthz $health"
	echo "$name: / $page"
	# A long-poll held 25 s (a stream nobody writes), alongside the WebSocket:
	# a proxy with a shorter read timeout answers 504 before the server's 200.
	# shellcheck disable=SC2086
	curl -sS -o /dev/null -w '%{http_code} %{time_total}' $cacurl -H "Authorization: Bearer $TOKEN" \
		"$base/api/v1/streams/deploy-check-quiet/events?epoch=0&after=0&wait=25s" >"$TMP/poll-$name" 2>&1 &
	poll=$!
	# shellcheck disable=SC2086
	if "$TMP/wscheck" -url "$base" -token "$TOKEN" $caws; then
		ws=ok
	else
		ws=failed
	fi
	wait $poll || true
	read -r code secs <"$TMP/poll-$name" || true
	echo "$name: long-poll (wait=25s): HTTP $code after ${secs}s"
	case $code:$secs in
	200:2[4-9].* | 200:3[0-9].*) polled=ok ;;
	*) polled=failed ;;
	esac
	if [ $ws = ok ] && [ $polled = ok ]; then
		echo "PASS $name"
	else
		echo "FAIL $name: WebSocket $ws, long-poll $polled (logs in the lines above)"
		fail=1
	fi
}

# start_proxy NAME PORT UPSTREAM: runs proxy NAME's example on loopback
# PORT in front of the server on loopback port UPSTREAM, its files in
# $TMP/NAME-PORT, and prints the base URL to reach it at (any CA option
# after it).
start_proxy() {
	name=$1 port=$2 up=$3 dir=$TMP/$1-$2
	mkdir -p "$dir"
	case $name in
	nginx)
		{
			echo "pid $dir/nginx.pid; error_log $dir/error.log; events {}"
			echo "http { access_log off;"
			# The site as it is, on a loopback port with the throwaway certificate,
			# without the redirect from port 80.
			sed -e "s|listen 443 ssl http2;|listen 127.0.0.1:$port ssl http2;|" \
				-e "s|server 127.0.0.1:8080;|server 127.0.0.1:$up;|" \
				-e "s|/etc/ssl/telltale/fullchain.pem|$TMP/cert.pem|" \
				-e "s|/etc/ssl/telltale/privkey.pem|$TMP/key.pem|" \
				-e '/^# Redirect plain HTTP/,$d' "$HERE/nginx.conf"
			echo "}"
		} >"$dir/nginx.conf"
		rewritten "$dir/nginx.conf" "$port" "$up"
		nginx -t -q -p "$dir" -c "$dir/nginx.conf" >&2
		nginx -p "$dir" -c "$dir/nginx.conf" -g 'daemon off;' >&2 &
		PIDS="$PIDS $!"
		echo "https://localhost:$port $TMP/cert.pem"
		;;
	haproxy)
		sed -e "s|bind :443 ssl crt /etc/ssl/telltale/telltale.pem|bind 127.0.0.1:$port ssl crt $TMP/haproxy.pem|" \
			-e '/bind :80/d' -e '/redirect scheme https/d' \
			-e "s|127.0.0.1:8080|127.0.0.1:$up|" "$HERE/haproxy.cfg" >"$dir/haproxy.cfg"
		rewritten "$dir/haproxy.cfg" "$port" "$up"
		haproxy -q -c -f "$dir/haproxy.cfg" >&2
		haproxy -db -f "$dir/haproxy.cfg" >"$dir/haproxy.log" 2>&1 &
		PIDS="$PIDS $!"
		echo "https://localhost:$port $TMP/cert.pem"
		;;
	caddy)
		{
			echo "{"
			echo "	admin off"
			echo "	storage file_system $dir/data"
			echo "}"
			sed -e "s|^telltale.example.com {|http://localhost:$port {|" \
				-e "s|reverse_proxy 127.0.0.1:8080|reverse_proxy 127.0.0.1:$up|" "$HERE/Caddyfile"
		} >"$dir/Caddyfile"
		rewritten "$dir/Caddyfile" "$port" "$up"
		XDG_DATA_HOME=$dir XDG_CONFIG_HOME=$dir caddy validate --config "$dir/Caddyfile" --adapter caddyfile >/dev/null 2>&1 ||
			{ caddy validate --config "$dir/Caddyfile" --adapter caddyfile >&2; exit 1; }
		XDG_DATA_HOME=$dir XDG_CONFIG_HOME=$dir caddy run --config "$dir/Caddyfile" --adapter caddyfile >"$dir/caddy.log" 2>&1 &
		PIDS="$PIDS $!"
		echo "http://localhost:$port"
		;;
	esac
}

n=0
for p in $PROXIES; do
	# Not base=$(start_proxy …): its subshell would keep the proxy's PID
	# from cleanup.
	start_proxy "$p" "$(free_port)" "$UP" >"$TMP/url"
	read -r base ca <"$TMP/url"
	check "$p" "$base" "$ca"
	case $p in nginx | haproxy) limited "$p" "$base" "$ca" ;; esac
	# The client addresses' check, through a second copy of the proxy in
	# front of the second server, from client addresses of its own.
	n=$((n + 1))
	start_proxy "$p" "$(free_port)" "$UP2" >"$TMP/url"
	read -r base ca <"$TMP/url"
	wait_http "$base/healthz" ${ca:+--cacert "$ca"}
	budgets "$p" "$base" "127.0.$n" "$ca"
done

if [ $fail -ne 0 ]; then
	echo "check.sh: FAILED; telltale's log:" >&2
	cat "$TMP/telltale.log" >&2
	exit 1
fi
echo "check.sh: all passed ($PROXIES)"
