"""`scorer report`: one self-contained HTML page about a job, for a person to look at.

Records scored and rejected, label counts, a histogram of scores (a PNG drawn with
matplotlib, embedded as a data URI: the page is one file that opens anywhere, offline),
the slowest and the failed batches, the rejection reasons and the model version. Every
results and errors object is streamed once; memory holds counters, never the records.
"""

from __future__ import annotations

import base64
import html
import io
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from jobs.manifest_io import read_manifest
from jobs.results import job_objects, object_lines
from jobs.status import FailedBatch, JobStatus, StatusReader
from schemas.uris import S3Location

BINS = 20
LABELS = ("negative", "positive")
NO_REASON = "no reason: moved by the redrive policy after repeated failures"


@dataclass
class BatchFacts:
    batch_id: str
    records_scored: int
    records_rejected: int
    seconds: float | None


@dataclass
class JobReport:
    """What the page shows; filled by `collect_report`, drawn by `render_html`."""

    job_id: str
    output_uri: str
    status: JobStatus | None = None
    batches: list[BatchFacts] = field(default_factory=list)
    labels: Counter[str] = field(default_factory=Counter)
    histogram: dict[str, list[int]] = field(
        default_factory=lambda: {label: [0] * BINS for label in LABELS}
    )
    model_versions: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    rejected: int = 0

    @property
    def scored(self) -> int:
        return sum(self.labels.values())

    @property
    def failed(self) -> list[FailedBatch]:
        return self.status.failed if self.status else []


def reason_kind(reason: str) -> str:
    """A rejection reason with its numbers blanked, so `line 7 ...` and `line 9 ...` group."""
    return re.sub(r"\d+", "N", reason)


def add_result_line(report: JobReport, line: bytes) -> None:
    row = json.loads(line)
    label = row.get("label", "?")
    report.labels[label] += 1
    report.model_versions[row.get("model_version", "?")] += 1
    score = row.get("score")
    if isinstance(score, int | float) and label in report.histogram:
        report.histogram[label][min(BINS - 1, max(0, int(score * BINS)))] += 1


def collect_report(
    s3: Any, sqs: Any, output: S3Location, job_id: str, dlq_url: str | None
) -> JobReport | None:
    """Read the job's objects once; None when there is no such job."""
    listing = job_objects(s3, output, job_id, errors=False)
    if not listing.found:
        return None
    report = JobReport(job_id=job_id, output_uri=output.child(job_id).uri)
    manifest = read_manifest(s3, output, job_id)
    if manifest is not None:
        report.status = StatusReader(s3, sqs, output, None, dlq_url).read(manifest)
    for batch_id, location in listing.objects:
        head = s3.head_object(Bucket=location.bucket, Key=location.key).get("Metadata", {})
        seconds = head.get("seconds")
        report.batches.append(
            BatchFacts(
                batch_id,
                int(head.get("records-scored", 0)),
                int(head.get("records-rejected", 0)),
                float(seconds) if seconds else None,
            )
        )
        for line in object_lines(s3, location):
            if line:
                add_result_line(report, line)
    for _, location in job_objects(s3, output, job_id, errors=True).objects:
        for line in object_lines(s3, location):
            if line:
                report.rejected += 1
                report.reasons[reason_kind(str(json.loads(line).get("error")))] += 1
    return report


def histogram_png(report: JobReport) -> bytes:
    """A stacked histogram of scores by label, as PNG bytes (matplotlib, no display)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    edges = [i / BINS for i in range(BINS)]
    figure, axes = plt.subplots(figsize=(8, 3.6), dpi=110)
    bottom = [0] * BINS
    for label, colour in zip(LABELS, ("#c0504d", "#4f9a5b"), strict=True):
        counts = report.histogram[label]
        axes.bar(
            edges,
            counts,
            width=1 / BINS,
            bottom=bottom,
            align="edge",
            color=colour,
            edgecolor="white",
            linewidth=0.6,
            label=f"{label} ({sum(counts):,})",
        )
        bottom = [b + c for b, c in zip(bottom, counts, strict=True)]
    axes.set_xlim(0, 1)
    axes.set_xlabel("score: P(positive)")
    axes.set_ylabel("records")
    axes.spines[["top", "right"]].set_visible(False)
    axes.legend(frameon=False)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return buffer.getvalue()


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}" + ("" if count == 1 else "s")


def render_html(report: JobReport, generated: datetime | None = None) -> str:
    """The page: escaped text, inline CSS, the histogram as a data URI."""
    esc = html.escape
    generated = generated or datetime.now(UTC)
    status = report.status
    versions = ", ".join(esc(v) for v, _ in report.model_versions.most_common()) or "-"
    done = status.done if status else len(report.batches)
    total = status.batches if status else len(report.batches)
    pending = status.pending if status else 0
    outcome = (
        "complete"
        if status and status.complete
        else "failed"
        if report.failed and not pending
        else "running"
        if status
        else "no manifest"
    )
    share = f"{report.labels['positive'] / report.scored:.1%}" if report.scored else "-"
    cards = [
        ("records scored", f"{report.scored:,}"),
        ("records rejected", f"{report.rejected:,}"),
        ("positive", share),
        ("batches done", f"{done:,} of {total:,}"),
        ("batches failed", f"{len(report.failed):,}"),
        ("batches pending", f"{pending:,}"),
    ]
    png = base64.b64encode(histogram_png(report)).decode("ascii")
    label_rows = "".join(
        f"<tr><td>{esc(label)}</td><td class=num>{count:,}</td><td class=bar>"
        f"<span style='width:{100 * count / max(1, report.scored):.1f}%' class='{esc(label)}'>"
        f"</span></td></tr>"
        for label, count in sorted(report.labels.items())
    )
    timed = sorted(
        (b for b in report.batches if b.seconds is not None), key=lambda b: -(b.seconds or 0)
    )
    slow_rows = (
        "".join(
            f"<tr><td>{esc(b.batch_id)}</td><td class=num>{b.records_scored:,}</td>"
            f"<td class=num>{b.records_rejected:,}</td><td class=num>{b.seconds:.2f} s</td></tr>"
            for b in timed[:10]
        )
        or "<tr><td colspan=4>no timings (results written by an older worker)</td></tr>"
    )
    failed_rows = (
        "".join(
            f"<tr><td>{esc(f.batch_id)}</td><td>{esc(f.reason or NO_REASON)}</td>"
            f"<td><code>{esc(f.message_id)}</code></td></tr>"
            for f in report.failed
        )
        or "<tr><td colspan=3>none</td></tr>"
    )
    reason_rows = (
        "".join(
            f"<tr><td>{esc(reason)}</td><td class=num>{count:,}</td></tr>"
            for reason, count in report.reasons.most_common(10)
        )
        or "<tr><td colspan=2>none</td></tr>"
    )
    card_html = "".join(
        f"<div class=card><div class=value>{esc(value)}</div><div>{esc(name)}</div></div>"
        for name, value in cards
    )
    return f"""<!doctype html>
<html lang=en><head><meta charset=utf-8>
<title>scorer report: {esc(report.job_id)}</title>
<style>
body {{ font: 15px/1.45 system-ui, sans-serif; color: #222; margin: 2rem auto; max-width: 60rem;
       padding: 0 1rem; }}
h1 {{ font-size: 1.6rem; margin-bottom: .2rem; }} h2 {{ font-size: 1.15rem; margin-top: 2rem; }}
.meta {{ color: #555; }} .outcome {{ font-weight: 600; }}
.cards {{ display: grid; grid-template-columns: repeat(3, 1fr); gap: .8rem; margin: 1.2rem 0; }}
.card {{ border: 1px solid #ddd; border-radius: 8px; padding: .7rem 1rem; background: #fafafa; }}
.card .value {{ font-size: 1.5rem; font-weight: 600; }}
table {{ border-collapse: collapse; width: 100%; }}
td, th {{ border-bottom: 1px solid #eee; padding: .3rem .5rem; text-align: left; }}
td.num {{ text-align: right; white-space: nowrap; }} td.bar {{ width: 55%; }}
td.bar span {{ display: inline-block; height: .8rem; border-radius: 3px; }}
.positive {{ background: #4f9a5b; }} .negative {{ background: #c0504d; }}
img {{ max-width: 100%; }}
</style></head><body>
<h1>Job {esc(report.job_id)}</h1>
<div class=meta><span class=outcome>{esc(outcome)}</span> &middot; model {versions}
&middot; {esc(report.output_uri)} &middot; generated {generated:%Y-%m-%d %H:%M} UTC</div>
<div class=cards>{card_html}</div>
<h2>Scores</h2>
<img alt="histogram of scores" src="data:image/png;base64,{png}">
<h2>Labels</h2><table>{label_rows}</table>
<h2>Slowest batches</h2>
<table><tr><th>batch</th><th>scored</th><th>rejected</th><th>time</th></tr>{slow_rows}</table>
<h2>Failed batches (dead-letter queue)</h2>
<table><tr><th>batch</th><th>reason</th><th>message</th></tr>{failed_rows}</table>
<h2>Why records were rejected</h2>
<table><tr><th>reason</th><th>records</th></tr>{reason_rows}</table>
<p class=meta>{_plural(len(report.batches), "results object")} read;
every rejected record is in its batch's <code>_errors/</code> object
(<code>scorer results {esc(report.job_id)} --errors</code>).</p>
</body></html>
"""
