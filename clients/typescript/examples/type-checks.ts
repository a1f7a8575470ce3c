/**
 * Compile-time checks of the typed surface: each `@ts-expect-error` line must be rejected by tsc,
 * so a change that loosens the types fails `make client-check`. Nothing here is run.
 */
import { IronlogClient, type ApiResult, type components } from "../src/index";

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function assertType<T extends true>(): T | undefined {
  return undefined;
}

export async function typeChecks(api: IronlogClient): Promise<void> {
  const workout = await api.get("/v1/workouts/{workout_id}", { path: { workout_id: "3f2b1c9e" } });
  assertType<Equal<typeof workout, ApiResult<components["schemas"]["WorkoutDocument"]>>>();
  const deleted = await api.delete("/v1/workouts/{workout_id}", { path: { workout_id: "3f2b1c9e" }, ifMatch: 2 });
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
    path: { workout_id: "x" },
    body: {
      title: "t",
      startedAt: "2026-01-01T00:00:00Z",
      // @ts-expect-error a set's weight needs a unit
      exercises: [{ exerciseId: "e", sets: [{ weight: { value: 1 } }] }],
    },
  });
  // @ts-expect-error login takes email and password
  await api.login({ email: "sam@example.com" });
}
