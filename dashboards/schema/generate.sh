#!/usr/bin/env bash
# Regenerate dashboard.schema.json — Grafana's dashboard JSON model as a JSON Schema — from the
# TypeScript types @grafana/schema ships (classic model: raw/dashboard/x). Versions are pinned.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
npm init -y >/dev/null
npm install --silent @grafana/schema@13.2.3 ts-json-schema-generator@2.9.0 typescript@5
npx ts-json-schema-generator --no-type-check --type Dashboard \
  --path node_modules/@grafana/schema/dist/types/raw/dashboard/x/types.gen.d.ts \
  -o "$here/dashboard.schema.json"
python3 "$here/open_annotation_target.py" "$here/dashboard.schema.json"
echo "wrote $here/dashboard.schema.json"
