#!/usr/bin/env bash
# Refresh vendor/ from the pinned npm package (package.json, package-lock.json): the match
# service's GET /docs inlines vendor/swagger-ui-bundle.js and vendor/swagger-ui.css into one page
# (ml_model/openapi.py), so the service needs neither npm nor the network at run time.
#
# Run it after changing the pin, then commit vendor/: the files are copied unchanged, with their
# licences, and vendor/SHA256SUMS records what was copied from which version
# (tests/ml_model/test_openapi.py checks both).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
SCARF_ANALYTICS=false npm ci --ignore-scripts --no-audit --no-fund
src=node_modules/swagger-ui-dist
version="$(node -p "require('./$src/package.json').version")"
files=(swagger-ui-bundle.js swagger-ui.css LICENSE NOTICE swagger-ui-bundle.js.LICENSE.txt)
tmp="$(mktemp -d vendor.XXXXXX)"
trap 'rm -rf "$tmp"' EXIT
for f in "${files[@]}"; do cp "$src/$f" "$tmp/$f"; done
{
  echo "# swagger-ui-dist $version from npm, copied unchanged by tools/swagger-ui/vendor.sh"
  (cd "$tmp" && sha256sum "${files[@]}")
} >"$tmp/SHA256SUMS"
chmod 755 "$tmp"
rm -rf vendor.old
[ -d vendor ] && mv vendor vendor.old
mv "$tmp" vendor
rm -rf vendor.old
echo "vendor/ now holds swagger-ui-dist $version"
