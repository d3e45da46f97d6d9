#!/usr/bin/env bash
# Each service's resident memory when idle, as deployed on Kubernetes: one `ordercycle serve
# <service>` process per service (all eight at once, on the benchmark's ports and databases, see
# bench/env.sh), each ready (`/readyz`), then left idle for IDLE_SECS (10) before VmRSS and
# VmHWM are read from /proc. Prints one line per service and the sum; stops them all after.
# Usage: bench/rss.sh [release|debug]
set -euo pipefail
cd "$(dirname "$0")/.."
GRPC_BASE="${BENCH_GRPC_BASE:-51051}"
HTTP_BASE="${BENCH_HTTP_BASE:-9201}"
IDLE_SECS="${IDLE_SECS:-10}"
services=(orders inventory payments fulfillment shipping notifications feedback analytics)
bin="${CARGO_TARGET_DIR:-target}/${1:-release}/ordercycle"
[ -x "$bin" ] || { echo "build it first: cargo build --${1:-release} -p ordercycle" >&2; exit 1; }
source bench/env.sh
export OC_AUTH=off

pids=()
trap 'kill -INT "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true' EXIT
for s in "${services[@]}"; do
    "$bin" serve "$s" >"/tmp/ordercycle-rss-$s.log" 2>&1 &
    pids+=($!)
done
i=0
for s in "${services[@]}"; do
    port=$((HTTP_BASE + i))
    for _ in $(seq 1 240); do
        curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
        sleep 0.5
    done
    curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null || { echo "$s is not ready" >&2; exit 1; }
    i=$((i + 1))
done
sleep "$IDLE_SECS"
total=0
printf '%-14s %10s %10s\n' service "VmRSS MiB" "VmHWM MiB"
for idx in "${!services[@]}"; do
    pid="${pids[$idx]}"
    rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")
    hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status")
    total=$((total + rss))
    printf '%-14s %10.1f %10.1f\n' "${services[$idx]}" "$(echo "$rss/1024" | bc -l)" "$(echo "$hwm/1024" | bc -l)"
done
printf '%-14s %10.1f\n' total "$(echo "$total/1024" | bc -l)"
