#!/usr/bin/env bash
# What the test suite needs beyond the virtual environment: Chromium and its driver (Debian packages),
# PostgreSQL and Redis running, and the real Redmine peer from ../shared/peers. Idempotent and quiet when
# everything is already there.
set -euo pipefail
SHARED="${SHARED:-../shared}"

if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  echo "installing chromium and chromium-driver"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
fi

if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null && command -v pg_ctlcluster >/dev/null; then
  echo "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
fi

if ! redis-cli -h 127.0.0.1 ping >/dev/null 2>&1 && command -v redis-server >/dev/null; then
  echo "starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null
fi

if [ -x "$SHARED/peers/redmine.sh" ] || [ -f "$SHARED/peers/redmine.sh" ]; then
  if [ "$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:3000/ || true)" != 200 ]; then
    echo "starting the Redmine peer (about 25 s)"
    bash "$SHARED/peers/redmine.sh" up >/tmp/redmine-peer-up.log 2>&1 || { tail -30 /tmp/redmine-peer-up.log; exit 1; }
  fi
else
  echo "no $SHARED/peers/redmine.sh: the real-Redmine tests will be skipped (they fail under CI=true)"
fi
