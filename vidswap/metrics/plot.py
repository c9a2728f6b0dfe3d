"""The flicker curve as a PNG: warping error over time of the output and of its input,
drawn with PIL (a core dependency), so `vidswap eval` can always write it."""

from __future__ import annotations

import math
import os

from PIL import Image, ImageDraw, ImageFont

from vidswap.fsutil import atomic_path
from vidswap.metrics.warping import CurvePoint

WIDTH, HEIGHT = 900, 380
LEFT, RIGHT, TOP, BOTTOM = 80, 20, 40, 50  # margins around the plot area
OUTPUT_COLOUR, INPUT_COLOUR, GRID = (200, 40, 40), (90, 90, 90), (225, 225, 225)


def _nice_step(span: float, ticks: int = 5) -> float:
    """A round tick step (1, 2 or 5 times a power of ten) giving about `ticks` ticks."""
    raw = span / ticks
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


def plot_flicker(points: list[CurvePoint], path: str | os.PathLike, title: str = "") -> None:
    """Two lines over time (seconds): the output's warping error a second and the input's.
    Where the red line stands well above the grey one, the translation shimmers."""
    image = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default()
    x0, x1, y0, y1 = LEFT, WIDTH - RIGHT, HEIGHT - BOTTOM, TOP
    draw.text((LEFT, 12), title or "flicker: warping error per second (lower is steadier)", fill="black", font=font)
    if not points:
        draw.text((LEFT, HEIGHT // 2), "no frame pairs could be measured (too short, or all cuts)", fill="black")
    else:
        t_end = points[-1].start + 1.0
        top = max(max(p.output for p in points), max(p.input for p in points)) * 1.1 or 1.0
        step = _nice_step(top)
        top = math.ceil(top / step) * step

        def at(t: float, value: float) -> tuple[float, float]:
            return x0 + (x1 - x0) * t / t_end, y0 - (y0 - y1) * value / top

        for k in range(round(top / step) + 1):
            y = at(0, k * step)[1]
            draw.line([(x0, y), (x1, y)], fill=GRID)
            draw.text((8, y - 6), f"{k * step:.3g}", fill="black", font=font)
        second_step = _nice_step(t_end, 10) if t_end > 10 else 1
        for k in range(int(t_end / second_step) + 1):
            x = at(k * second_step, 0)[0]
            draw.line([(x, y0), (x, y0 + 4)], fill="black")
            draw.text((x - 6, y0 + 8), f"{k * second_step:g}", fill="black", font=font)
        draw.text(((x0 + x1) // 2 - 30, HEIGHT - 20), "time (s)", fill="black", font=font)
        draw.line([(x0, y1), (x0, y0), (x1, y0)], fill="black")
        for colour, values in ((INPUT_COLOUR, [p.input for p in points]), (OUTPUT_COLOUR, [p.output for p in points])):
            line = [at(p.start + 0.5, v) for p, v in zip(points, values)]  # a bin's value at its middle
            if len(line) > 1:
                draw.line(line, fill=colour, width=2)
            for x, y in line:
                draw.ellipse([x - 3, y - 3, x + 3, y + 3], fill=colour)
        for row, (label, colour) in enumerate((("output", OUTPUT_COLOUR), ("input", INPUT_COLOUR))):
            y = TOP + 8 + 16 * row
            draw.line([(x1 - 110, y + 6), (x1 - 85, y + 6)], fill=colour, width=3)
            draw.text((x1 - 78, y), label, fill="black", font=font)
    with atomic_path(path) as tmp:
        image.save(tmp, format="PNG")
