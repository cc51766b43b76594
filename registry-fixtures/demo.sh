#!/usr/bin/env bash
# Pandora's main job end to end, in a throwaway home: build the fixture packages into a signed
# registry, serve it on 127.0.0.1, configure it, install a package and its dependency from it
# into the active profile, run it from ~/bin, and run a freshly built package directly.
#
#     bash registry-fixtures/demo.sh [--nginx]
#
# --nginx serves the registry with Debian's nginx (registry-fixtures/nginx.sh) instead of the
# fixture server, and ends by counting nginx's access log into signed metrics.
set -euo pipefail
web=fixture
case "${1:-}" in
    --nginx) web=nginx ;;
    "") ;;
    *) echo "usage: $0 [--nginx]" >&2; exit 2 ;;
esac
cd "$(dirname "$0")/.."
cargo build --quiet --workspace --bins
bin=target/debug
home=$(mktemp -d)
export HOME="$home" PANDORA_HOME="$home/pandora" XDG_CACHE_HOME="$home/cache"
server=""
cleanup() {
    exec 3>&- 2>/dev/null || true
    [ -n "$server" ] && kill "$server" 2>/dev/null || true
    rm -rf "$home"
}
trap cleanup EXIT

if [ -t 1 ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold='' plain=''; fi
step() { printf '\n%s$ %s%s\n' "$bold" "$*" "$plain"; "$@"; }

step bash registry-fixtures/build-registry.sh "$home/registry" "$bin/pandora"
step "$bin/acl" get "$home/registry/index.acl" 'Registry.Package["hello"].Version["1.1.0"].dependencies'

if [ "$web" = nginx ]; then
    bash registry-fixtures/nginx.sh "$home/registry" "$home/nginx" &
    server=$!
    for _ in $(seq 200); do [ -s "$home/nginx/port" ] && break; sleep 0.05; done
    [ -s "$home/nginx/port" ] || { echo "nginx did not start" >&2; exit 1; }
    url="http://127.0.0.1:$(cat "$home/nginx/port")/"
else
    # The registry server runs until its standard input closes.
    mkfifo "$home/server-input"
    "$bin/fixture-registry" serve "$home/registry" < "$home/server-input" > "$home/url" &
    server=$!
    exec 3>"$home/server-input"
    for _ in $(seq 100); do [ -s "$home/url" ] && break; sleep 0.05; done
    url=$(cat "$home/url")
fi
key=$("$bin/acl" get "$home/registry/index.acl.sig" Signature.key)

step "$bin/pandora" registry add fixtures "$url" --key "$key" --require-signatures
step "$bin/pandora" search greet
step "$bin/pandora" install --yes hello
step "$bin/pandora" list
step "$bin/pandora" info hello
step "$bin/pandora" graph hello
step "$HOME/bin/hello" "installed from a signed registry, active in profile default"
step "$bin/pandora" verify --all
step cat "$PANDORA_HOME/manifests/default.lock"
step "$bin/pandora" build registry-fixtures/packages/banner --key-seed demo -o "$home/banner.psp"
step "$home/banner.psp" a package runs directly
step "$bin/pandora" metrics
if [ "$web" = nginx ]; then
    step "$bin/pandora" registry metrics "$home/registry" --access-log "$home/nginx/access.log" --key-seed pandora-fixtures
    step "$bin/pandora" metrics --registry fixtures
    printf '\nthe registry page was at %sindex.html\n' "$url"
fi
printf '\ndemo finished\n'
