#!/usr/bin/env bash
# Make sure what the tests need is here: PostgreSQL running on 127.0.0.1:5432, Redis on
# 127.0.0.1:6379 (the shared cache) and Debian's chromium.
# Installs with apt-get when missing and running as root; otherwise says loudly what is missing.
# Prints "postgres=yes|no redis=yes|no chromium=yes|no" as its last line.
set -uo pipefail
have_pg=no
have_chromium=no
have_redis=no
as_root() { [ "$(id -u)" = "0" ]; }
apt_updated=no
apt_install() {
  if [ "$apt_updated" = no ]; then apt-get update -qq >/dev/null 2>&1 || true; apt_updated=yes; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 2>&1
}

if ! command -v pg_isready >/dev/null 2>&1 && as_root; then
  echo "services: installing PostgreSQL (apt-get)" >&2
  apt_install postgresql postgresql-client || echo "services: could not install PostgreSQL" >&2
fi
if command -v pg_isready >/dev/null 2>&1; then
  if ! pg_isready -q -h 127.0.0.1 -p 5432; then
    if command -v pg_ctlcluster >/dev/null 2>&1 && ls /etc/postgresql >/dev/null 2>&1; then
      for v in $(ls /etc/postgresql); do
        pg_ctlcluster --skip-systemctl-redirect "$v" main start >/dev/null 2>&1 || true
      done
      for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
    fi
  fi
  if pg_isready -q -h 127.0.0.1 -p 5432; then
    # trust auth on this machine; a fresh install may need it configured
    if ! psql -h 127.0.0.1 -U postgres -c 'select 1' >/dev/null 2>&1 && as_root; then
      for hba in /etc/postgresql/*/main/pg_hba.conf; do
        grep -q "whatworks-tests" "$hba" 2>/dev/null || sed -i '1i host all all 127.0.0.1/32 trust # whatworks-tests' "$hba"
      done
      for v in $(ls /etc/postgresql); do pg_ctlcluster --skip-systemctl-redirect "$v" main reload >/dev/null 2>&1 || true; done
      sleep 1
    fi
    psql -h 127.0.0.1 -U postgres -c 'select 1' >/dev/null 2>&1 && have_pg=yes
  fi
fi
[ "$have_pg" = yes ] || echo "services: *** PostgreSQL is NOT available on 127.0.0.1:5432 ***" >&2

redis_up() {
  if command -v redis-cli >/dev/null 2>&1; then
    [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = PONG ]
  else
    (exec 3<>/dev/tcp/127.0.0.1/6379 && printf 'PING\r\n' >&3 && head -c 5 <&3 | grep -q PONG) 2>/dev/null
  fi
}
if ! redis_up; then
  if ! command -v redis-server >/dev/null 2>&1 && as_root; then
    echo "services: installing Redis (apt-get)" >&2
    apt_install redis-server || echo "services: could not install Redis" >&2
  fi
  if command -v redis-server >/dev/null 2>&1; then
    redis-server --bind 127.0.0.1 --port 6379 --daemonize yes >/dev/null 2>&1 || true
    for _ in $(seq 1 10); do redis_up && break; sleep 1; done
  fi
fi
redis_up && have_redis=yes
[ "$have_redis" = yes ] || echo "services: *** Redis is NOT available on 127.0.0.1:6379 ***" >&2

if [ ! -x /usr/bin/chromium ] && as_root; then
  echo "services: installing chromium (apt-get)" >&2
  apt_install chromium || echo "services: could not install chromium" >&2
fi
[ -x /usr/bin/chromium ] && have_chromium=yes
[ "$have_chromium" = yes ] || echo "services: *** chromium is NOT installed (/usr/bin/chromium) ***" >&2
# WeasyPrint (the trial report's PDF) needs Pango; chromium brings libpango-1.0-0, not always pangoft2
if ! ldconfig -p 2>/dev/null | grep -q "libpangoft2-1.0.so.0" && as_root; then
  echo "services: installing Pango for PDF reports (apt-get)" >&2
  apt_install libpango-1.0-0 libpangoft2-1.0-0 || echo "services: could not install Pango" >&2
fi
echo "postgres=$have_pg redis=$have_redis chromium=$have_chromium"
