/**
 * Register (or log in), log a workout under an id made on the phone, read the dashboard that
 * includes it, and list a leaderboard. Typechecked by `make client-check`; to run it against a
 * local API, see README.md.
 */
import { ApiProblem, dateTime, IronlogClient, memoryTokenStore, newUuid, type components } from "../src/index.js";

type Workout = components["schemas"]["Workout"];

const BASE_URL = "http://127.0.0.1:8000";

export async function main(baseUrl: string = BASE_URL): Promise<void> {
  // On a phone the store would be the keychain (e.g. expo-secure-store) so a session survives restarts.
  const api = new IronlogClient({
    baseUrl,
    tokens: memoryTokenStore(),
    onSignedOut: () => console.log("signed out: show the login screen"),
  });

  const handle = `sam_${Date.now().toString(36)}`;
  const credentials = { email: `${handle}@example.com`, password: "plates-and-chalk-42" };
  try {
    const signedIn = await api.register({ ...credentials, displayName: "Sam", handle });
    console.log("registered", signedIn.user.handle, signedIn.user.id);
  } catch (error) {
    if (!(error instanceof ApiProblem && error.status === 409)) throw error;
    await api.login(credentials); // the account exists already
  }

  // The id is generated on the phone, so a workout logged offline keeps it when it syncs.
  // (React Native has no crypto.randomUUID: newUuid() needs react-native-get-random-values there.)
  const workoutId = newUuid();
  const workout: Workout = {
    title: "Push day",
    startedAt: dateTime(new Date(Date.now() - 70 * 60_000)),
    endedAt: dateTime(new Date()),
    exercises: [
      {
        exerciseId: "barbell-bench-press",
        sets: [
          { type: "warmup", reps: 10, weight: { value: 60, unit: "kg" } },
          { reps: 5, weight: { value: 224.9, unit: "lb" }, rpe: 8 },
        ],
      },
    ],
  };
  const logged = await api.put("/v1/workouts/{workout_id}", { path: { workout_id: workoutId }, body: workout });
  console.log("logged", logged.status, logged.data.id, "version", logged.data.version, logged.etag);

  // Amending needs the version: a stale one is a 412 that tells the current version.
  try {
    await api.put("/v1/workouts/{workout_id}", {
      path: { workout_id: workoutId },
      body: { ...workout, title: "Push day (heavy)" },
      ifMatch: logged.data.version,
    });
  } catch (error) {
    if (error instanceof ApiProblem && error.status === 412) console.log("current version", error.currentVersion);
    else throw error;
  }

  // The client sends the consistency token of its last write: the dashboard includes the workout.
  console.log("consistency token", api.consistencyToken);
  const dashboard = await api.get("/v1/stats/dashboard");
  const stale = dashboard.headers.get("X-Consistency") === "stale";
  console.log("dashboard", dashboard.data.totals.workouts, "workouts", stale ? "(not caught up yet)" : "");

  const feed = await api.get("/v1/workouts", { query: { limit: 10 } });
  console.log("feed", feed.data.items.map((item) => item.title));

  for (const board of ["weekly-volume", "e1rm"] as const) {
    try {
      const { data } = await api.get("/v1/leaderboards/{board}", {
        path: { board },
        query: { scope: "global", ...(board === "e1rm" ? { exerciseId: "barbell-bench-press" } : {}) },
      });
      console.log(board, data.key, data.top.length, "entries on top, me:", data.me?.rank ?? "not ranked");
    } catch (error) {
      if (!(error instanceof ApiProblem)) throw error;
      console.log(board, error.status, error.title, error.detail, error.errors);
    }
  }

  await api.logout();
}
