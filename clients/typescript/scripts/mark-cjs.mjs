// dist/cjs holds CommonJS under a package whose "type" is "module": say so to Node for that folder.
import { writeFileSync } from "node:fs";

writeFileSync(new URL("../dist/cjs/package.json", import.meta.url), '{ "type": "commonjs" }\n');
