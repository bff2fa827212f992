"""The run folder: evidence.json, a self-contained report.html, redaction of secrets, the signature."""

from __future__ import annotations

import html
import shutil
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from . import attestation, oscal, pdf, signing
from .evidence import EvidenceDocument, Measurement, Signature
from .spec import PHASES
from .trust import Trust

REDACTED = "[REDACTED]"
TOOLS = ("pytest", "pytest-bdd", "pytest-testinfra", "sslyze", "locust", "psycopg", "redis", "requests",
         "cryptography", "python-nmap", "compliance-trestle", "playwright")


def scanner_versions() -> dict[str, str]:
    versions = {}
    for name in TOOLS:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    promtool = shutil.which("promtool")
    if promtool:
        out = subprocess.run([promtool, "--version"], capture_output=True, text=True).stdout.split("\n")[0]
        versions["promtool"] = out.replace("promtool, version ", "").split(" ")[0]
    return versions


def redact(run_dir: Path, secret_values: list[str]) -> int:
    """Replace every secret value in every file of the folder (RPT-04); returns how many were found."""
    found = 0
    for path in run_dir.rglob("*"):
        if not path.is_file():
            continue
        text = path.read_bytes()
        for value in secret_values:
            needle = value.encode()
            if needle and needle in text:
                found += text.count(needle)
                text = text.replace(needle, REDACTED.encode())
        path.write_bytes(text)
    return found


def write_run(run_dir: Path, document: EvidenceDocument, secret_values: list[str], trust: Trust,
              key: Ed25519PrivateKey | None = None, print_pdf: bool = False, problems: list[str] | None = None) -> Path:
    """Write, redact and sign the run folder with KEY (default: $EDUPRO_SIGNING_KEY, else a throwaway key); the
    cover says whether the key is a QA key pinned in TRUST. PRINT_PDF: report.pdf too; a reason it could not be
    printed goes to PROBLEMS."""
    problems = [] if problems is None else problems
    given = key is not None
    if key is None:
        key, given = signing.signing_key()
    pinned = given and trust.pins_qa(key.public_key())
    note = "" if pinned else ("signed with a key not pinned in specs/trust/qa" if given else "unsigned — ephemeral key")
    document.signature = Signature(algorithm="Ed25519", signer=signing.fingerprint(key.public_key()), qa_key=pinned,
                                   note=note)
    (run_dir / "evidence.json").write_text(document.model_dump_json(indent=2) + "\n")
    (run_dir / "report.html").write_text(render_html(document))
    oscal.write(run_dir, document)
    redact(run_dir, secret_values)
    if print_pdf:
        try:
            pdf.write(run_dir, document)  # from the redacted report.html
        except pdf.PdfError as error:
            problems.append(str(error))
    attestation.write(run_dir, document, key)  # about the evidence as redacted, listed in the signed manifest
    signing.sign(run_dir, key)
    latest = run_dir.parent / "latest"
    if latest.is_symlink() or not latest.exists():
        latest.unlink(missing_ok=True)
        latest.symlink_to(run_dir.name)
    return run_dir


STYLE = """
body{font-family:system-ui,sans-serif;margin:0;color:#1d2330;background:#fafbfc}
main{max-width:1240px;margin:0 auto;padding:1rem 1.25rem;box-sizing:border-box}
h1{margin:.2rem 0}h2{margin-top:2rem;border-bottom:2px solid #d8dde6;padding-bottom:.3rem}
table{border-collapse:collapse;width:100%;background:#fff}
th,td{border:1px solid #d8dde6;padding:.3rem .45rem;text-align:left;vertical-align:top;font-size:.88rem;
      overflow-wrap:anywhere}
th{background:#eef1f5}
#matrix{table-layout:fixed}
#matrix col.req{width:19%}#matrix col.res{width:8%}#matrix col.sce{width:17%}#matrix col.mea{width:36%}
#matrix col.why{width:20%}
.facts{margin:0;padding:0;list-style:none}.facts>li{margin:0 0 .3rem}
.facts table{width:auto;max-width:100%;margin:.15rem 0}.facts td,.facts th{font-size:.8rem;padding:.1rem .3rem}
.facts th{white-space:nowrap;overflow-wrap:normal}
.facts ul{margin:.1rem 0;padding-left:1.1rem}
.ok{color:#0b5a24;font-weight:700}.ko{color:#8a1010;font-weight:700}.rec{color:#6b7280}
.limit{color:#454b55}.src{color:#6b7280;font-size:.8rem}.meta{color:#6b7280;font-size:.8rem}
.badge{display:inline-block;padding:.1rem .5rem;border-radius:.8rem;font-weight:600;font-size:.8rem}
.passed{background:#d4f4dd;color:#0b5a24}.failed{background:#fbd5d5;color:#8a1010}
.error{background:#fde8c8;color:#7a4200}.waived{background:#e3e0fb;color:#3a2a8a}
.not_applicable{background:#e8eaed;color:#454b55}.partly_verified{background:#e6f0d8;color:#3d5a0b}.not_covered{background:#fff1a8;color:#5c4d00}
.warning{background:#8a1010;color:#fff;padding:.6rem 1rem;font-weight:700;border-radius:.3rem}
.cover{background:#fff;border:1px solid #d8dde6;padding:1rem 1.5rem;border-radius:.4rem}
code{font-size:.85rem}
@page{size:A4;margin:14mm 10mm 16mm}
@media print{body{background:#fff;font-size:9pt}main{max-width:none;padding:0}
tr{break-inside:avoid}thead{display:table-header-group}h2{break-after:avoid}
.cover{break-after:page;border:none;padding:0}td,th{overflow-wrap:break-word}.facts table{width:100%}
*{-webkit-print-color-adjust:exact;print-color-adjust:exact}}
"""
MARK = {"passed": ('<span class="ok" title="passed">✓</span>'), "failed": '<span class="ko" title="failed">✗</span>',
        "recorded": '<span class="rec" title="recorded, not compared">·</span>'}


def _badge(status: str) -> str:
    return f'<span class="badge {html.escape(status)}">{html.escape(status.replace("_", " "))}</span>'


def _number(value: float) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.3f}".rstrip("0").rstrip(".")


def value_html(value: Any, unit: str = "", depth: int = 0) -> str:
    """A value for people: numbers with units, lists as lists, mappings as small tables; never a repr."""
    e = html.escape
    if value is None:
        return "<i>none</i>"
    if isinstance(value, (bool, int, float)):
        text = _number(value)
        return e(f"{text}{unit}" if unit == "%" else f"{text} {unit}".strip())
    if isinstance(value, str):
        return e(f"{value} {unit}".strip()) if unit else e(value)
    if isinstance(value, list):
        if not value:
            return "<i>none</i>"
        if all(not isinstance(v, (list, dict)) for v in value) and (len(value) > 6 or depth > 1):
            return e(", ".join(str(v) for v in value))
        return "<ul>" + "".join(f"<li>{value_html(v, unit, depth + 1)}</li>" for v in value) + "</ul>"
    if isinstance(value, dict):
        if not value:
            return "<i>none</i>"
        rows = "".join(f"<tr><th>{e(str(k))}</th><td>{value_html(v, '', depth + 1)}</td></tr>" for k, v in value.items())
        return f"<table>{rows}</table>"
    return e(str(value))


def _limit_html(m: Measurement) -> str:
    if m.comparator is None:
        return ""
    if m.comparator == "none":
        return ' <span class="limit">(expected: none)</span>'
    if m.comparator == "is":
        return f' <span class="limit">(expected: {html.escape(str(m.limit))})</span>'
    words = {"within": "only", "includes": "all of", "excludes": "none of"}
    limit = value_html(m.limit, m.unit, depth=2)
    return f' <span class="limit">(required {html.escape(words.get(m.comparator, m.comparator))} {limit})</span>'


def measurements_html(measurements: list[Measurement]) -> str:
    items = []
    for m in measurements:
        source = f' <span class="src">at {html.escape(m.source)}</span>' if m.source else ""
        items.append(f"<li>{MARK[m.verdict]} {html.escape(m.what)}: <b>{value_html(m.value, m.unit)}</b>"
                     f"{_limit_html(m)}{source}</li>")
    return f'<ul class="facts">{"".join(items)}</ul>' if items else ""


def render_html(document: EvidenceDocument) -> str:
    run, sig = document.run, document.signature
    assert sig is not None, "a report is rendered once its signer is known"
    e = html.escape
    counts: dict[str, int] = {}
    for req in document.requirements.values():
        counts[req.status] = counts.get(req.status, 0) + 1
    phase_rows = "".join(
        f"<tr><td>Phase {p}</td><td>{e(PHASES[int(p)])}</td><td>{_badge(v.verdict)}</td>"
        f"<td>{e(', '.join(f'{n} {k.replace(chr(95), chr(32))}' for k, n in v.counts.items() if n))}</td></tr>"
        for p, v in document.phases.items())
    order = {"failed": 0, "error": 1, "not_covered": 2, "waived": 3, "partly_verified": 4, "passed": 5,
             "not_applicable": 6}
    ranked = sorted(document.requirements.items(), key=lambda kv: (order[kv[1].status], kv[1].phase, kv[0]))
    failures = "".join(f"<li>{_badge(r.status)} <b>{e(rid)}</b> {e(r.title)}: {e(r.reason)}</li>"
                       for rid, r in ranked if r.status in ("failed", "error", "not_covered"))
    matrix = "".join(
        f"<tr id='req-{e(rid)}'><td><b>{e(rid)}</b> {e(r.title)}"
        f"<div class='meta'>phase {r.phase} · {e(r.severity)}</div></td><td>{_badge(r.status)}</td>"
        f"<td>{'<br>'.join(e(s) for s in r.scenarios) or '<i>none</i>'}</td>"
        f"<td>{measurements_html(r.measured)}</td><td>{e(r.reason)}</td></tr>" for rid, r in ranked)
    differences = "".join(f"<li><b>{e(k)}</b> relaxed: {e(v)}</li>" for k, v in document.profile.relaxed.items())
    differences += "".join(f"<li><b>{e(k)}</b> not applicable: {e(v)}</li>"
                           for k, v in document.profile.not_applicable.items())
    warning = (f'<p class="warning" id="unsigned">{e(sig.note)}: anyone could have produced this report.</p>'
               if not sig.qa_key else "")
    if run.interrupted:
        warning += ('<p class="warning" id="interrupted">interrupted (Ctrl-C or SIGTERM): only the checks that ran '
                    'before are here; the others are errors.</p>')
    gate = run.gate
    if gate.overridden:
        gate_line = f'<b class="badge failed">gate overridden (--no-gate)</b> {e(gate.refusal)}'
    elif gate.predecessor:
        gate_line = (f"builds on <code>{e(gate.predecessor)}</code> "
                     f"(manifest SHA-256 <code>{e(gate.predecessor_manifest_sha256 or '')}</code>)")
    else:
        gate_line = "first phase of the chain"
    totals = " · ".join(f"{n} {k.replace('_', ' ')}" for k, n in sorted(counts.items()))
    target = document.target
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>EduPro verification {e(run.id)}</title>
<style>{STYLE}</style></head><body><main>
<section class="cover" id="cover">
<p>EduPro deployment verification</p>
<h1>{e(run.env)} — release {e(run.release)}</h1>
{warning}
<table>
<tr><th>Environment</th><td>{e(run.env)}</td><th>Run</th><td><code>{e(run.id)}</code></td></tr>
<tr><th>Target</th><td>{e(target.base_url)} ({e(target.driver)}, {e(target.host)})</td>
<th>Date</th><td>{e(run.started.isoformat())} to {e(run.finished.isoformat())}</td></tr>
<tr><th>Signer</th><td><code id="signer">{e(sig.signer)}</code> {'QA key' if sig.qa_key else ''}</td>
<th>Suite</th><td>edupro-verify {e(run.suite_version)}</td></tr>
<tr><th>Requirements</th><td colspan="3" id="totals">{e(totals)}</td></tr>
<tr><th>Phase gate</th><td colspan="3" id="gate">{gate_line}</td></tr>
</table>
<h2>Verdict per phase</h2>
<table id="phases"><tr><th>Phase</th><th>Name</th><th>Verdict</th><th>Requirements</th></tr>{phase_rows}</table>
</section>
<h2>Failures first</h2>
<ul id="failures">{failures or '<li>none</li>'}</ul>
<h2>Traceability matrix</h2>
<table id="matrix"><colgroup><col class="req"><col class="res"><col class="sce"><col class="mea"><col class="why">
</colgroup><tr><th>Requirement</th><th>Result</th><th>Scenarios</th><th>Measured vs threshold</th><th>Reason</th></tr>
{matrix}</table>
<h2>Where this profile differs from the paper</h2>
<ul id="differences">{differences or '<li>nowhere</li>'}</ul>
<h2>Tools</h2>
<p>{e(', '.join(f'{k} {v}' for k, v in document.tools.items()))}</p>
</main></body></html>
"""
