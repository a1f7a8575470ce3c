export * from "./client.js";
export * from "./sse.js";
export * from "./brands.js";
export type { components, operations, paths } from "./schema.js";
