#!/usr/bin/env bash
# Builds the fixture packages (packages/*) into a signed registry directory:
#   bash registry-fixtures/build-registry.sh OUT_DIR [PANDORA_BINARY]
# Packages are reproducible (SOURCE_DATE_EPOCH=0, a fixed key seed): the same bytes every time.
# The index and its signature are signed with the same seed; the registry's public key is in
# OUT_DIR/index.acl.sig (`acl get OUT_DIR/index.acl.sig Signature.key`).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:?usage: build-registry.sh OUT_DIR [PANDORA_BINARY]}"
pandora="${2:-$here/../target/debug/pandora}"
mkdir -p "$out"
for package in "$here"/packages/*/; do
    name=$(basename "$package")
    SOURCE_DATE_EPOCH=0 "$pandora" --quiet build "$package" --key-seed pandora-fixtures -o "$out/pkgs/$name/$name.psp" >/dev/null
done
"$pandora" --quiet registry index "$out" --key-seed pandora-fixtures --name fixtures --expires-in 365 >/dev/null
