#!/usr/bin/env bash
# Pandora end to end on the bundled examples, in a throwaway home: check and evaluate ACL files
# with the `acl` tool, configure registries with `pandora registry`, then build a signed package,
# verify it, and run it directly (its first bytes are Pandora's launcher).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet --bins
bin=target/debug
examples=registry-fixtures/examples
home=$(mktemp -d)
trap 'rm -rf "$home"' EXIT

if [ -t 1 ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold='' plain=''; fi
step() { printf '\n%s$ %s%s\n' "$bold" "$*" "$plain"; "$@"; }

step "$bin/acl" check "$examples/index.acl" "$examples/manifest.acl" "$examples/registries.acl"
step "$bin/acl" get "$examples/index.acl" 'Registry.Package["hello"].Version["1.1.0"].pkg_url'
step "$bin/acl" eval "$examples/index.acl"
step "$bin/pandora" --home "$home" registry add main https://example.org/pandora/index.acl \
    --key ed25519:ea4a6c63e29c520abef5507b132ec5f9954776aebebe7b92421eea691446d22c --require-signatures
step "$bin/pandora" --home "$home" registry add local "$PWD/$examples" --priority 200
step "$bin/pandora" --home "$home" registry list
step cat "$home/registries.acl"
step "$bin/pandora" --home "$home" --yes registry remove local
step "$bin/pandora" --home "$home" registry list
export PANDORA_HOME="$home" XDG_CACHE_HOME="$home/cache"
step "$bin/pandora" key generate demo --trust
step "$bin/pandora" build registry-fixtures/packages/hello -o "$home/hello.psp" --key demo
step "$bin/pandora" inspect "$home/hello.psp"
step "$bin/pandora" verify "$home/hello.psp"
step "$home/hello.psp" --first "two words"
PANDORA_LAUNCHER_DEBUG=1 step "$home/hello.psp"
printf '\n%s$ acl check <broken file>%s  (a mistake, to show the error format)\n' "$bold" "$plain"
printf 'Registry "x" {\n    int priority = "high";\n}\n' > "$home/broken.acl"
if "$bin/acl" check "$home/broken.acl"; then exit 1; fi
printf '\ndemo finished\n'
