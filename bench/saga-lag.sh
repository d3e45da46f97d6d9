#!/usr/bin/env bash
# What the saga of the bench platform is waiting on, during or after a run:
#  - every durable consumer with a lag (`oc_consumer_pending` > 0 on the admin ports' /metrics);
#  - per service and timer kind, the durable timers already due on the platform's scaled clock
#    and not fired yet, and how late the oldest is in real seconds.
# Usage: BENCH_HTTP_BASE=9401 OC_CLOCK_SCALE=3600 bench/saga-lag.sh
# The scaled clock starts with the platform; its start is taken from the pid file's mtime (to
# about a second, i.e. OC_CLOCK_SCALE seconds of clock time).
set -euo pipefail
HTTP_BASE="${BENCH_HTTP_BASE:-9201}"
SCALE="${OC_CLOCK_SCALE:-1}"
PIDFILE=/tmp/ordercycle-bench-platform.pid
services=(orders inventory payments fulfillment shipping notifications feedback analytics)
echo "consumers with a lag (oc_consumer_pending > 0):"
i=0
for s in "${services[@]}"; do
    curl -s --max-time 2 "http://127.0.0.1:$((HTTP_BASE + i))/metrics" \
        | awk -v svc="$s" '/^oc_consumer_pending\{/ && $NF > 0 { printf "  %-13s %s\n", svc, $0 }' || true
    i=$((i + 1))
done
started=$(stat -c %Y "$PIDFILE" 2>/dev/null || date +%s)
now=$(date +%s)
clock_now=$(python3 -c "print($started + ($now - $started) * $SCALE)")
echo "due timers not fired yet (clock x$SCALE):"
for s in "${services[@]}"; do
    psql -h 127.0.0.1 -U postgres -d "ordercycle_bench_$s" -qAtF ' ' -c "
        SELECT kind, count(*), round((EXTRACT(EPOCH FROM to_timestamp($clock_now) - min(fire_at)) / $SCALE)::numeric, 1)
        FROM oc_timers WHERE fired_at IS NULL AND fire_at <= to_timestamp($clock_now)
        GROUP BY kind ORDER BY kind" 2>/dev/null \
        | awk -v svc="$s" '{ printf "  %-13s %-28s %7s due, oldest %s s late\n", svc, $1, $2, $3 }' || true
done
