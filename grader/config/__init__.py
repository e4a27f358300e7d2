"""Configuration an instructor writes: assignments, their hooks, rubrics and manual overrides, validated at load."""
