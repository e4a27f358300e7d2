"""What the lab's plot check looks for in the student's figure: the data's points where they belong, a boundary.

The worker renders the figure the student's plot_decision_boundary returns
to PNG; that image is the only evidence (what the worker says about the
figure is the student's word). The check renders three times and compares
pixels on the trusted side:

- the plot data (points of the run's training task), and the same data without half
  of its points (the extreme points kept, so that axis limits computed from
  the data stay the same): the pixels that differ are the markers of the
  removed points. They must lie where an axis-aligned map from data to
  pixels (scales and offsets fitted from the pixels themselves) puts those
  points, so a figure that does not draw the data it is given, draws other
  data, or is a picture made in advance fails;
- the same data with the network turned (it sees the plane rotated by 90
  degrees about the data's centre): the pixels that differ are the decision
  boundary (or regions) moving.

Where the removed points vanished, the image shows what lies under them:
for a figure with regions, those colours must tell the network's two
classes apart in the points' own frame, not only with the coordinates
swapped (`frames_differ`). No marker style, colour map or figure size is
assumed.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace

import numpy as np
# At the top, not in the functions: a batch's pool processes import the checks' modules once, before forking.
from scipy import ndimage
from scipy.ndimage import distance_transform_edt, map_coordinates
from scipy.spatial import cKDTree

# A pixel "differs" when its channels differ by more than this in total. Rendering is deterministic, so
# this only has to stay below the faintest marker (alpha 0.3 points on a similar background differ by ~15).
_PIXEL_THRESHOLD = 6
# Empty columns or rows (pixels) that separate two panels of one figure.
_PANEL_GAP = 12
_MIN_POINT_PIXELS = 20
_MIN_BOUNDARY_PIXELS = 50
# Shares of the removed points found at their place, and of the differing pixels near a removed point.
# Honest figures of every style tried (markers of any size and colour, a colour bar, a title naming the
# number of points, two panels) score 0.93 or more on both; figures of other points 0.75 or less.
POINTS_FOUND = 0.85
# The removed points, mapped, must span at least this share of the image across and down. A map fitted to the
# few markers of a figure that draws only some of the points shrinks the data onto them (every point "found"
# at those few markers): a plot of 50 of 200 points read 100% on some seeds. Data drawn in one panel of
# four still spans a quarter of the image.
MIN_SPREAD = 0.1
PIXELS_EXPLAINED = 0.85
# The share of the marks that changed (connected groups of at least _MIN_MARK_PIXELS changed pixels) that appeared
# when points were removed, none of their pixels vanishing. An honest scatter only loses markers (a removed marker
# on top of a kept one reveals that one's edge, but inside the same mark): 0.02 at most over 30 correct plots x 24
# draws (legends, colour bars, confusion-matrix panels). A plot of the first 50 of 200 points shows markers in
# the subset's picture that the full one did not: 0.35-0.50 on the same 24 draws.
MAX_NEW_MARKS = 0.1
_MIN_MARK_PIXELS = 3


@dataclass
class PointEvidence:
    """How well the pixels that vanished with the removed points match those points' positions."""

    pixels: int
    found: float       # share of removed points with a vanished pixel at their fitted position
    explained: float   # share of vanished pixels near some removed point's fitted position
    spread: float = 1.0  # the fitted positions' extent, as a share of the image (the smaller of the two axes)
    new_marks: float = 0.0  # share of the changed marks that appeared, not vanished, with the points removed
    centers: np.ndarray | None = field(default=None, repr=False, compare=False)  # the removed points' (col, row)

    @property
    def ok(self) -> bool:
        """Whether the figure shows the data where it belongs."""
        return (self.pixels >= _MIN_POINT_PIXELS and self.found >= POINTS_FOUND and self.explained >= PIXELS_EXPLAINED
                and self.spread >= MIN_SPREAD and self.new_marks <= MAX_NEW_MARKS)


def subset_with_extremes(X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Indices of about half of the columns of `X`, always including each coordinate's minimum and maximum."""
    m = X.shape[1]
    keep = set(int(i) for i in rng.permutation(m)[:m // 2])
    for row in X:
        keep |= {int(np.argmin(row)), int(np.argmax(row))}
    return np.array(sorted(keep))


def shifted_params(params: dict, X: np.ndarray, forward=None) -> dict:
    """`params` whose network sees the plane turned by 90 degrees about the centre of `X`.

    Its boundary is the original one turned: it moves in any figure drawn
    from the network's predictions, whatever the plotting style (filled
    regions or a contour line) and even through a student's own forward pass
    with a bug such as a missing bias (only the first layer's weights need to
    be used). `forward` is accepted for symmetry with `boundary_moves`.
    """
    center = X.mean(axis=1, keepdims=True)
    turn = np.array([[0.0, -1.0], [1.0, 0.0]])
    moved = {k: np.array(v, dtype=float) for k, v in params.items()}
    W1 = np.asarray(params["W1"], dtype=float)
    moved["W1"] = W1 @ turn
    moved["b1"] = np.asarray(params["b1"], dtype=float).reshape(-1, 1) + W1 @ (center - turn @ center)
    return moved


def boundary_moves(params: dict, X: np.ndarray, forward) -> bool:
    """Whether `shifted_params` changes the predicted class of at least a tenth of `X`.

    Not so for a network whose output does not depend on its input (dead
    hidden units): it has no boundary to draw, whatever plots it.
    """
    before = forward(X, params)[0] > 0.5
    after = forward(X, shifted_params(params, X, forward))[0] > 0.5
    return float(np.mean(before != after)) >= 0.1


def differing(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The mask of pixels that differ between two RGB images of one size."""
    # The channels are added one by one: numpy's sum over a last axis of three is several times slower.
    change = np.abs(np.subtract(a, b, dtype=np.int16))
    return change[..., 0] + change[..., 1] + change[..., 2] > _PIXEL_THRESHOLD


def boundary_pixels(full: np.ndarray, shifted: np.ndarray) -> int:
    """How many pixels changed when only the network's output changed."""
    return int(differing(full, shifted).sum())


def boundary_shown(moved_pixels: int) -> bool:
    """Whether the figure depends on the network (a boundary or regions that move with it), from the
    `boundary_pixels` of its drawing before and after the network moved."""
    return moved_pixels >= _MIN_BOUNDARY_PIXELS


def point_evidence(full: np.ndarray, subset: np.ndarray, removed: np.ndarray) -> PointEvidence:
    """Compare the pixels that vanished with the removed points `removed` (2, k), under the best-fitting map.

    A figure may show the data in more than one panel (the data alone, then
    with the boundary, side by side or stacked): when the vanished pixels as
    a whole do not match, they are cut at their widest empty band of columns
    (or rows), where panels part, and each side is judged by itself (cut
    again, for three or four panels). A side that shows the removed points
    where the data puts them (`PointEvidence.ok`: nearly all of them, and
    nearly nothing else) is evidence enough, whatever another panel does
    when points are removed (a confusion matrix or a histogram of the data
    changes too). Gaps inside the data (between the two moons) are narrower
    than the margins, labels and spacing between two panels.

    Removing points only takes markers away: a side where marks appeared
    instead (`MAX_NEW_MARKS`) draws points of its own choosing, e.g. the first
    50 of whichever points it is given, and is not evidence either.
    """
    mask = differing(full, subset)
    appeared = _appeared(full, subset, mask)
    evidence = _best_part(mask, removed, 2, appeared)
    if evidence.ok:
        return evidence
    # What failed may be a panel cut from the figure, with fewer of the marks that appeared: say what the whole shows.
    return replace(evidence, new_marks=max(evidence.new_marks, _new_marks(mask, appeared)))


def _appeared(full: np.ndarray, subset: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The changed pixels (`mask`) that show something in `subset` rather than in `full`.

    A removed marker's pixels turn into what lies around them (the regions,
    the axes' background): the colour of the unchanged pixels bordering the
    changed ones. A changed pixel whose `subset` colour is farther from that
    border colour than its `full` colour gained a mark instead of losing one.
    """
    appeared = np.zeros_like(mask)
    rows, cols = np.nonzero(mask)
    if rows.size == 0:
        return appeared
    # Worked out on the changed pixels' box only (with the two-pixel border): the rest of the image plays no part.
    top, left = max(int(rows.min()) - 2, 0), max(int(cols.min()) - 2, 0)
    box = (slice(top, int(rows.max()) + 3), slice(left, int(cols.max()) + 3))
    changed, rows, cols = mask[box], rows - top, cols - left
    labels, count = ndimage.label(changed)
    # Each pixel within two of a changed group takes the group's label (the largest, where two groups are near).
    spread = ndimage.grey_dilation(labels, size=(5, 5))
    border = (spread > 0) & ~changed
    owner = spread[border]
    colours = full[box][border].astype(float)
    counts = np.bincount(owner, minlength=count + 1)
    around = np.column_stack([np.bincount(owner, weights=colours[:, c], minlength=count + 1) for c in range(3)]) \
        / np.maximum(counts, 1)[:, None]
    near = around[labels[rows, cols]]
    lost = np.abs(full[box][rows, cols] - near).sum(axis=1)
    gained = np.abs(subset[box][rows, cols] - near).sum(axis=1) > lost
    appeared[rows[gained] + top, cols[gained] + left] = True
    return appeared


def _new_marks(mask: np.ndarray, appeared: np.ndarray) -> float:
    """The share of `mask`'s marks (8-connected groups of at least _MIN_MARK_PIXELS pixels) that are all
    `appeared` pixels (nine tenths or more: anti-aliased edges may read either way)."""
    labels, count = ndimage.label(mask, structure=np.ones((3, 3), dtype=bool))
    if count == 0:
        return 0.0
    size = np.bincount(labels[mask], minlength=count + 1)[1:]
    gained = np.bincount(labels[appeared & mask], minlength=count + 1)[1:]
    marks = size >= _MIN_MARK_PIXELS
    return float(np.sum(marks & (gained >= 0.9 * size)) / max(int(marks.sum()), 1))


# The frame check (`frames_differ`): region colours under the removed points that tell the network's two
# classes apart this well with the data's coordinates swapped, and clearly better than without, mean points and
# regions drawn in different frames. Clearly: by at least half the share of the points whose class the swap
# changes (at least FRAME_MARGIN); when the swap changes the class of almost no point, both frames show the
# same colours and nothing can tell them apart. The old rule (a fixed margin of 0.02) flagged correct plots with
# the grader's network carried to the task (it stood in when train failed, until the stand-in was fitted to the
# run's data) on 1 of 16 draws: a position whose marker hid under a kept one read 0.95 unswapped while the
# swapped positions read 1.0. Measured with
# `plot_points`' choice of points on 26 correct plot styles x 16 draws of the lab's task, each with the trained
# and with the carried network (822 readings): never flagged, none within 0.044 of the line. scatter(X[1], X[0])
# over contourf(xx, yy, ...): flagged on 29 of 32 draws; of the other three, one network changed the class of 4%
# of the points under the swap and two read only 0.04 and 0.10 better swapped.
# `regions_in_another_frame` asks the same of a second reading that uses no colours (where the picture changed
# when the network turned, as a balanced accuracy over a grid of probes). 18 correct plot styles of the lab's
# fixtures x 20 grading seeds (375 readings, with first judgements through a wrong forward pass) and the 5 test
# styles x 16 draws: never flagged, the swapped reading at most 0.80. bug_plot_scatter_swapped on 20 seeds
# (the two the colours missed among them): flagged on all 20, swapped 0.955-0.988 against fitted 0.41-0.75.
FRAME_SWAPPED = 0.9
FRAME_MARGIN = 0.02
FRAME_INFORMATIVE = 0.05
FRAME_SHARE = 0.5


def frames_differ(subset: np.ndarray, removed: np.ndarray, classes: np.ndarray, swapped_classes: np.ndarray,
                  evidence: PointEvidence) -> bool:
    """Whether the figure draws its points and its regions in different frames (the points' coordinates
    swapped): judged from the colours left where the removed points vanished (`subset`, drawn without them),
    against the network's class of each point (`classes`, booleans), placed by `evidence`'s fitted map, and
    of each point with its coordinates swapped (`swapped_classes`)."""
    informative = float(np.mean(classes != swapped_classes)) if classes.size else 0.0
    if not evidence.ok or min(classes.sum(), (~classes).sum()) < 5 or informative < FRAME_INFORMATIVE:
        return False
    axes = _axes(removed, evidence.centers)
    if axes is None:
        return False
    fitted, swapped = (_separated(subset, _placed(axes, removed, s), classes) for s in (False, True))
    return _swapped_reads_better(fitted, swapped, informative)


def regions_in_another_frame(changed: np.ndarray, X: np.ndarray, params: dict, moved_params: dict, forward,
                             removed: np.ndarray, evidence: PointEvidence) -> bool:
    """Whether the figure draws its regions in another frame than its points (the coordinates swapped), judged
    from where the picture changed when the network turned (`changed`: `differing` of the figure drawn with
    `params` and with `moved_params`).

    The places of the plane whose class the turn changes (probes on a grid over `X`'s extent), put where the
    points' fitted map would draw them, should be the pixels that changed; when they match far better with
    each probe's coordinates swapped, the regions are drawn in the swapped frame. Unlike `frames_differ` it
    reads no colours, so regions whose colours under the points happen to follow the network's classes both
    ways are seen too (bug_plot_scatter_swapped on seeds 908218103 and 1085177457). Regions that change
    almost everywhere when the network turns (shaded by probability) match neither way: nothing is judged.
    """
    if not evidence.ok:
        return False
    axes = _axes(removed, evidence.centers)
    if axes is None:
        return False
    probes = _probes(X)
    (before, before_swapped), (after, after_swapped) = (classes_and_swapped(probes, p, forward)
                                                        for p in (params, moved_params))
    change = before != after
    informative = float(np.mean(change != (before_swapped != after_swapped)))
    if informative < FRAME_INFORMATIVE or change.all() or not change.any():
        return False
    fitted, swapped = (_agreement(changed, _placed(axes, probes, s), change) for s in (False, True))
    return _swapped_reads_better(fitted, swapped, informative)


def _swapped_reads_better(fitted: float, swapped: float, informative: float) -> bool:
    """Whether a frame reading (`fitted` under the points' map, `swapped` with the coordinates swapped) says
    the frames differ: the swapped one near perfect and clearly better (see FRAME_SHARE)."""
    return swapped >= FRAME_SWAPPED and fitted < swapped - max(FRAME_MARGIN, FRAME_SHARE * informative)


def _axes(removed: np.ndarray, centers: np.ndarray | None) -> list[tuple[int, float, float]] | None:
    """For each pixel axis, (the data coordinate it follows, slope, offset), fitted to the removed points'
    `centers`; None when there are none or both pixel axes follow one coordinate."""
    if centers is None:
        return None
    axes = []
    for pixel_axis in (0, 1):  # which data coordinate each pixel axis follows, and how
        follows = int(np.argmax([abs(np.corrcoef(removed[d], centers[:, pixel_axis])[0, 1]) for d in (0, 1)]))
        slope, offset = np.polyfit(removed[follows], centers[:, pixel_axis], 1)
        axes.append((follows, slope, offset))
    return None if axes[0][0] == axes[1][0] else axes


def _placed(axes: list[tuple[int, float, float]], points: np.ndarray, swapped: bool) -> np.ndarray:
    """(col, row) pixel places of `points` (2, n) under `_axes`' map, their coordinates swapped first if asked."""
    return np.column_stack([slope * points[1 - d if swapped else d] + offset for d, slope, offset in axes])


# Probes per side of the grid over the data's extent on which `regions_in_another_frame` compares the network's
# classes before and after the turn with the pixels that changed.
_PROBES_PER_SIDE = 60


def _probes(X: np.ndarray) -> np.ndarray:
    """A (2, n) grid of points spanning the bounding box of the columns of `X`."""
    low, high = X.min(axis=1), X.max(axis=1)
    a, b = np.meshgrid(np.linspace(0.0, 1.0, _PROBES_PER_SIDE), np.linspace(0.0, 1.0, _PROBES_PER_SIDE))
    return np.vstack([low[0] + (high[0] - low[0]) * a.ravel(), low[1] + (high[1] - low[1]) * b.ravel()])


def _agreement(changed: np.ndarray, places: np.ndarray, change: np.ndarray) -> float:
    """How well the `changed` pixels at `places` follow `change`: the mean of the shares of changing and of
    unchanging probes read right (a balanced accuracy, so that neither kind outweighs the other)."""
    height, width = changed.shape
    at = np.clip(np.round(places).astype(int), 0, [width - 1, height - 1])
    seen = changed[at[:, 1], at[:, 0]]
    return float((seen[change].mean() + (~seen[~change]).mean()) / 2)


def classes_and_swapped(X: np.ndarray, params: dict, forward) -> tuple[np.ndarray, np.ndarray]:
    """The network's class (booleans) of each column of `X`, and of each with its two coordinates swapped."""
    return (forward(X, params)[0] > 0.5).ravel(), (forward(X[::-1], params)[0] > 0.5).ravel()


def plotted_data(X: np.ndarray, Y: np.ndarray, params: dict, forward, size: int,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(X, Y, keep) the plot check draws: `plot_points`' choice of `size` columns of the data for the network
    `params`, and the indices of those kept in the second drawing (`subset_with_extremes`)."""
    chosen = plot_points(*classes_and_swapped(X, params, forward), size, rng)
    X, Y = X[:, chosen], Y[:, chosen]
    return X, Y, subset_with_extremes(X, rng)


def plot_points(classes: np.ndarray, swapped_classes: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of `size` columns of the data to plot (all of them when there are fewer), drawn at random, a
    quarter of them (or as many as there are) among the points whose class the network changes when their
    coordinates are swapped.

    Those points can show a plot whose points and regions are drawn in different frames (`frames_differ`):
    a plain random sample may hold almost none (a boundary near the diagonal), and one that is mostly such
    points reads alike in both frames (every colour swapped is as consistent as none).
    """
    m = classes.size
    if m <= size:
        return np.arange(m)
    informative = np.flatnonzero(classes != swapped_classes)
    plain = np.flatnonzero(classes == swapped_classes)
    count = min(informative.size, max(size // 4, size - plain.size))
    chosen = np.concatenate([rng.choice(informative, size=count, replace=False),
                             rng.choice(plain, size=size - count, replace=False)])
    return np.sort(chosen)


def _separated(image: np.ndarray, places: np.ndarray, classes: np.ndarray) -> float:
    """How well the colours at `places` tell `classes` apart: the share each class's mean colour gets right."""
    height, width = image.shape[:2]
    at = np.clip(np.round(places).astype(int), 0, [width - 1, height - 1])
    colours = image[at[:, 1], at[:, 0]].astype(float)
    one, other = colours[classes].mean(axis=0), colours[~classes].mean(axis=0)
    nearer_one = np.linalg.norm(colours - one, axis=1) < np.linalg.norm(colours - other, axis=1)
    return float(np.mean(nearer_one == classes))


def _best_part(mask: np.ndarray, removed: np.ndarray, depth: int, appeared: np.ndarray) -> PointEvidence:
    """The evidence of `mask`, or of its panels when the whole does not match (see `point_evidence`);
    `appeared`: the changed pixels that gained a mark (`_appeared`)."""
    whole = _evidence(mask, removed, _new_marks(mask, appeared))
    if whole.ok or depth == 0:
        return whole
    best = whole
    for axis in (0, 1):  # a cut between columns (panels side by side), then between rows
        sides = [side for side in _cut(mask, axis) if side.sum() >= _MIN_POINT_PIXELS]
        if not sides:
            continue
        judged = [_best_part(side, removed, depth - 1, appeared) for side in sides]
        candidate = max(judged, key=lambda e: (e.ok, e.found + e.explained))
        if candidate.ok:
            return candidate
        best = max(best, candidate, key=lambda e: e.found + e.explained)
    return best


def _cut(mask: np.ndarray, axis: int) -> list[np.ndarray]:
    """`mask` cut in two at its widest band of empty columns (axis 0) or rows (axis 1), if one is wide enough."""
    occupied = np.nonzero(mask.any(axis=axis))[0]
    if occupied.size < 2:
        return []
    gaps = np.diff(occupied)
    widest = int(np.argmax(gaps))
    if gaps[widest] <= _PANEL_GAP:
        return []
    at = int(occupied[widest]) + 1
    first, second = np.zeros_like(mask), np.zeros_like(mask)
    if axis == 0:
        first[:, :at], second[:, at:] = mask[:, :at], mask[:, at:]
    else:
        first[:at], second[at:] = mask[:at], mask[at:]
    return [first, second]


def _evidence(mask: np.ndarray, removed: np.ndarray, new_marks: float = 0.0) -> PointEvidence:
    """The best of the axis-aligned maps (which data axis is horizontal, either direction of each); `new_marks`
    (see `_new_marks`) is the same for every map."""
    rows, cols = np.nonzero(mask)
    if rows.size < _MIN_POINT_PIXELS or removed.shape[1] == 0:
        return PointEvidence(int(rows.size), 0.0, 0.0, new_marks=new_marks)
    height, width = mask.shape
    tolerance = 3.0 + 0.01 * max(height, width)
    radius = np.sqrt(rows.size / removed.shape[1] / np.pi)  # the markers' typical visible radius
    pixels = np.column_stack([cols, rows]).astype(float)
    # The distance from a pixel to the nearest vanished one, as the exact distance transform of ~mask has it:
    # asked for at about a hundred places, a tree of the vanished pixels answers without transforming the image.
    vanished = cKDTree(pixels)
    def scored(centers: np.ndarray) -> PointEvidence:
        inside = (centers[:, 0] >= 0) & (centers[:, 0] < width) & (centers[:, 1] >= 0) & (centers[:, 1] < height)
        at = np.clip(np.round(centers).astype(int), 0, [width - 1, height - 1])
        to_mask, _ = vanished.query(at.astype(float), k=1)
        found = float(np.mean(inside & (to_mask <= tolerance)))
        near, _ = cKDTree(centers).query(pixels, k=1)
        spread = float(min(np.ptp(centers[:, 0]) / width, np.ptp(centers[:, 1]) / height))
        return PointEvidence(int(rows.size), found, float(np.mean(near <= radius + tolerance)), spread, new_marks,
                             centers)

    # Every orientation is fitted to the blobs first (cheap); the chamfer refinement below moves a map by a few
    # pixels and is the costly step, so it runs only when no blob fit already shows the data where it belongs.
    blobs = _blobs(mask)
    fits = []
    # Image rows grow downwards, so the usual orientation (x to the right, y up) is tried first.
    for horizontal, sign_v, sign_h in itertools.product((0, 1), (-1, 1), (1, -1)):
        points = np.column_stack([sign_h * removed[horizontal], sign_v * removed[1 - horizontal]])
        centers = _fitted(points, pixels, blobs)
        evidence = scored(centers)
        if evidence.ok:
            return evidence  # the data is shown where it belongs: no other map or refinement can change that
        fits.append((evidence, points, centers))
    # The refinement is the costly step: the most promising orientations first, and none after one shows the
    # data where it belongs. Every orientation gets its chance: small, faint markers that merge into a few blobs
    # can mislead the blob fit's ranking (a correct figure once read 81% with only the best two refined).
    fits.sort(key=lambda fit: -(fit[0].found + fit[0].explained))
    if new_marks > MAX_NEW_MARKS:
        return fits[0][0]  # no map can make marks that appeared into points that vanished: nothing to refine
    best = PointEvidence(int(rows.size), 0.0, 0.0, new_marks=new_marks)
    distance_to_mask = distance_transform_edt(~mask)  # the refinement interpolates it between pixels
    for evidence, points, centers in fits:
        refined = scored(_refined(points, centers, pixels, distance_to_mask, radius + tolerance))
        if refined.ok:
            return refined
        for candidate in (evidence, refined):
            if candidate.found + candidate.explained > best.found + best.explained:
                best = candidate
    return best


# How many of the vanished pixels the chamfer refinement matches (an even sample when there are more).
_CHAMFER_PIXELS = 800


def _refined(points: np.ndarray, centers: np.ndarray, pixels: np.ndarray, distance_to_mask: np.ndarray,
             cap: float) -> np.ndarray:
    """`centers` (the blob-matched map of `points`) improved by chamfer matching in both directions.

    Matching points to blobs is biased where markers merge into one blob (a
    dense arc of small markers) and can leave the map several pixels off.
    The map's four numbers (a scale and an offset per axis) are then tuned
    to bring each mapped point onto a vanished pixel and each vanished pixel
    near a mapped point, every distance capped at `cap` so that stray pixels
    (a title naming the number of points) and hidden markers weigh little.
    """
    # Imported here: only a figure whose blobs mislead the first fit gets this far, and scipy.optimize would add
    # 0.2 s to the start of every batch (its fork server imports this module before any student is graded).
    from scipy.optimize import minimize

    start = []
    for axis in range(2):
        if np.ptp(points[:, axis]) == 0:
            return centers
        start.extend(np.polyfit(points[:, axis], centers[:, axis], 1))

    def mapped(theta: np.ndarray) -> np.ndarray:
        return np.column_stack([points[:, 0] * theta[0] + theta[1], points[:, 1] * theta[2] + theta[3]])

    # The vanished pixels' side of the matching is a mean over thousands of pixels: an even sample of them
    # gives the same fit for a fraction of the cost (each evaluation queries every one of them).
    sample = pixels[np.linspace(0, len(pixels) - 1, num=min(len(pixels), _CHAMFER_PIXELS)).astype(int)]

    def cost(theta: np.ndarray) -> float:
        at = mapped(theta)
        onto = map_coordinates(distance_to_mask, [at[:, 1], at[:, 0]], order=1, mode="constant", cval=cap)
        near, _ = cKDTree(at).query(sample, k=1)
        return float(np.mean(np.minimum(onto, cap)) + np.mean(np.minimum(near, cap)))

    result = minimize(cost, np.array(start), method="Nelder-Mead",
                      options={"xatol": 0.25, "fatol": 1e-2, "maxiter": 200})
    return mapped(result.x) if result.fun < cost(np.array(start)) else centers


def _blobs(mask: np.ndarray) -> np.ndarray:
    """The centres (x, y) of the connected blobs of `mask` (a marker, or a few merged ones); (0, 2) if none."""
    labels, count = ndimage.label(mask)
    if count == 0:
        return np.empty((0, 2))
    # ndimage.center_of_mass's sums, taken over the blobs' pixels only (in the same order, so the same values).
    rows, cols = np.nonzero(mask)
    blob = labels[rows, cols]
    size = np.bincount(blob, minlength=count + 1)[1:]
    return np.column_stack([np.bincount(blob, weights=cols, minlength=count + 1)[1:] / size,
                            np.bincount(blob, weights=rows, minlength=count + 1)[1:] / size])


def _fitted(points: np.ndarray, pixels: np.ndarray, blobs: np.ndarray) -> np.ndarray:
    """`points` (k, 2) mapped onto pixel positions by per-axis scales and offsets fitted to the image.

    First from the quartiles of the pixels (robust to a few stray ones, such
    as a title naming the number of points), then refined by matching each
    mapped point to the nearest of `blobs` (`_blobs` of the vanished
    pixels) and solving for the scales and offsets again, the worst fifth of
    the matches left out, until the map settles.
    """
    centers = np.empty_like(points, dtype=float)
    for axis in range(2):
        s_lo, s_mid, s_hi = np.percentile(points[:, axis], [25, 50, 75])
        t_lo, t_mid, t_hi = np.percentile(pixels[:, axis], [25, 50, 75])
        scale = (t_hi - t_lo) / (s_hi - s_lo) if s_hi > s_lo else 0.0
        centers[:, axis] = (points[:, axis] - s_mid) * scale + t_mid
    if len(blobs) == 0:
        return centers
    tree = cKDTree(blobs)
    for _ in range(12):
        distance, nearest = tree.query(centers)
        kept = distance <= np.quantile(distance, 0.8)
        if kept.sum() < 3:
            break
        updated = np.empty_like(centers)
        for axis in range(2):
            source, target = points[kept, axis], blobs[nearest[kept], axis]
            if np.ptp(source) == 0:
                return centers
            scale, offset = np.polyfit(source, target, 1)
            updated[:, axis] = points[:, axis] * scale + offset
        if np.allclose(updated, centers, atol=0.05):
            return updated
        centers = updated
    return centers
