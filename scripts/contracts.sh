#!/usr/bin/env bash
# The contract gate. ordercycle's v1 protobuf contracts are published: a change that breaks a
# published message, enum, service or RPC (a field removed or renumbered, a type changed, an
# RPC removed…) must go into a new version package (v2) instead.
#
#   scripts/contracts.sh check      buf lint; buf breaking against the published image
#                                   (proto/published-v1.binpb) and against the parent commit
#   scripts/contracts.sh gate-test  proves the gate bites: a copy of the contracts with a field
#                                   removed and one with a field renumbered are refused, a copy
#                                   with a field added passes
#   scripts/contracts.sh publish    rewrites proto/published-v1.binpb from proto/ (after an
#                                   additive change is released; commit it)
#
# buf comes from the npm package @bufbuild/buf, installed under target/buf.
set -euo pipefail
cd "$(dirname "$0")/.."

PUBLISHED=proto/published-v1.binpb

buf() {
  local bin=target/buf/node_modules/.bin/buf
  if [ ! -x "$bin" ]; then
    mkdir -p target/buf
    npm install --silent --no-audit --no-fund --prefix target/buf @bufbuild/buf@1 >/dev/null
  fi
  "$bin" "$@"
}

check() {
  buf lint
  buf breaking --against "$PUBLISHED"
  if git rev-parse -q --verify HEAD~1 >/dev/null && git cat-file -e HEAD~1:buf.yaml 2>/dev/null; then
    buf breaking --against ".git#ref=HEAD~1"
  fi
}

# Copies the contracts to a scratch module, applies `sed_expr` to `file` there and runs the
# gate on it; prints buf's verdict.
variant() {
  local file=$1 sed_expr=$2 dir
  dir=$(mktemp -d)
  cp buf.yaml "$dir/"
  cp -r proto "$dir/"
  rm -f "$dir/$PUBLISHED"
  sed -i "$sed_expr" "$dir/$file"
  if cmp -s "proto/${file#proto/}" "$dir/$file"; then
    echo "gate-test: the edit of $file changed nothing; fix the fixture" >&2
    exit 1
  fi
  (cd "$dir" && buf breaking --against "$OLDPWD/$PUBLISHED") && status=0 || status=$?
  rm -rf "$dir"
  return "$status"
}

# Runs `variant` expecting buf to refuse it, naming `field`.
refused() {
  local what=$1 field=$2 out
  shift 2
  out=$(mktemp)
  if variant "$@" >"$out" 2>&1; then
    echo "gate-test: $what was not refused" >&2
    exit 1
  fi
  if ! grep -q "\"$field\"" "$out"; then
    echo "gate-test: $what was refused for another reason:" >&2
    cat "$out" >&2
    exit 1
  fi
  echo "gate-test: $what is refused: $(head -1 "$out")"
  rm -f "$out"
}

gate_test() {
  local orders=proto/ordercycle/orders/v1/orders.proto
  local events=proto/ordercycle/orders/v1/events.proto
  refused "removing Order.order_number" order_number \
    "$orders" '/^message Order {/,/^}/{/string order_number = 2;/d}'
  refused "renumbering OrderPlaced.order_number" order_number \
    "$events" '/^message OrderPlaced {/,/^}/{s/string order_number = 2;/string order_number = 99;/}'
  refused "changing the type of OrderPlaced.order_number" order_number \
    "$events" '/^message OrderPlaced {/,/^}/{s/string order_number = 2;/int64 order_number = 2;/}'
  variant "$orders" '/^message Order {/,/^}/{s/^}$/  string gate_probe = 999;\n}/}'
  echo "gate-test: adding a field passes"
}

case "${1:-check}" in
  check) check ;;
  gate-test) gate_test ;;
  publish) buf build --exclude-source-info -o "$PUBLISHED" && echo "wrote $PUBLISHED" ;;
  *) echo "usage: $0 check|gate-test|publish" >&2; exit 2 ;;
esac
