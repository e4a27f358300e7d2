"""Reference solution of __ID__.

Student code never sees this file: the checks compare the student's results
with it (the `reference` fixture), and `grader assign` makes the handout from
it by replacing every solution region with `raise NotImplementedError`.
"""

import numpy as np


def sigmoid(Z):
    """The logistic function 1 / (1 + exp(-Z)), elementwise."""
    return 1.0 / (1.0 + np.exp(-Z))


def sigmoid_backward(dA, Z):
    """Return dZ = dL/dZ for A = sigmoid(Z), given dA = dL/dA: an array of Z's shape."""
    # Hint: the derivative of the sigmoid is s * (1 - s), with s = sigmoid(Z).
    # BEGIN SOLUTION
    activation = sigmoid(Z)
    # The chain rule: dL/dZ = dL/dA * dA/dZ, elementwise.
    return dA * activation * (1.0 - activation)
    # END SOLUTION
