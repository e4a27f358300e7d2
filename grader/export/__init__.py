"""Exports into the systems instructors already use: a Gradescope autograder bundle, and LMS grade files."""
