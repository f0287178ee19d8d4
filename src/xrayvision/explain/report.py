"""A self-contained HTML page of explanations: every image embedded as a data URI.

One section per image: the input, the model's predictions (the explained target
highlighted), one overlay per attribution method, and the Latent Shift animation. The
file has no external references, so it opens in any browser, offline, and can be mailed.
"""

from __future__ import annotations

import base64
import html
import io
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from .._atomic import write_atomic
from .media import encode_gif, render_frames, to_grey
from .overlay import overlay_png

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1200px}
section{border-top:1px solid #ccc;padding-top:1em;margin-top:1.5em}
.maps{display:flex;flex-wrap:wrap;gap:12px}
figure{margin:0;text-align:center} figcaption{font-size:.9em;color:#444}
img{image-rendering:pixelated;width:224px;height:auto}
table{border-collapse:collapse;font-size:.9em} td,th{padding:2px 10px;text-align:left}
tr.target{background:#fde2e2;font-weight:bold} .note{color:#555;font-size:.9em}
"""


@dataclass
class ReportEntry:
    """One image's explanations.

    Attributes:
        name: caption (e.g. the file name).
        image: the input ``[H, W]`` or ``[1, H, W]`` in [-1024, 1024].
        target: the explained pathology.
        predictions: pathology -> model output (shown as a table).
        maps: method name -> heatmap (post-processed for display).
        counterfactual: a :class:`~.latent_shift.LatentShiftResult`, shown as a GIF.
        notes: free text lines (settings, the output type explained).
    """

    name: str
    image: Any
    target: str
    predictions: Mapping[str, float] = field(default_factory=dict)
    maps: Mapping[str, Any] = field(default_factory=dict)
    counterfactual: Any = None
    notes: Sequence[str] = ()


def _data_uri(payload: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(payload).decode('ascii')}"


def _png(image: Any) -> bytes:
    plane = np.squeeze(np.asarray(image.detach().cpu() if hasattr(image, "detach") else image, dtype=np.float32))
    buffer = io.BytesIO()
    Image.fromarray(to_grey(plane, -1024.0, 1024.0)).save(buffer, format="PNG")
    return buffer.getvalue()


def _figure(uri: str, caption: str) -> str:
    return f'<figure><img src="{uri}" alt="{html.escape(caption)}"><figcaption>{html.escape(caption)}</figcaption></figure>'


def _section(entry: ReportEntry) -> str:
    parts = [f"<section><h2>{html.escape(entry.name)}</h2>"]
    if entry.notes:
        parts.append("".join(f'<p class="note">{html.escape(str(n))}</p>' for n in entry.notes))
    figures = [_figure(_data_uri(_png(entry.image), "image/png"), "input")]
    for method, values in entry.maps.items():
        figures.append(_figure(_data_uri(overlay_png(entry.image, values), "image/png"), str(method)))
    if entry.counterfactual is not None:
        figures.append(_figure(_data_uri(encode_gif(render_frames(entry.counterfactual)), "image/gif"), "Latent Shift (counterfactual)"))
    parts.append(f'<div class="maps">{"".join(figures)}</div>')
    if entry.predictions:
        rows = []
        for label, value in sorted(entry.predictions.items(), key=lambda kv: -np.nan_to_num(float(kv[1]), nan=-np.inf)):
            css = ' class="target"' if label == entry.target else ""
            rows.append(f"<tr{css}><td>{html.escape(label)}</td><td>{float(value):.3f}</td></tr>")
        parts.append(f"<table><tr><th>pathology</th><th>output</th></tr>{''.join(rows)}</table>")
    parts.append("</section>")
    return "".join(parts)


def report_html(entries: ReportEntry | Sequence[ReportEntry], title: str = "xrayvision explanations") -> str:
    """The report as an HTML string (see :func:`write_report`)."""
    items = [entries] if isinstance(entries, ReportEntry) else list(entries)
    body = "".join(_section(entry) for entry in items)
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>{body}</body></html>\n"
    )


def write_report(
    path: str | os.PathLike, entries: ReportEntry | Sequence[ReportEntry], title: str = "xrayvision explanations"
) -> Path:
    """Write a self-contained HTML report (images embedded as data URIs; replaced atomically).

    Usage::

        entry = xrv.explain.ReportEntry("chest.png", img, "Effusion", predictions=scores,
                                        maps={"gradient": g, "gradcam": c}, counterfactual=result)
        xrv.explain.write_report("report.html", [entry])

    Args:
        path: the HTML file to write.
        entries: one :class:`ReportEntry` per image.
        title: the page title.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    return write_atomic(path, report_html(entries, title).encode("utf-8"))
