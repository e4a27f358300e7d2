"""A sandboxed grader for the backpropagation chapter's labs and exercises."""

__version__ = "0.2.0"
