#!/usr/bin/env bash
# Starts `ordercycle up` for the benchmark on its own ports (gRPC 51051–51058 by default, HTTP 9201–9208),
# subject root `bench` and freshly recreated databases, so it never meets a developer's platform
# or the test suites. Usage:
#   bench/platform.sh start [release|debug] [OC_VAR=value ...]
#       # prints the pid; log in /tmp/ordercycle-bench-platform.log
#   bench/platform.sh stop
# Any `OC_…=value` argument (or `OC_…` variable in the caller's environment) is passed to the
# platform, e.g. a fast clock for the whole cycle:
#   bench/platform.sh start release OC_CLOCK_SCALE=3600 OC_ORDERS_AUTO_ACCEPT_SECS=3600
# except the ones this script sets for isolation (subject root, addresses, databases), which win.
# The binary is `${CARGO_TARGET_DIR:-target}/<profile>/ordercycle`.
set -euo pipefail
cd "$(dirname "$0")/.."
PIDFILE=/tmp/ordercycle-bench-platform.pid
LOG=/tmp/ordercycle-bench-platform.log
# BENCH_GRPC_BASE moves the gRPC ports (e.g. 21051, below the ephemeral range), BENCH_HTTP_BASE
# the admin ports (/metrics, /healthz, /readyz).
GRPC_BASE="${BENCH_GRPC_BASE:-51051}"
HTTP_BASE="${BENCH_HTTP_BASE:-9201}"
services=(orders inventory payments fulfillment shipping notifications feedback analytics)

case "${1:-}" in
start)
    profile="${2:-release}"
    bin="${CARGO_TARGET_DIR:-target}/$profile/ordercycle"
    for kv in "${@:3}"; do
        [[ "$kv" =~ ^OC_[A-Z0-9_]+=.*$ ]] || { echo "not an OC_VAR=value setting: $kv" >&2; exit 2; }
        export "${kv?}"
    done
    [ -x "$bin" ] || { echo "build it first: cargo build --$profile -p ordercycle" >&2; exit 1; }
    # The bench's own databases (`ordercycle_bench_<service>`): never the default
    # `ordercycle_<service>` a developer's `ordercycle up` on the same server uses.
    for s in "${services[@]}"; do
        psql -h 127.0.0.1 -U postgres -d postgres -qAtc "DROP DATABASE IF EXISTS ordercycle_bench_$s WITH (FORCE)"
    done
    # JetStream outlives the databases: without this, a "fresh" platform first replays the
    # previous run's unacknowledged events (durable consumers) against the new, empty databases.
    # Deletes only the streams (and with them the consumers) of the subject root `bench`.
    python3 - "${services[@]}" dlq <<'PY'
import json, socket, sys
s = socket.create_connection(("127.0.0.1", 4222), timeout=5)
f = s.makefile("rb")
f.readline()  # INFO
s.sendall(b'CONNECT {"verbose":false,"headers":true}\r\nSUB _bench_reply 1\r\n')
for svc in sys.argv[1:]:
    s.sendall(f"PUB $JS.API.STREAM.DELETE.BENCH_{svc.upper()} _bench_reply 0\r\n\r\n".encode())
    while True:
        line = f.readline()
        if line.startswith(b"PING"):
            s.sendall(b"PONG\r\n")
        elif line.startswith(b"MSG"):
            body = json.loads(f.read(int(line.split()[-1]) + 2))
            print(f"stream BENCH_{svc.upper()}:", "deleted" if body.get("success") else body.get("error", {}).get("description"), file=sys.stderr)
            break
PY
    source bench/env.sh
    # 51051–51058 lie in Linux's ephemeral port range: an outgoing connection may hold one for
    # a moment ("Address already in use"), so a failed start is retried.
    # Values of anything that looks like a credential are not echoed.
    settings="$(env | grep '^OC_' | sort | sed -E 's/^([A-Z0-9_]*(SECRET|PASSWORD|TOKEN|KEY)[A-Z0-9_]*)=.*/\1=(hidden)/')"
    echo "platform settings:" >&2
    echo "$settings" | sed 's/^/  /' >&2
    for attempt in 1 2 3 4 5; do
        { echo "# bench/platform.sh settings:"; echo "$settings" | sed 's/^/# /'; } >"$LOG"
        "$bin" up >>"$LOG" 2>&1 &
        echo $! >"$PIDFILE"
        for _ in $(seq 1 120); do
            if grep -q "all services up" "$LOG"; then cat "$PIDFILE"; exit 0; fi
            kill -0 "$(cat "$PIDFILE")" 2>/dev/null || break
            sleep 0.5
        done
        kill -INT "$(cat "$PIDFILE")" 2>/dev/null || true
        wait "$(cat "$PIDFILE")" 2>/dev/null || true
        echo "start attempt $attempt failed: $(grep -m1 'ordercycle:' "$LOG" || tail -1 "$LOG")" >&2
        sleep 1
    done
    exit 1
    ;;
stop)
    if [ -f "$PIDFILE" ]; then
        pid="$(cat "$PIDFILE")"
        kill -INT "$pid" 2>/dev/null || true
        # Graceful shutdown drains for up to OC_SHUTDOWN_GRACE_SECS (20 s).
        for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
        rm -f "$PIDFILE"
    fi
    ;;
*)
    echo "usage: $0 start [release|debug] | stop" >&2
    exit 2
    ;;
esac
