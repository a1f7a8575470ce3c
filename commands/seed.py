"""Realistic training histories for `ironlog seed`, as deterministic data: no I/O, no clock.

Everything follows from the seed, the user's number and the instant the history ends (`until`,
00:00 UTC of the day it is anchored to): the same arguments give the same profiles, workouts (ids
included, by uuid5), sets, body weights, amendments, deletions and follows, with this module's code
and Python's `random`. Only the users' ids are not the seed's: `register_user` draws them, so a plan
names the people a user follows by number and `history_of` is handed the ids.

Each user trains 2-5 times a week on a split that fits (full body, upper/lower, push/pull/legs) at
their usual hour in their own time zone, with 4-8 exercises a session from the built-in catalog
(weight-and-reps exercises only). Loads follow a strength curve that rises fast for novices and
slowly for advanced lifters, with deload weeks, bad days (missed reps, a failed set), warm-ups on
the first compound lifts, RPE or RIR for the users who log them, a weekly weigh-in drifting slowly,
about 1.5% of workouts amended and 1.2% deleted.
"""

from __future__ import annotations

import calendar
import math
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Literal
from zoneinfo import ZoneInfo

import msgspec

from commands.bulk import (
    AmendWorkout,
    DeleteWorkout,
    FollowUser,
    History,
    LogWorkout,
    Operation,
    RecordBodyweight,
)
from commands.events import (
    E1rmFormula,
    SetType,
    WeekStart,
    Weight,
    WeightUnit,
    Workout,
    WorkoutExercise,
    WorkoutSet,
)
from core.catalog import exercise
from core.units import KG_PER_LB

SEED_DOMAIN = "ironlog.test"
_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://ironlog.test/seed")

Kind = Literal["barbell", "dumbbell", "machine", "cable"]
Role = Literal["main", "secondary", "accessory"]

# fmt: off
#: Each lift's one-rep max for a trained (intermediate) lifter, as a share of body weight (dumbbells:
#: per hand), and its equipment, which sets load steps and the lightest load.
LIFTS: dict[str, tuple[float, Kind]] = {
    "barbell-back-squat": (1.5, "barbell"), "barbell-front-squat": (1.2, "barbell"),
    "barbell-deadlift": (1.8, "barbell"), "barbell-sumo-deadlift": (1.75, "barbell"),
    "trap-bar-deadlift": (1.9, "barbell"), "barbell-bench-press": (1.1, "barbell"),
    "dumbbell-bench-press": (0.42, "dumbbell"), "machine-chest-press": (1.0, "machine"),
    "barbell-overhead-press": (0.65, "barbell"), "dumbbell-shoulder-press": (0.28, "dumbbell"),
    "machine-shoulder-press": (0.6, "machine"), "barbell-bent-over-row": (0.9, "barbell"),
    "barbell-pendlay-row": (0.85, "barbell"), "dumbbell-row": (0.45, "dumbbell"),
    "seated-cable-row": (0.9, "cable"), "machine-seated-row": (0.9, "machine"), "t-bar-row": (0.8, "barbell"),
    "lat-pulldown": (0.85, "cable"), "close-grip-lat-pulldown": (0.85, "cable"),
    "barbell-romanian-deadlift": (1.3, "barbell"), "dumbbell-romanian-deadlift": (0.5, "dumbbell"),
    "barbell-hip-thrust": (1.7, "barbell"), "machine-hip-thrust": (1.6, "machine"),
    "leg-press": (2.6, "machine"), "hack-squat": (1.6, "machine"),
    "dumbbell-bulgarian-split-squat": (0.35, "dumbbell"), "barbell-lunge": (0.8, "barbell"),
    "barbell-incline-bench-press": (0.9, "barbell"), "dumbbell-incline-bench-press": (0.37, "dumbbell"),
    "machine-incline-chest-press": (0.85, "machine"), "barbell-close-grip-bench-press": (0.95, "barbell"),
    "cable-fly": (0.3, "cable"), "pec-deck": (0.6, "machine"), "dumbbell-fly": (0.18, "dumbbell"),
    "dumbbell-lateral-raise": (0.12, "dumbbell"), "cable-lateral-raise": (0.08, "cable"),
    "dumbbell-rear-delt-fly": (0.1, "dumbbell"), "face-pull": (0.35, "cable"),
    "machine-reverse-fly": (0.4, "machine"), "cable-triceps-pushdown": (0.4, "cable"),
    "cable-rope-triceps-pushdown": (0.35, "cable"), "barbell-skullcrusher": (0.4, "barbell"),
    "dumbbell-overhead-triceps-extension": (0.3, "dumbbell"),
    "cable-overhead-triceps-extension": (0.35, "cable"), "barbell-curl": (0.45, "barbell"),
    "ez-bar-curl": (0.45, "barbell"), "dumbbell-curl": (0.18, "dumbbell"),
    "dumbbell-hammer-curl": (0.2, "dumbbell"), "dumbbell-incline-curl": (0.15, "dumbbell"),
    "cable-curl": (0.4, "cable"), "machine-preacher-curl": (0.4, "machine"),
    "leg-extension": (0.9, "machine"), "lying-leg-curl": (0.6, "machine"),
    "seated-leg-curl": (0.65, "machine"),
    "machine-standing-calf-raise": (1.4, "machine"), "machine-seated-calf-raise": (1.0, "machine"),
    "straight-arm-pulldown": (0.4, "cable"), "barbell-shrug": (1.4, "barbell"),
    "dumbbell-shrug": (0.5, "dumbbell"), "cable-crunch": (0.6, "cable"),
}

#: Movement patterns; a user's program picks one lift per slot, the first ones most often.
GROUPS: dict[str, tuple[str, ...]] = {
    "squat": ("barbell-back-squat", "barbell-back-squat", "barbell-back-squat", "barbell-front-squat"),
    "hinge": ("barbell-deadlift", "barbell-deadlift", "barbell-sumo-deadlift", "trap-bar-deadlift"),
    "bench": ("barbell-bench-press", "barbell-bench-press", "dumbbell-bench-press", "machine-chest-press"),
    "press": ("barbell-overhead-press", "barbell-overhead-press", "dumbbell-shoulder-press",
              "machine-shoulder-press"),
    "row": ("barbell-bent-over-row", "barbell-pendlay-row", "dumbbell-row", "seated-cable-row",
            "machine-seated-row", "t-bar-row"),
    "pulldown": ("lat-pulldown", "lat-pulldown", "close-grip-lat-pulldown"),
    "posterior": ("barbell-romanian-deadlift", "barbell-romanian-deadlift", "dumbbell-romanian-deadlift",
                  "barbell-hip-thrust", "machine-hip-thrust"),
    "quads": ("leg-press", "leg-press", "hack-squat", "dumbbell-bulgarian-split-squat", "barbell-lunge"),
    "incline": ("barbell-incline-bench-press", "dumbbell-incline-bench-press", "machine-incline-chest-press",
                "barbell-close-grip-bench-press"),
    "chest": ("cable-fly", "pec-deck", "dumbbell-fly"),
    "delts": ("dumbbell-lateral-raise", "dumbbell-lateral-raise", "cable-lateral-raise"),
    "rear-delts": ("face-pull", "dumbbell-rear-delt-fly", "machine-reverse-fly"),
    "triceps": ("cable-triceps-pushdown", "cable-rope-triceps-pushdown", "barbell-skullcrusher",
                "dumbbell-overhead-triceps-extension", "cable-overhead-triceps-extension"),
    "biceps": ("barbell-curl", "ez-bar-curl", "dumbbell-curl", "dumbbell-hammer-curl",
               "dumbbell-incline-curl", "cable-curl", "machine-preacher-curl"),
    "quad-iso": ("leg-extension",),
    "hamstrings": ("lying-leg-curl", "seated-leg-curl"),
    "calves": ("machine-standing-calf-raise", "machine-seated-calf-raise"),
    "traps": ("barbell-shrug", "dumbbell-shrug"),
    "lats": ("straight-arm-pulldown",),
    "core": ("cable-crunch",),
}

Day = tuple[str, tuple[tuple[Role, str], ...]]
M: Role = "main"
S: Role = "secondary"
A: Role = "accessory"
#: Splits: each day's slots in the order they are trained; a session does the first 4-8.
SPLITS: dict[str, tuple[Day, ...]] = {
    "full-body": (
        ("Full Body A", ((M, "squat"), (M, "bench"), (S, "row"), (S, "posterior"), (A, "delts"),
                         (A, "biceps"), (A, "triceps"), (A, "calves"))),
        ("Full Body B", ((M, "hinge"), (M, "press"), (S, "pulldown"), (S, "quads"), (S, "incline"),
                         (A, "rear-delts"), (A, "hamstrings"), (A, "core"))),
    ),
    "upper-lower": (
        ("Upper A", ((M, "bench"), (S, "row"), (S, "press"), (S, "pulldown"), (A, "triceps"), (A, "biceps"),
                     (A, "delts"), (A, "chest"))),
        ("Lower A", ((M, "squat"), (S, "posterior"), (S, "quads"), (A, "quad-iso"), (A, "hamstrings"),
                     (A, "calves"), (A, "core"), (A, "traps"))),
        ("Upper B", ((M, "press"), (S, "pulldown"), (S, "incline"), (S, "row"), (A, "rear-delts"),
                     (A, "biceps"), (A, "triceps"), (A, "lats"))),
        ("Lower B", ((M, "hinge"), (S, "quads"), (S, "posterior"), (A, "hamstrings"), (A, "quad-iso"),
                     (A, "calves"), (A, "core"), (A, "traps"))),
    ),
    "push-pull-legs": (
        ("Push", ((M, "bench"), (M, "press"), (S, "incline"), (A, "chest"), (A, "delts"), (A, "triceps"),
                  (A, "triceps"), (A, "rear-delts"))),
        ("Pull", ((M, "hinge"), (S, "row"), (S, "pulldown"), (A, "rear-delts"), (A, "biceps"), (A, "biceps"),
                  (A, "traps"), (A, "lats"))),
        ("Legs", ((M, "squat"), (S, "quads"), (S, "posterior"), (A, "quad-iso"), (A, "hamstrings"),
                  (A, "calves"), (A, "core"), (A, "calves"))),
    ),
}
#: For each weekly frequency, the splits that fit it and the weekdays (Monday 0) trained.
FREQUENCIES: dict[int, tuple[float, tuple[str, ...], tuple[tuple[int, ...], ...]]] = {
    2: (0.15, ("full-body", "full-body", "upper-lower"), ((0, 3), (1, 4), (2, 5), (0, 4), (1, 5))),
    3: (0.4, ("full-body", "push-pull-legs"), ((0, 2, 4), (1, 3, 5), (0, 2, 5), (6, 2, 4))),
    4: (0.3, ("upper-lower", "upper-lower", "upper-lower", "push-pull-legs"),
        ((0, 1, 3, 4), (0, 2, 4, 5), (1, 2, 4, 5))),
    5: (0.15, ("push-pull-legs", "push-pull-legs", "upper-lower"),
        ((0, 1, 2, 3, 4), (0, 1, 3, 4, 5), (0, 2, 3, 5, 6))),
}
#: Time zones, with the share of their lifters who enter pounds and whose weeks start on Sunday.
ZONES: tuple[tuple[str, float, float], ...] = (
    ("Europe/Berlin", 0.02, 0.0), ("Europe/London", 0.1, 0.0), ("Europe/Paris", 0.02, 0.0),
    ("Europe/Madrid", 0.02, 0.0), ("Europe/Stockholm", 0.02, 0.0), ("America/New_York", 0.85, 0.6),
    ("America/Chicago", 0.85, 0.6), ("America/Denver", 0.85, 0.6), ("America/Los_Angeles", 0.85, 0.6),
    ("America/Toronto", 0.5, 0.4), ("America/Sao_Paulo", 0.05, 0.3), ("Australia/Sydney", 0.05, 0.1),
    ("Asia/Tokyo", 0.02, 0.3), ("Asia/Singapore", 0.05, 0.1), ("Asia/Kolkata", 0.05, 0.1),
    ("Africa/Johannesburg", 0.05, 0.1), ("Pacific/Auckland", 0.05, 0.1), ("UTC", 0.1, 0.0),
)
NAMES = ("Alex", "Sam", "Maya", "Jonas", "Priya", "Leo", "Aiko", "Mateo", "Zoe", "Omar", "Ines", "Kofi",
         "Hana", "Lucas", "Nora", "Ravi", "Elena", "Tomás", "Freya", "Jin", "Amara", "Felix", "Sofia", "Noah")
WORKOUT_NOTES = ("Felt strong today", "Short on time", "Gym was packed", "Slept badly", "New belt",
                 "Left knee a bit sore", "Great pump", "Tried a new gym")
EXERCISE_NOTES = ("Paused reps", "Belt on the top set", "Slow eccentrics", "Grip was failing")
# fmt: on

_STEP_KG: dict[Kind, float] = {"barbell": 2.5, "dumbbell": 2.0, "machine": 5.0, "cable": 2.5}
_STEP_LB: dict[Kind, float] = {"barbell": 5.0, "dumbbell": 5.0, "machine": 10.0, "cable": 5.0}
_BAR_KG, _BAR_LB = 20.0, 45.0
_RAMP = ((0.5, 8), (0.75, 3))  # warm-ups: share of the working load, reps
_LB_PER_KG = 1 / float(KG_PER_LB)


def _check_lifts() -> None:
    """Seeded sets carry reps and a weight, so every lift must be a built-in weight-and-reps exercise."""
    for exercise_id in [*LIFTS, *(lift for group in GROUPS.values() for lift in group)]:
        entry = exercise(exercise_id)
        if entry is None or entry.measurement != "weight_reps" or exercise_id not in LIFTS:
            raise ValueError(f"{exercise_id} is not a built-in weight_reps exercise in LIFTS")


_check_lifts()


class SeedUser(msgspec.Struct, frozen=True):
    """A seeded account: who registers, their preferences, and whom they follow (by number)."""

    number: int
    email: str
    handle: str
    display_name: str
    timezone: str
    unit: WeightUnit
    week_start: WeekStart
    e1rm_formula: E1rmFormula
    leaderboard_opt_in: bool
    registered_at: datetime
    follows: tuple[int, ...]


class SeedPlan(msgspec.Struct, frozen=True):
    """Every user of one seeding; histories run from each registration until `until`."""

    seed: int
    until: datetime
    users: list[SeedUser]


def email_of(seed: int, number: int) -> str:
    return f"seed-{seed}-{number}@{SEED_DOMAIN}"


def months_before(day: date, months: int) -> date:
    """The same day of the month `months` earlier (the month's last day when it has fewer)."""
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def _rng(seed: int, number: int, stream: str) -> random.Random:
    # A string seed is hashed with SHA-512: the same on every platform and run, whatever PYTHONHASHSEED.
    return random.Random(f"ironlog-seed/{seed}/{number}/{stream}")  # noqa: S311 - sample data, not secrets


def plan_users(seed: int, count: int, months: int, today: date) -> SeedPlan:
    """`count` users registering over the first days of a history of `months` months ending at `today`."""
    until = datetime.combine(today, time(), UTC)
    start = datetime.combine(months_before(today, months), time(), UTC)
    users = []
    for number in range(count):
        rng = _rng(seed, number, "profile")
        zone, pounds, sunday = rng.choice(ZONES)
        following = min(count - 1, int(rng.triangular(0, 11, 3)))
        # Numbers of the others: a sample of 0..count-2, shifted past this user's own number.
        followees = sorted(n + (n >= number) for n in rng.sample(range(count - 1), following))
        users.append(
            SeedUser(
                number=number,
                email=email_of(seed, number),
                handle=f"seed{seed}_{number}",
                display_name=f"{rng.choice(NAMES)} {rng.choice('ABCDEFGHJKLMNPRSTVWZ')}.",
                timezone=zone,
                unit="lb" if rng.random() < pounds else "kg",
                week_start="sunday" if rng.random() < sunday else "monday",
                e1rm_formula="brzycki" if rng.random() < 0.25 else "epley",
                leaderboard_opt_in=rng.random() < 0.6,
                registered_at=min(start + timedelta(seconds=rng.randrange(3 * 86_400)), until),
                follows=tuple(followees),
            )
        )
    return SeedPlan(seed=seed, until=until, users=users)


def workout_id_of(seed: int, number: int, index: int) -> uuid.UUID:
    return uuid.uuid5(_NAMESPACE, f"{seed}/{number}/{index}")


@dataclass
class _Slot:
    role: Role
    group: str
    lift: str
    reps: int
    sets: int


@dataclass
class _Lifter:
    """One user's training habits and body, drawn once; the history is played from them."""

    rng: random.Random
    user: SeedUser
    split: tuple[Day, ...]
    weekdays: tuple[int, ...]
    hour: float  # the usual start on a weekday, in local hours
    exercises: int  # the usual number of exercises a session
    main_sets: int
    strength: float  # the starting share of a trained lifter's strength
    gain: float  # how much stronger the lifter gets, at most
    weeks_to_gain: float
    lift_factor: dict[str, float]
    bodyweight_kg: float
    trend_kg_per_week: float
    deload_every: int | None
    effort: Literal["rpe", "rir"] | None
    skip: float
    warmups: int
    to_failure: bool
    weigh_in_day: int
    program: list[list[_Slot]]

    @classmethod
    def draw(cls, rng: random.Random, user: SeedUser) -> _Lifter:
        frequency = rng.choices(list(FREQUENCIES), [f[0] for f in FREQUENCIES.values()])[0]
        _, splits, patterns = FREQUENCIES[frequency]
        level = rng.choices(("novice", "intermediate", "advanced"), (0.45, 0.4, 0.15))[0]
        strength, gain, weeks = {
            "novice": ((0.55, 0.75), (0.45, 0.7), (16, 26)),
            "intermediate": ((0.8, 1.0), (0.12, 0.25), (30, 50)),
            "advanced": ((1.05, 1.3), (0.04, 0.1), (40, 70)),
        }[level]
        lifter = cls(
            rng=rng,
            user=user,
            split=SPLITS[rng.choice(splits)],
            weekdays=rng.choice(patterns),
            hour=rng.choice((6.5, 7.0, 12.0, 17.5, 18.0, 18.5, 19.5)),
            exercises=rng.randint(4, 8),
            main_sets=rng.choice((3, 4, 5, 5)),
            strength=rng.uniform(*strength),
            gain=rng.uniform(*gain),
            weeks_to_gain=rng.uniform(*weeks),
            lift_factor={lift: rng.uniform(0.85, 1.15) for lift in LIFTS},
            bodyweight_kg=min(max(rng.gauss(80, 12), 50), 130),
            trend_kg_per_week=rng.gauss(0, 0.06),
            deload_every=rng.choice((None, None, 5, 6, 8)),
            effort=rng.choices(("rpe", "rir", None), (0.35, 0.1, 0.55))[0],
            skip=rng.uniform(0.03, 0.15),
            warmups=rng.choice((1, 2, 2)),
            to_failure=rng.random() < 0.25,
            weigh_in_day=rng.choice((0, 0, 6, 5)),
            program=[],
        )
        lifter.program = [lifter._pick(slots, []) for _, slots in lifter.split]
        return lifter

    def _pick(self, slots: tuple[tuple[Role, str], ...], current: list[_Slot]) -> list[_Slot]:
        """A day's lifts: main and secondary lifts are kept, accessories change with each block."""
        rng, chosen = self.rng, []
        for index, (role, group) in enumerate(slots):
            if current and role != "accessory":
                chosen.append(current[index])
                continue
            taken = {slot.lift for slot in chosen}
            options = [lift for lift in GROUPS[group] if lift not in taken] or list(GROUPS[group])
            reps = {"main": (3, 5, 5, 5, 6), "secondary": (6, 8, 8, 10, 12), "accessory": (8, 10, 12, 12, 15)}
            sets = {
                "main": self.main_sets,
                "secondary": rng.choice((3, 3, 4)),
                "accessory": rng.choice((2, 3, 3, 4)),
            }
            chosen.append(_Slot(role, group, rng.choice(options), rng.choice(reps[role]), sets[role]))
        return chosen

    def next_block(self) -> None:
        self.program = [
            self._pick(slots, current) for (_, slots), current in zip(self.split, self.program, strict=True)
        ]

    def load(self, lift: str, kg: float) -> Weight:
        """A load the gym has, in the lifter's unit: rounded to the equipment's steps, at least one step."""
        kind = LIFTS[lift][1]
        pounds = self.user.unit == "lb"
        step = (_STEP_LB if pounds else _STEP_KG)[kind]
        lightest = (_BAR_LB if pounds else _BAR_KG) if kind == "barbell" else step
        value = max(round((kg * _LB_PER_KG if pounds else kg) / step) * step, lightest)
        return Weight(value=float(round(value, 2)), unit=self.user.unit)

    def one_rep_max(self, lift: str, week: int) -> float:
        progress = 1 + self.gain * (1 - math.exp(-week / self.weeks_to_gain))
        return self.bodyweight_kg * LIFTS[lift][0] * self.strength * self.lift_factor[lift] * progress

    def session(self, day: int, week: int, deload: bool) -> list[WorkoutExercise]:
        """The exercises of one session of the split's `day`."""
        rng = self.rng
        readiness = min(max(rng.gauss(1.0, 0.035), 0.9), 1.08)
        slots = self.program[day]
        count = min(max(self.exercises + rng.choice((-1, 0, 0, 0, 1)), 4), len(slots))
        return [
            self._exercise(slot, position, week, deload, readiness)
            for position, slot in enumerate(slots[:count])
        ]

    def _exercise(
        self, slot: _Slot, position: int, week: int, deload: bool, readiness: float
    ) -> WorkoutExercise:
        rng = self.rng
        working_kg = (
            self.one_rep_max(slot.lift, week) / (1 + slot.reps / 30) * 0.95 * (0.87 if deload else 1.0)
        )
        weight = self.load(slot.lift, working_kg)
        sets: list[WorkoutSet] = []
        # Warm-ups ramp up to the first main lifts: the lifter's usual number on the first, one fewer next.
        warmups = max(self.warmups - position, 0) if slot.role == "main" else 0
        for fraction, reps in _RAMP[len(_RAMP) - warmups :]:
            warmup = self.load(slot.lift, working_kg * fraction)
            if warmup.value < weight.value:
                sets.append(WorkoutSet(type="warmup", reps=reps, weight=warmup))
        count = max(slot.sets - (1 if deload else 0), 2)
        for index in range(count):
            reps, completed = slot.reps, True
            kind: SetType = "normal"
            last = index == count - 1
            if last and slot.role != "accessory" and readiness < 0.96:
                reps = max(reps - rng.choice((1, 1, 2)), 1)
                if slot.role == "main" and readiness < 0.93 and rng.random() < 0.35:
                    reps, kind, completed = rng.randrange(reps), "failure", False
            elif last and slot.role == "main" and readiness > 1.04:
                reps += rng.choice((1, 2))
            elif last and slot.role == "accessory" and self.to_failure:
                reps, kind = reps + rng.randint(0, 3), "failure"
            sets.append(self._set(slot, index, reps, weight, kind, completed, readiness, deload))
        notes = rng.choice(EXERCISE_NOTES) if rng.random() < 0.01 else None
        return WorkoutExercise(exercise_id=slot.lift, sets=sets, notes=notes)

    def _set(  # noqa: PLR0917 - every argument is one attribute of the set
        self,
        slot: _Slot,
        index: int,
        reps: int,
        weight: Weight,
        kind: SetType,
        completed: bool,
        readiness: float,
        deload: bool,
    ) -> WorkoutSet:
        if self.effort is None or slot.role == "accessory":
            return WorkoutSet(type=kind, reps=reps, weight=weight, completed=completed)
        strain = (1 - readiness) * 12 + index * 0.5 - (1.5 if deload else 0.0)
        if self.effort == "rpe":
            rpe = 10.0 if kind == "failure" else min(max(round((7 + strain) * 2) / 2, 6.0), 10.0)
            return WorkoutSet(type=kind, reps=reps, weight=weight, rpe=rpe, completed=completed)
        rir = 0 if kind == "failure" else min(max(round(3 - strain), 0), 5)
        return WorkoutSet(type=kind, reps=reps, weight=weight, rir=rir, completed=completed)

    def weigh_in(self, zone: ZoneInfo, day: date, week: int) -> RecordBodyweight:
        """A morning weigh-in on the slow trend of the lifter's body weight, with the day's noise."""
        kg = self.bodyweight_kg + self.trend_kg_per_week * week + self.rng.gauss(0, 0.45)
        value = round(kg * _LB_PER_KG if self.user.unit == "lb" else kg, 1)
        weighed = datetime.combine(day, time(6, 30), zone) + timedelta(minutes=self.rng.randrange(120))
        return RecordBodyweight(day=day, weight=Weight(value, self.user.unit), at=weighed.astimezone(UTC))

    def workout(self, zone: ZoneInfo, day: date, week: int, index: int) -> Workout:
        """The lifter's `index`th session, on `day` at about their usual hour."""
        rng = self.rng
        deload = self.deload_every is not None and week % self.deload_every == self.deload_every - 1
        split_day = index % len(self.split)
        exercises = self.session(split_day, week, deload)
        hour = rng.uniform(9, 11) if day.weekday() >= 5 else self.hour + rng.gauss(0, 0.4)
        started = datetime.combine(day, time(), zone) + timedelta(seconds=int(hour * 3600))
        sets = sum(len(e.sets) for e in exercises)
        ended = started + timedelta(seconds=int(sets * rng.uniform(120, 170) + rng.uniform(300, 900)))
        return Workout(
            title=self.split[split_day][0],
            started_at=_fixed(started),
            ended_at=_fixed(ended),
            exercises=exercises,
            notes=rng.choice(WORKOUT_NOTES) if rng.random() < 0.03 else None,
        )


def _fixed(instant: datetime) -> datetime:
    """The instant with a fixed UTC offset, as a phone sends it (and as the API decodes it)."""
    offset = instant.utcoffset()
    assert offset is not None
    return instant.replace(tzinfo=timezone(offset))


def _amended(rng: random.Random, workout: Workout) -> Workout:
    """A later correction: a note added, or one more rep on some exercise's last set."""
    if rng.random() < 0.5:
        return msgspec.structs.replace(workout, notes=f"Edit: {rng.choice(WORKOUT_NOTES).lower()}")
    exercises = list(workout.exercises)
    position = rng.randrange(len(exercises))
    entry = exercises[position]
    last = entry.sets[-1]
    fixed = msgspec.structs.replace(last, reps=(last.reps or 0) + 1)
    exercises[position] = msgspec.structs.replace(entry, sets=[*entry.sets[:-1], fixed])
    return msgspec.structs.replace(workout, exercises=exercises)


def _breaks(rng: random.Random, first: date, last: date) -> list[tuple[date, date]]:
    """Holidays and sick weeks: about one break of one to two weeks every five months."""
    breaks, start = [], first
    while start < last:
        if rng.random() < 0.6:
            begin = start + timedelta(days=rng.randrange(140))
            breaks.append((begin, begin + timedelta(days=rng.randint(7, 14))))
        start += timedelta(days=140)
    return breaks


def history_of(plan: SeedPlan, number: int, user_ids: Sequence[uuid.UUID]) -> History:
    """User `number`'s operations from registration until `plan.until`, in time order.

    `user_ids[n]` is the id user n registered with.
    """
    user = plan.users[number]
    rng = _rng(plan.seed, number, "history")
    lifter = _Lifter.draw(rng, user)
    zone = ZoneInfo(user.timezone)
    first = user.registered_at.astimezone(zone).date() + timedelta(days=1)
    last = (plan.until - timedelta(seconds=1)).astimezone(zone).date()
    breaks = _breaks(rng, first, last)
    block = rng.randint(8, 12)
    timed: list[Operation] = []
    sessions = 0
    for offset in range((last - first).days + 1):
        day, week = first + timedelta(days=offset), offset // 7
        if offset % 7 == 0 and week and week % block == 0:
            lifter.next_block()
        if day.weekday() == lifter.weigh_in_day and rng.random() < 0.85:
            timed.append(lifter.weigh_in(zone, day, week))
        if (
            day.weekday() not in lifter.weekdays
            or any(a <= day < b for a, b in breaks)
            or rng.random() < lifter.skip
        ):
            continue
        workout_id = workout_id_of(plan.seed, number, sessions)
        workout = lifter.workout(zone, day, week, sessions)
        sessions += 1
        assert workout.ended_at is not None
        synced = rng.uniform(5, 300) if rng.random() < 0.85 else rng.uniform(3600, 36_000)
        logged = workout.ended_at.astimezone(UTC) + timedelta(seconds=synced)
        timed.append(LogWorkout(workout_id=workout_id, workout=workout, at=logged))
        if rng.random() < 0.015:
            logged += timedelta(seconds=rng.uniform(600, 36 * 3600))
            timed.append(AmendWorkout(workout_id=workout_id, workout=_amended(rng, workout), at=logged))
        if rng.random() < 0.012:
            timed.append(
                DeleteWorkout(
                    workout_id=workout_id, at=logged + timedelta(seconds=rng.uniform(120, 48 * 3600))
                )
            )
    for followee in user.follows:
        since = max(user.registered_at, plan.users[followee].registered_at)
        at = min(since + timedelta(seconds=rng.uniform(3600, 30 * 86_400)), plan.until - timedelta(hours=1))
        timed.append(FollowUser(followee_id=user_ids[followee], at=at))
    # A workout logged after the end is left out, with what came of it; sorting is stable, so an
    # amendment or deletion at the same instant as its workout's log still comes after it.
    kept = {op.workout_id for op in timed if isinstance(op, LogWorkout) and _at(op) < plan.until}
    operations = [
        op
        for op in timed
        if user.registered_at < _at(op) < plan.until
        and (not isinstance(op, LogWorkout | AmendWorkout | DeleteWorkout) or op.workout_id in kept)
    ]
    operations.sort(key=_at)
    return History(user_id=user_ids[number], operations=operations)


def _at(op: Operation) -> datetime:
    assert op.at is not None
    return op.at
