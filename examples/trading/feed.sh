#!/bin/sh
# Feeds the trading desk over HTTP, one tick a second: a position's price
# moves, the desk's P&L and exposure, and a second of order latencies.
#
#   TELLTALE_URL=http://localhost:8080 KEY=… examples/trading/feed.sh        # forever
#   TICKS=3 … examples/trading/feed.sh                                        # three ticks
#
# KEY is an ingest key of the tenant: `bin/telltale ingest-key -tenant acme`
# with PostgreSQL, or the key given to `-ingest-keys acme:KEY` on the
# embedded store. Needs curl and awk.
set -eu
URL=${TELLTALE_URL:-http://localhost:8080}
: "${KEY:?set KEY to an ingest key of the tenant}"
TICKS=${TICKS:-0}
tick=0
while [ "$TICKS" = 0 ] || [ "$tick" -lt "$TICKS" ]; do
	tick=$((tick + 1))
	body=$(awk -v seed="$$$tick" -v now="$(date +%s)" 'BEGIN {
		srand(seed)
		split("AAPL MSFT NVDA AMZN ASML SAP TSLA JPM", sym, " ")
		split("1200 -800 500 2000 -300 900 -1500 700", qty, " ")
		split("190 410 120 180 700 170 240 200", avg, " ")
		pnl = 0; exposure = 0; rows = ""
		for (i = 1; i <= 8; i++) {
			last = avg[i] * (1 + (rand() - 0.5) * 0.04)
			p = (last - avg[i]) * qty[i]
			pnl += p; exposure += (qty[i] < 0 ? -qty[i] : qty[i]) * last
			rows = rows sprintf("{\"stream\": \"positions\", \"row\": {\"key\": \"%s\", \"fields\": {\"symbol\": \"%s\", \"qty\": %d, \"avg_price\": %.2f, \"last\": %.2f, \"pnl\": %.0f}}},", sym[i], sym[i], qty[i], avg[i], last, p)
		}
		# 20 fills in the last second: log-normal latencies around 4 ms.
		ts = ""; ms = ""
		for (i = 0; i < 20; i++) {
			z = sqrt(-2 * log(rand() + 1e-9)) * cos(6.2831853 * rand())
			ts = ts (i ? "," : "") sprintf("%d", now * 1000 - 1000 + i * 50)
			ms = ms (i ? "," : "") sprintf("%.1f", 4 * exp(0.6 * z))
		}
		printf "{\"events\": [%s", rows
		printf "{\"stream\": \"desk\", \"values\": {\"pnl\": %.0f, \"exposure\": %.0f}},", pnl, exposure
		printf "{\"stream\": \"latency\", \"points\": {\"ts\": [%s], \"cols\": [{\"name\": \"order_ms\", \"vals\": [%s]}]}}]}\n", ts, ms
	}')
	curl -sS --fail-with-body -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
		--data-binary "$body" "$URL/api/v1/ingest" >/dev/null
	[ "$TICKS" != 0 ] && [ "$tick" -ge "$TICKS" ] || sleep 1
done
