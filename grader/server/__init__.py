"""The course server: a course's configuration and rules, its web app, database and grading queue."""
