// src/schema.ts from openapi.json, as `openapi-typescript --default-non-nullable false` writes it, except
// that strings of format date-time and uuid become the branded DateTime and Uuid of src/brands.ts: a
// date-time without an offset, or any string that is not a UUID, is refused by the compiler.
// Usage: node scripts/generate.mjs <openapi.json> <schema.ts>
import { readFileSync, writeFileSync } from "node:fs";

import openapiTS, { astToString, COMMENT_HEADER } from "openapi-typescript";
import ts from "typescript";

const BRANDS = { "date-time": "DateTime", uuid: "Uuid" };
const [input, output] = process.argv.slice(2);
if (input === undefined || output === undefined) throw new Error("usage: generate.mjs <openapi.json> <schema.ts>");

const ast = await openapiTS(JSON.parse(readFileSync(input, "utf8")), {
  defaultNonNullable: false,
  inject: 'import type { DateTime, Uuid } from "./brands.js";\n',
  transform(schema) {
    const types = Array.isArray(schema.type) ? schema.type : [schema.type];
    const brand = types.includes("string") ? BRANDS[schema.format] : undefined;
    if (brand === undefined) return undefined;
    const branded = ts.factory.createTypeReferenceNode(brand);
    if (!types.includes("null")) return branded;
    return ts.factory.createUnionTypeNode([branded, ts.factory.createLiteralTypeNode(ts.factory.createNull())]);
  },
});
writeFileSync(output, `${COMMENT_HEADER}${astToString(ast)}`);
