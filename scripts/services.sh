#!/usr/bin/env bash
# Makes sure NATS (with JetStream) and PostgreSQL answer on their local defaults, starting the
# machine's own servers when they do not. Sourced by scripts/test.sh and .ci/run.
set -euo pipefail

answers() { (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for() {
  local port=$1 name=$2
  for _ in $(seq 1 100); do
    answers "$port" && return 0
    sleep 0.2
  done
  echo "error: $name does not answer on 127.0.0.1:$port" >&2
  exit 1
}

if ! answers 4222; then
  if ! command -v nats-server >/dev/null && [ ! -x /usr/sbin/nats-server ]; then
    apt-get update -qq && apt-get install -y -qq nats-server >/dev/null
  fi
  mkdir -p /var/lib/nats-server
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- \
    -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log
  wait_for 4222 "NATS"
fi

if ! answers 5432; then
  if ! ls /etc/postgresql >/dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq postgresql >/dev/null
  fi
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n1)" main start
  wait_for 5432 "PostgreSQL"
fi
