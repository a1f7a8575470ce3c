// The seed's stack, as a baseline for the benchmark (ops/bench/run.py, BENCHMARKS.md): Express 4
// verifies the caller's HS256 access token with jsonwebtoken, then answers the dashboard bytes that
// the benchmark copied into Redis for that user, read with ioredis. One process, as Ironlog's API.
//
// Environment: PORT, REDIS_URL, KEY_PREFIX (the keys are KEY_PREFIX + user id), JWT_SECRET,
// JWT_ISSUER, JWT_AUDIENCE (the same settings Ironlog's tokens are minted with).
"use strict";

const express = require("express");
const jwt = require("jsonwebtoken");
const Redis = require("ioredis");

const secret = process.env.JWT_SECRET;
const verifyOptions = {
  algorithms: ["HS256"],
  issuer: process.env.JWT_ISSUER,
  audience: process.env.JWT_AUDIENCE,
};
const prefix = process.env.KEY_PREFIX;
const redis = new Redis(process.env.REDIS_URL);
const app = express();
app.disable("x-powered-by");
app.set("etag", false);

app.get("/health/live", (req, res) => {
  res.json({ status: "ok" });
});

app.get("/v1/stats/dashboard", async (req, res) => {
  const [scheme, token] = (req.headers.authorization || "").split(" ");
  let claims;
  try {
    if (scheme.toLowerCase() !== "bearer" || !token) throw new Error("no bearer token");
    claims = jwt.verify(token, secret, verifyOptions);
  } catch (err) {
    res.status(401).json({ error: "invalid_token" });
    return;
  }
  try {
    const body = await redis.getBuffer(prefix + claims.sub);
    if (body === null) {
      res.status(404).json({ error: "not_found" });
      return;
    }
    res.type("application/json").send(body);
  } catch (err) {
    res.status(500).json({ error: "redis" });
  }
});

const server = app.listen(Number(process.env.PORT), "127.0.0.1", () => {
  console.log(`listening on ${server.address().port}`);
});
process.on("SIGTERM", () => {
  server.close();
  redis.disconnect();
});
