"""Face tracks: associate per-frame detections over time, fill short gaps, smooth, hold a
still face still.

Positions are indices into the sequence of frames that was detected (with sampled
frames, the n-th sampled frame is position n); `times` are their timestamps in
seconds, which the One-Euro filter needs for uneven frame steps."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from vidswap.errors import ConfigError
from vidswap.faces.align import umeyama
from vidswap.faces.detect import Detection


@dataclass(frozen=True)
class Track:
    id: int  # tracks are numbered by first appearance (then left to right)
    positions: np.ndarray  # (n,) int, consecutive: gaps are filled
    times: np.ndarray  # (n,) float seconds
    boxes: np.ndarray  # (n, 4) float32 x1, y1, x2, y2
    landmarks: np.ndarray  # (n, 5, 2) float32
    scores: np.ndarray  # (n,) float32; 0 where interpolated
    det_index: np.ndarray  # (n,) int: which of detections[position] this is; -1 where interpolated

    def __len__(self) -> int:
        return len(self.positions)

    @property
    def detected(self) -> np.ndarray:
        """(n,) bool: False where the position was interpolated."""
        return self.det_index >= 0

    def index_of(self, position: int) -> int | None:
        """Row of this track at `position`, or None when the track is absent there."""
        i = position - int(self.positions[0])
        return i if 0 <= i < len(self) else None

    @property
    def total_area(self) -> float:
        """Box area summed over the track: big and long-lived faces rank first."""
        wh = self.boxes[:, 2:] - self.boxes[:, :2]
        return float((wh[:, 0] * wh[:, 1]).sum())


def track_faces(
    detections: Sequence[Sequence[Detection]],
    times: Sequence[float] | None = None,
    *,
    min_iou: float = 0.3,
    max_center_shift: float = 0.5,
    max_gap: int = 8,
    min_length: int = 3,
) -> list[Track]:
    """Link `detections[position]` into tracks.

    A detection continues a track seen at most `max_gap` positions ago when their
    boxes overlap by `min_iou` or their centres are within `max_center_shift` box
    sizes (fast motion leaves no overlap); pairs are matched greedily, closest first.
    Missed positions inside a track are interpolated; tracks with fewer than
    `min_length` real detections are dropped."""
    if max_gap < 0 or min_length < 1:
        raise ConfigError(f"max_gap must be >= 0 and min_length >= 1, got {max_gap}, {min_length}")
    n = len(detections)
    t = np.arange(n, dtype=np.float64) / 30.0 if times is None else np.asarray(times, np.float64)
    if len(t) != n:
        raise ValueError(f"{len(t)} times for {n} frames")

    chains: list[list[tuple[int, int]]] = []  # per track: (position, index into detections[position])
    active: list[int] = []  # indices into chains
    for pos, found in enumerate(detections):
        active = [c for c in active if pos - chains[c][-1][0] <= max_gap + 1]
        pairs = []
        for c in active:
            last_pos, last_d = chains[c][-1]
            last = detections[last_pos][last_d]
            for d, det in enumerate(found):
                cost = _match_cost(last, det, min_iou, max_center_shift)
                if cost is not None:
                    pairs.append((cost, c, d))
        used_chains, used_dets = set(), set()
        for _, c, d in sorted(pairs):
            if c not in used_chains and d not in used_dets:
                chains[c].append((pos, d))
                used_chains.add(c)
                used_dets.add(d)
        for d in range(len(found)):
            if d not in used_dets:
                chains.append([(pos, d)])
                active.append(len(chains) - 1)

    kept = [c for c in chains if len(c) >= min_length]
    kept.sort(key=lambda c: (c[0][0], float(detections[c[0][0]][c[0][1]].center[0])))
    return [_fill(i, chain, detections, t) for i, chain in enumerate(kept)]


def _match_cost(a: Detection, b: Detection, min_iou: float, max_center_shift: float) -> float | None:
    size_a, size_b = math.sqrt(a.area), math.sqrt(b.area)
    if not 0.5 <= size_b / max(size_a, 1e-6) <= 2.0:  # a face does not double in a few frames
        return None
    shift = float(np.linalg.norm(a.center - b.center)) / max(size_a, 1e-6)
    if shift > max_center_shift and _iou(a.box, b.box) < min_iou:
        return None
    return shift


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def _fill(
    track_id: int, chain: list[tuple[int, int]], detections: Sequence[Sequence[Detection]], times: np.ndarray
) -> Track:
    """Turn a chain of (position, detection index) into a gap-free track, interpolating linearly."""
    seen = np.array([p for p, _ in chain])
    dets = [detections[p][d] for p, d in chain]
    positions = np.arange(seen[0], seen[-1] + 1)
    values = np.stack([np.concatenate([d.box, d.landmarks.ravel()]) for d in dets])
    filled = np.stack([np.interp(positions, seen, values[:, k]) for k in range(values.shape[1])], axis=1)
    det_index = np.full(len(positions), -1)
    det_index[seen - seen[0]] = [d for _, d in chain]
    scores = np.zeros(len(positions), np.float32)
    scores[seen - seen[0]] = [d.score for d in dets]
    return Track(
        id=track_id,
        positions=positions,
        times=times[positions],
        boxes=filled[:, :4].astype(np.float32),
        landmarks=filled[:, 4:].reshape(-1, 5, 2).astype(np.float32),
        scores=scores,
        det_index=det_index,
    )


class OneEuroFilter:
    """Casiez et al.'s One-Euro filter over vectors: a low-pass whose cutoff rises with
    speed, so a still face stops jittering while a moving one does not lag.

    `min_cutoff` (Hz): lower is smoother when still; `beta`: higher follows fast motion
    more closely; `d_cutoff` (Hz): smoothing of the speed estimate."""

    def __init__(self, min_cutoff: float = 1.0, beta: float = 3.0, d_cutoff: float = 1.0):
        if min_cutoff <= 0 or d_cutoff <= 0 or beta < 0:
            raise ConfigError("One-Euro cutoffs must be > 0 and beta >= 0")
        self.min_cutoff, self.beta, self.d_cutoff = min_cutoff, beta, d_cutoff
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None
        self._t = 0.0

    @staticmethod
    def _alpha(cutoff: np.ndarray | float, dt: float) -> np.ndarray | float:
        tau = 1.0 / (2 * math.pi * cutoff)
        return 1.0 / (1.0 + tau / dt)

    def __call__(self, x: np.ndarray, t: float) -> np.ndarray:
        x = np.asarray(x, np.float64)
        if self._x is None:
            self._x, self._dx, self._t = x, np.zeros_like(x), t
            return x
        dt = max(t - self._t, 1e-6)
        dx = (x - self._x) / dt
        self._dx = self._dx + self._alpha(self.d_cutoff, dt) * (dx - self._dx)
        cutoff = self.min_cutoff + self.beta * np.abs(self._dx)
        self._x = self._x + self._alpha(cutoff, dt) * (x - self._x)
        self._t = t
        return self._x


def smooth_track(track: Track, *, min_cutoff: float = 1.0, beta: float = 3.0, d_cutoff: float = 1.0) -> Track:
    """The track with its boxes and landmarks One-Euro filtered over its timestamps.

    Coordinates are filtered in units of the track's median face size, so the same
    `beta` suits a 50 px and a 500 px face."""
    values = np.concatenate([track.boxes, track.landmarks.reshape(len(track), 10)], axis=1)
    scale = _face_size(track)
    f = OneEuroFilter(min_cutoff, beta, d_cutoff)
    out = np.stack([f(v / scale, float(t)) for v, t in zip(values, track.times)]) * scale
    return replace(
        track,
        boxes=out[:, :4].astype(np.float32),
        landmarks=out[:, 4:].reshape(-1, 5, 2).astype(np.float32),
    )


HOLD_SETTLE = 8  # frames a followed face must stay within the hold to be held again


def hold_still(track: Track, hold: float) -> Track:
    """The track with its landmarks and boxes held exactly still while the face is still.

    Why: landmark noise left by the smoothing moves the aligned crop under a face that does
    not move, and a generator's texture is tied to its crop's pixel grid, so the pasted
    face's texture would crawl. A face is held while the rigid part of its move away from
    where it was held stays within `hold` face sizes; beyond that it is followed frame by
    frame (no lag) until it moves less than `hold` over HOLD_SETTLE frames, and is held
    there. So a still face's crop never moves, a moving face's lags at most `hold` face
    sizes as it starts, and a face drifting slower than the noise steps by at most `hold`.
    0 holds nothing."""
    if hold < 0:
        raise ConfigError(f"face hold must be >= 0, got {hold}")
    if hold == 0:
        return track
    limit = hold * _face_size(track)
    landmarks, boxes = track.landmarks.copy(), track.boxes.copy()
    held: int | None = 0  # the row held, None while the face is followed
    for i in range(1, len(track)):
        if held is not None and _rigid_move(track.landmarks[held], track.landmarks[i]) <= limit:
            landmarks[i], boxes[i] = landmarks[held], boxes[held]
        elif i >= HOLD_SETTLE and _rigid_move(track.landmarks[i - HOLD_SETTLE], track.landmarks[i]) <= limit:
            held = i
        else:
            held = None
    return replace(track, landmarks=landmarks, boxes=boxes)


def _face_size(track: Track) -> float:
    """The track's median box side (square root of the area), at least 1 px."""
    wh = track.boxes[:, 2:] - track.boxes[:, :2]
    return max(float(np.median(np.sqrt(wh[:, 0] * wh[:, 1]))), 1.0)


def _rigid_move(a: np.ndarray, b: np.ndarray) -> float:
    """How far (px) the similarity best taking landmarks `a` to `b` moves them: their rigid
    move, without the mouth's and eyes' own motion."""
    m = umeyama(a, b)
    return float(np.linalg.norm(a @ m[:, :2].T + m[:, 2] - a, axis=1).max())


def select_tracks(tracks: Sequence[Track], which: str | int = "largest") -> list[Track]:
    """`largest` (the most face area over time), `all`, or the track with that id."""
    if which == "all":
        return list(tracks)
    if which == "largest":
        return [max(tracks, key=lambda tr: tr.total_area)] if tracks else []
    if isinstance(which, int) or (isinstance(which, str) and which.isdigit()):
        wanted = int(which)
        return [tr for tr in tracks if tr.id == wanted]
    raise ConfigError(f"face selection must be 'largest', 'all' or a track number, got {which!r}")


@dataclass(frozen=True)
class TrackAgreement:
    """How well `test` tracks reproduce `reference` tracks (compare_tracks)."""

    errors: np.ndarray  # landmark distances over the frames both cover, in reference face sizes
    lost: int  # reference tracks no test track follows for at least `min_cover` of their frames
    split: int  # reference tracks followed by more than one test track

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.errors, q)) if len(self.errors) else 0.0


def compare_tracks(
    reference: Sequence[Track], test: Sequence[Track], *, min_iou: float = 0.5, min_cover: float = 0.9
) -> TrackAgreement:
    """Match each reference track to the test tracks whose boxes overlap it by `min_iou`
    on average over their common positions; a face's size is its box's square root area."""
    errors, lost, split = [], 0, 0
    for ref in reference:
        matched, covered = [], 0
        for other in test:
            common = np.intersect1d(ref.positions, other.positions)
            if not len(common):
                continue
            r, o = common - ref.positions[0], common - other.positions[0]
            if np.mean([_iou(a, b) for a, b in zip(ref.boxes[r], other.boxes[o])]) < min_iou:
                continue
            matched.append(other)
            covered += len(common)
            size = np.sqrt(np.prod(ref.boxes[r, 2:] - ref.boxes[r, :2], axis=1))
            errors.append((np.linalg.norm(other.landmarks[o] - ref.landmarks[r], axis=2) / size[:, None]).ravel())
        lost += covered < min_cover * len(ref)
        split += len(matched) > 1
    return TrackAgreement(np.concatenate(errors) if errors else np.zeros(0), lost, split)
