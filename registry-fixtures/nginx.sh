#!/usr/bin/env bash
# Serves a registry directory with Debian's nginx on 127.0.0.1, as the current user, with
# everything nginx writes (config, pid, logs, temp files) under STATE_DIR:
#
#     registry-fixtures/nginx.sh ROOT STATE_DIR
#
# Picks a free port, and once nginx answers writes it to STATE_DIR/port (the URL is
# http://127.0.0.1:PORT/). Runs in the foreground until killed (TERM or INT stop nginx too).
# The access log, STATE_DIR/access.log, is in nginx's combined format: what
# `pandora registry metrics --access-log` reads. Used by the README demo (demo.sh --nginx),
# the integration tests (tests/support/nginx.rs) and the benches.
set -euo pipefail
if [ $# -ne 2 ]; then
    echo "usage: $0 ROOT STATE_DIR" >&2
    exit 2
fi
nginx=$(command -v nginx || true)
[ -x "$nginx" ] || nginx=/usr/sbin/nginx
if [ ! -x "$nginx" ]; then
    echo "nginx is not installed (Debian: apt-get install nginx)" >&2
    exit 127
fi
root=$(cd "$1" && pwd)
mkdir -p "$2"
state=$(cd "$2" && pwd)
mkdir -p "$state/tmp"
rm -f "$state/port"

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

write_config() {
    cat > "$state/nginx.conf" <<CONF
daemon off;
# Meaningful only when started as root: workers then read the registry as its owner, not nobody.
user $(id -un) $(id -gn);
worker_processes 1;
pid $state/nginx.pid;
error_log $state/error.log warn;
events { worker_connections 256; }
http {
    types {
        text/html html;
        application/json json;
        text/plain acl sig;
        application/octet-stream psp;
    }
    default_type application/octet-stream;
    charset utf-8;
    charset_types application/json text/plain;
    access_log $state/access.log combined;
    client_body_temp_path $state/tmp/body;
    proxy_temp_path $state/tmp/proxy;
    fastcgi_temp_path $state/tmp/fastcgi;
    uwsgi_temp_path $state/tmp/uwsgi;
    scgi_temp_path $state/tmp/scgi;
    sendfile on;
    etag on;
    gzip on;
    gzip_types application/json text/plain;
    server_tokens off;
    server {
        listen 127.0.0.1:$1;
        root $root;
        index index.html;
        location / { try_files \$uri \$uri/ =404; }
    }
}
CONF
}

pid=""
stop() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; }
trap 'stop; exit 0' TERM INT
trap stop EXIT

# Another process may take the port between choosing it and nginx binding it: try again.
for _ in 1 2 3 4 5; do
    port=$(free_port)
    write_config "$port"
    "$nginx" -e "$state/error.log" -p "$state" -c "$state/nginx.conf" &
    pid=$!
    for _ in $(seq 200); do
        if ! kill -0 "$pid" 2>/dev/null; then
            break
        fi
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port" > "$state/port.tmp"
            mv "$state/port.tmp" "$state/port"
            wait "$pid"
            exit $?
        fi
        sleep 0.05
    done
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    pid=""
done
echo "nginx did not start; see $state/error.log" >&2
cat "$state/error.log" >&2 || true
exit 1
