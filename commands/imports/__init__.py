"""Imports of other apps' exports (Strong, Hevy): parsing into Workouts, then logging them."""
