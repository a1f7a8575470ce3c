/**
 * Compile-time checks of the typed surface: each `@ts-expect-error` line must be rejected by tsc,
 * so a change that loosens the types fails `make client-check`. Nothing here is run.
 */
import { dateTime, IronlogClient, isProblem, uuid, type ApiResult, type ProblemKind, type components } from "../src/index.js";

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function assertType<T extends true>(): T | undefined {
  return undefined;
}

export async function typeChecks(api: IronlogClient): Promise<void> {
  const id = uuid("3f2b1c9e-5a1d-4c8e-9b7a-2d4e6f8a0b1c");
  const workout = await api.get("/v1/workouts/{workout_id}", { path: { workout_id: id } });
  assertType<Equal<typeof workout, ApiResult<components["schemas"]["WorkoutDocument"]>>>();
  const deleted = await api.delete("/v1/workouts/{workout_id}", { path: { workout_id: id }, ifMatch: 2 });
  assertType<Equal<typeof deleted.data, undefined>>();
  const me = await api.get("/v1/me");
  assertType<Equal<typeof me.data, components["schemas"]["Account"]>>();

  // @ts-expect-error a path the API does not have
  await api.get("/v1/nowhere");
  // @ts-expect-error no POST on a workout
  await api.post("/v1/workouts/{workout_id}", { path: { workout_id: "x" } });
  // @ts-expect-error the path parameter is required
  await api.get("/v1/workouts/{workout_id}");
  // @ts-expect-error the path parameter has another name
  await api.get("/v1/workouts/{workout_id}", { path: { id: "x" } });
  // @ts-expect-error the body is required
  await api.put("/v1/workouts/{workout_id}", { path: { workout_id: "x" } });
  // @ts-expect-error an unknown query parameter
  await api.get("/v1/workouts", { query: { page: 2 } });
  // @ts-expect-error scope is global or friends
  await api.get("/v1/leaderboards/{board}", { path: { board: "e1rm" }, query: { scope: "everyone" } });
  await api.put("/v1/workouts/{workout_id}", {
    path: { workout_id: id },
    body: {
      title: "t",
      startedAt: dateTime("2026-01-01T00:00:00Z"),
      // @ts-expect-error a set's weight needs a unit
      exercises: [{ exerciseId: "e", sets: [{ weight: { value: 1 } }] }],
    },
  });
  // Date-times and UUIDs: a plain string is refused, the helpers make them (and throw on bad input).
  // @ts-expect-error a string is not a Uuid
  await api.get("/v1/workouts/{workout_id}", { path: { workout_id: "not-a-uuid" } });
  await api.put("/v1/workouts/{workout_id}", {
    path: { workout_id: id },
    // @ts-expect-error a string is not a DateTime: "2026-12-01T10:00:00" has no offset
    body: { title: "t", startedAt: "2026-12-01T10:00:00", exercises: [] },
  });
  const { data: changes } = await api.get("/v1/changes", { query: { since: 0 } });
  for (const change of changes.changes) {
    assertType<Equal<typeof change.type, (typeof change.event)["type"]>>();
    // @ts-expect-error Change.type is the event type union
    if (change.type === "WorkoutSaved") return;
  }

  // @ts-expect-error login takes email and password
  await api.login({ email: "sam@example.com" });

  // Problems: a union discriminated by kind, the kinds taken from the schema.
  assertType<Equal<Extract<ProblemKind, "version-mismatch" | "email-taken" | "gone">, "version-mismatch" | "email-taken" | "gone">>();
  try {
    await api.get("/v1/me");
  } catch (error) {
    if (!isProblem(error)) throw error;
    switch (error.kind) {
      case "version-mismatch":
        assertType<Equal<typeof error.currentVersion, number | undefined>>();
        break;
      case "rate-limited":
        assertType<Equal<typeof error.retryAfter, number | undefined>>();
        break;
      // @ts-expect-error not a kind the API has
      case "version-conflict":
        break;
    }
  }
  const revalidated = await api.getIfChanged("/v1/me", '"3"');
  if (revalidated.notModified) {
    // @ts-expect-error a 304 carries no data
    void revalidated.data;
  } else {
    assertType<Equal<typeof revalidated.data, components["schemas"]["Account"]>>();
  }
}
