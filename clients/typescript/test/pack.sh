#!/usr/bin/env bash
# What an app installs: `npm pack` (which builds dist/ first), the tarball installed into an empty app,
# then the package loaded with `require` (CommonJS) and with `import` (ESM), and its types resolved by
# TypeScript under NodeNext from an ES module. Leaves nothing behind.
set -euo pipefail
cd "$(dirname "$0")/.."
CLIENT=$(pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
npm pack --silent --pack-destination "$tmp" >/dev/null
mkdir "$tmp/app"
cd "$tmp/app"
echo '{ "name": "app", "private": true, "type": "module" }' > package.json
npm install --silent --no-package-lock --no-audit --no-fund "$tmp"/ironlog-client-*.tgz
node -e '
const c = require("@ironlog/client");
for (const name of ["IronlogClient", "ApiProblem", "SseParser", "memoryStorage"]) {
  if (typeof c[name] !== "function") throw new Error("require: no " + name);
}'
node --input-type=module -e '
import { IronlogClient, ApiProblem, SseParser, memoryStorage } from "@ironlog/client";
for (const [name, value] of Object.entries({ IronlogClient, ApiProblem, SseParser, memoryStorage })) {
  if (typeof value !== "function") throw new Error("import: no " + name);
}'
cat > app.ts <<'TS'
import { ApiProblem, IronlogClient, type StreamEvent } from "@ironlog/client";
const api = new IronlogClient({ baseUrl: "http://127.0.0.1:8000" });
export const seen: StreamEvent["type"][] = ["ready", "projected"];
export const calls = [api.get("/v1/me"), new ApiProblem(404, {}, new Headers())];
TS
"$CLIENT/node_modules/.bin/tsc" --noEmit --strict --module NodeNext --moduleResolution NodeNext \
  --target ES2022 --lib ES2022,DOM --skipLibCheck false app.ts
echo "npm pack: the package imports as ESM and CommonJS, with its types"
