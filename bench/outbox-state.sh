#!/usr/bin/env bash
# Outbox state of every bench database (`ordercycle_bench_<service>`, see platform.sh): rows still unpublished, of them claimed under a live
# lease, claimed with an expired lease (a relay took them and never came back), retried rows,
# and the oldest pending row's age. A relay that is alive drains "pending" to 0 within seconds
# of the load stopping. Usage: bench/outbox-state.sh
set -euo pipefail
services=(orders inventory payments fulfillment shipping notifications feedback analytics)
printf '%-14s %8s %8s %8s %8s %9s %10s\n' service pending claimed expired retried published oldest_s
for s in "${services[@]}"; do
    row=$(psql -h 127.0.0.1 -U postgres -d "ordercycle_bench_$s" -qAtF ' ' -c "
        SELECT count(*) FILTER (WHERE published_at IS NULL),
               count(*) FILTER (WHERE published_at IS NULL AND claimed_until > now()),
               count(*) FILTER (WHERE published_at IS NULL AND claimed_until <= now()),
               count(*) FILTER (WHERE attempts > 1),
               count(*) FILTER (WHERE published_at IS NOT NULL),
               coalesce(round(EXTRACT(EPOCH FROM now() - min(created_at) FILTER (WHERE published_at IS NULL)))::text, '-')
        FROM oc_outbox" 2>/dev/null) || row="(no database)"
    # shellcheck disable=SC2086
    printf '%-14s %8s %8s %8s %8s %9s %10s\n' "$s" $row
done
