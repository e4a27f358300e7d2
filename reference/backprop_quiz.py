"""Reference answers of the chapter's questions with one right answer.

Assign each name below at module level. Numbers are checked to 1e-3
relative, shapes as tuples, exam answers as one letter "A"-"D".

The four exam questions, their options listed as the chapter lists them,
under the chapter's letters (answer with the letter):

Q1. A 2-layer network has a tanh hidden unit and a sigmoid output trained
    with cross-entropy loss. The hidden activation is a1 = 0.8, the output
    a2 = 0.3 and the label y = 1. What is dz2 = dL/dz2?
      A) -0.7
      B) 0.7
      C) -0.3
      D) 0.21

Q2. A network has L layers with n_l neurons in layer l. What does one
    forward plus backward pass over a batch of m samples cost?
      A) O(L^2)
      B) O(sum of n_l * n_{l-1} * m)
      C) O(L * n^2 * m^2)
      D) O(n^L)

Q3. Which cached forward value does the backward pass need to compute dW[l]?
      A) A[l] (the same layer's activation)
      B) A[l-1] (the previous layer's activation)
      C) Z[l+1] (the next layer's pre-activation)
      D) W[l+1] (the next layer's weights)

Q4. With step eps, what is the error of the two-sided difference
    (J(theta + eps) - J(theta - eps)) / (2 eps) as an estimate of J'(theta)?
      A) O(eps)
      B) O(eps^2)
      C) O(eps^3)
      D) O(1/eps)
"""

import math

# Every answer is one marked region that ends by assigning its public
# name(s); names with a leading underscore are the working.

# Worked example 1: f = (x + y) z at x = -2, y = 5, z = -4; q = x + y, f = q z.
# BEGIN SOLUTION
_x, _y, _z = -2.0, 5.0, -4.0
_q = _x + _y
EX1_GRADS = (_z * 1.0, _z * 1.0, _q)  # df/dq = z and dq/dx = dq/dy = 1; df/dz = q
# END SOLUTION

# Worked example 2: one sigmoid neuron, x = (2, 3), w = (0.5, -0.3), b = 0.1, y = 1,
# one gradient step with learning rate 0.1 on the cross-entropy loss.
# BEGIN SOLUTION
_x1, _x2 = 2.0, 3.0
_w1, _w2, _b, _label, _lr = 0.5, -0.3, 0.1, 1.0, 0.1
_a = 1.0 / (1.0 + math.exp(-(_w1 * _x1 + _w2 * _x2 + _b)))
_dz = _a - _label  # sigmoid and cross-entropy together
EX2_UPDATED = (_w1 - _lr * _dz * _x1, _w2 - _lr * _dz * _x2, _b - _lr * _dz)
# END SOLUTION

# B1: the partial derivatives of f(x, y) = x^2 y + 3 x y^2, as functions.
# BEGIN SOLUTION


def B1_DF_DX(x, y):
    """df/dx = 2 x y + 3 y^2."""
    return 2 * x * y + 3 * y ** 2


def B1_DF_DY(x, y):
    """df/dy = x^2 + 6 x y."""
    return x ** 2 + 6 * x * y
# END SOLUTION


# B2: the shapes in a 2-layer network with n_x = 3, n_h = 4, n_y = 1, m = 5.
# BEGIN SOLUTION
_n_x, _n_h, _n_y, _m = 3, 4, 1, 5
B2_SHAPES = {
    "X": (_n_x, _m),
    "W1": (_n_h, _n_x), "b1": (_n_h, 1), "Z1": (_n_h, _m), "A1": (_n_h, _m),
    "W2": (_n_y, _n_h), "b2": (_n_y, 1), "Z2": (_n_y, _m), "A2": (_n_y, _m),
    # A gradient has the shape of what it differentiates.
    "dZ2": (_n_y, _m), "dW2": (_n_y, _n_h), "db2": (_n_y, 1),
    "dZ1": (_n_h, _m), "dW1": (_n_h, _n_x), "db1": (_n_h, 1),
}
# END SOLUTION

# B5: f(theta) = theta^3 + 2 theta at theta = 2 with eps = 0.01: the two-sided
# numerical derivative, the analytical one, and the error between them.
# BEGIN SOLUTION
_theta, _eps = 2.0, 0.01


def _f(theta):
    return theta ** 3 + 2 * theta


B5_NUMERICAL = (_f(_theta + _eps) - _f(_theta - _eps)) / (2 * _eps)
B5_ANALYTICAL = 3 * _theta ** 2 + 2
B5_ERROR = abs(B5_NUMERICAL - B5_ANALYTICAL)  # exactly eps^2 here: f''' = 6, error = f''' eps^2 / 6
# END SOLUTION

# The four exam questions above, by letter.
# BEGIN SOLUTION
EXAM_ANSWERS = {1: "A", 2: "B", 3: "B", 4: "B"}
# END SOLUTION
