/** The date-time and UUID helpers refuse bad values before any request is made. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { dateTime, isDateTime, isUuid, newUuid, uuid } from "../src/index.js";

describe("branded strings", () => {
  it("takes date-times with an offset and refuses the others", () => {
    for (const good of ["2026-12-01T10:00:00Z", "2026-12-01T11:00:00.250+01:00", "2024-02-29T23:59:60-05:30"]) {
      assert.equal(dateTime(good), good);
    }
    for (const bad of ["2026-12-01T10:00:00", "2026-12-01", "2026-02-30T10:00:00Z", "2026-13-01T10:00:00Z", "2026-12-01T24:00:00Z", "yesterday"]) {
      assert.equal(isDateTime(bad), false, bad);
      assert.throws(() => dateTime(bad), TypeError);
    }
    assert.equal(dateTime(new Date(Date.UTC(2026, 11, 1, 10))), "2026-12-01T10:00:00.000Z");
    assert.throws(() => dateTime(new Date("nonsense")), TypeError);
  });

  it("takes UUIDs only, and makes version 4 ones", () => {
    assert.equal(uuid("3F2B1C9E-5A1D-4C8E-9B7A-2D4E6F8A0B1C"), "3F2B1C9E-5A1D-4C8E-9B7A-2D4E6F8A0B1C");
    for (const bad of ["not-a-uuid", "3f2b1c9e5a1d4c8e9b7a2d4e6f8a0b1c", "3f2b1c9e-5a1d-4c8e-9b7a-2d4e6f8a0b1", ""]) {
      assert.throws(() => uuid(bad), TypeError, bad);
    }
    const made = new Set(Array.from({ length: 100 }, () => newUuid()));
    assert.equal(made.size, 100);
    for (const id of made) assert.ok(isUuid(id) && id[14] === "4", id);
  });
});
