"""The report as one HTML page that a person opens instead of reading JSON (`--format html`, and
`<auditId>.html` in the S3 archive, linked from the email).

Self-contained: the style, the script and the SVG charts are inline, and the page's
Content-Security-Policy allows no fetch of any kind and runs only its own style and script (by
hash), so it opens the same from S3, a mail attachment or a laptop offline. Every value from the
report goes through `_text` (escaped for text and attributes alike); the script reads the page,
never the report, so no report value is ever written into it.

At a million findings the page stays usable and the renderer's memory bounded: the table holds
the worst TABLE_LIMIT findings and every other list its first LIST_LIMIT items, and the page
says how many more the JSON and CSV reports hold. Standard library only: the function renders it.
"""

from __future__ import annotations

import base64
import hashlib
import heapq
import html
from collections import Counter
from collections.abc import Iterable

from cert_audit.findings import (
    CA_EXPIRED,
    CA_EXPIRING,
    CA_NOT_ACTIVE,
    CERTIFICATE_STATUS,
    DEVICE_CERTIFICATE_AGE,
    DEVICE_EXPIRED,
    DEVICE_EXPIRING,
    SEVERITY_ORDER,
    WEAK_KEY,
    WEAK_SIGNATURE,
    severity_rank,
)
from cert_audit.message import CA_FINDING_TYPES, ca_rank, console_url, subject

TABLE_LIMIT = 5000  # findings in the table: a browser sorts and filters this many at once without a stall
LIST_LIMIT = 1000  # CAs, scan errors, resolved and suppressed findings, expired suppressions
PAGE_ROWS = 250  # rows of the table in the document at a time ("Show more" adds as many again)
CHART_LIMIT = 25  # CAs in the chart (failed first, then most findings); the CA table lists more
ID_CHARS = 12  # an ID is shown this long (the full ID in its tooltip, its search and its link)
DOT = " \u00b7 "

TYPE_LABELS = {
    CERTIFICATE_STATUS: "Certificate status",
    CA_NOT_ACTIVE: "CA not active, certificates still active",
    CA_EXPIRED: "CA certificate expired",
    CA_EXPIRING: "CA certificate expiring",
    DEVICE_CERTIFICATE_AGE: "Certificate too old",
    DEVICE_EXPIRED: "Certificate expired",
    DEVICE_EXPIRING: "Certificate expiring",
    WEAK_KEY: "Weak key",
    WEAK_SIGNATURE: "Weak signature",
}  # any other type is shown by its name
# Statuses with a colour of their own (CSS classes st-<status>); any other is st-other.
STATUS_COLOURS = ("ACTIVE", "INACTIVE", "REVOKED", "PENDING_TRANSFER", "REGISTER_INACTIVE", "PENDING_ACTIVATION")

CSS = """
:root{--bg:#f6f7f9;--panel:#fff;--ink:#1d2330;--muted:#5b6474;--line:#dfe3ea;--accent:#2b59c3;
--crit:#8f1d1d;--high:#d9480f;--med:#e09100;--low:#1c6fc2;--info:#7a828e;--ok:#2f8a3e;--bad:#c92a2a;
color-scheme:light dark}
@media (prefers-color-scheme:dark){:root{--bg:#14171c;--panel:#1d2128;--ink:#e6e9ef;--muted:#9aa3b2;
--line:#323844;--accent:#7aa2f7}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,
"Helvetica Neue",Arial,sans-serif}
main{max-width:1280px;margin:0 auto;padding:24px 28px 40px}
header{margin-bottom:18px}
h1{font-size:24px;margin:0 0 4px}
h2{font-size:17px;margin:0 0 10px}
h3{font-size:14px;margin:14px 0 6px;color:var(--muted);font-weight:600}
.lead{font-size:16px;margin:2px 0 6px}
.meta{color:var(--muted);margin:0}
code,.id{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
a{color:var(--accent)}
section.panel{background:var(--panel);border:1px solid var(--line);border-radius:10px;padding:16px 18px;
margin:0 0 18px}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(170px,1fr));gap:12px;margin:0 0 18px}
.card{background:var(--panel);border:1px solid var(--line);border-left:5px solid var(--line);border-radius:10px;
padding:12px 14px}
.card .label{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.card .value{font-size:28px;font-weight:700;line-height:1.2;margin:2px 0}
.card .note{color:var(--muted);font-size:12.5px}
.card.tone-bad{border-left-color:var(--bad)}.card.tone-ok{border-left-color:var(--ok)}
.card.tone-warn{border-left-color:var(--med)}.card.tone-info{border-left-color:var(--accent)}
.card.worst-0{border-left-color:var(--crit)}.card.worst-1{border-left-color:var(--high)}
.card.worst-2{border-left-color:var(--med)}.card.worst-3{border-left-color:var(--low)}
.card.worst-4,.card.worst-5{border-left-color:var(--info)}
.grid{display:grid;grid-template-columns:minmax(0,2fr) minmax(0,1fr);gap:18px}
@media (max-width:900px){.grid{grid-template-columns:1fr}}
.grid>section.panel{margin:0 0 18px}
svg text{fill:var(--ink);font-family:inherit}
svg .muted{fill:var(--muted)}svg .on-bar{fill:#fff}svg .bad{fill:var(--bad);font-weight:700}
svg .ca-row{cursor:pointer}
svg .ca-row:hover .hit,svg .ca-row:focus .hit{fill:var(--line);opacity:.5}
svg .hit{fill:transparent}
svg .track{fill:var(--line);opacity:.35}
.st-ACTIVE{fill:#37b24d;background:#37b24d}.st-INACTIVE{fill:#e8590c;background:#e8590c}
.st-REVOKED{fill:#7048e8;background:#7048e8}.st-PENDING_TRANSFER{fill:#0c8599;background:#0c8599}
.st-REGISTER_INACTIVE{fill:#f08c00;background:#f08c00}.st-PENDING_ACTIVATION{fill:#4c6ef5;background:#4c6ef5}
.st-other{fill:#868e96;background:#868e96}
.swatch-failed{background:repeating-linear-gradient(45deg,#c92a2a 0 3px,#f1c0c0 3px 6px)}
.failed-bar{fill:url(#hatch)}
.bar-sev-0{fill:var(--crit)}.bar-sev-1{fill:var(--high)}.bar-sev-2{fill:var(--med)}.bar-sev-3{fill:var(--low)}
.bar-sev-4,.bar-sev-5{fill:var(--info)}.bar-type{fill:var(--accent)}
.legend{list-style:none;padding:0;margin:8px 0 0;display:flex;flex-wrap:wrap;gap:6px 16px;color:var(--muted);
font-size:12.5px}
.swatch{display:inline-block;width:11px;height:11px;border-radius:2px;margin-right:5px;vertical-align:-1px}
.sev{display:inline-block;min-width:70px;text-align:center;border-radius:4px;padding:1px 6px;font-size:11.5px;
font-weight:700;letter-spacing:.03em;color:#fff;background:var(--info)}
.sev-0{background:var(--crit)}.sev-1{background:var(--high)}.sev-2{background:var(--med);color:#2b1d00}
.sev-3{background:var(--low)}
.badge{display:inline-block;border-radius:4px;padding:0 5px;font-size:11px;font-weight:700;margin-left:6px;
background:#e7f0ff;color:#1c4fa8}
.alert{border-left:5px solid var(--bad)}
.alert h2{color:var(--bad)}
.controls{display:flex;flex-wrap:wrap;gap:10px 14px;align-items:end;margin:0 0 10px}
.controls label{display:flex;flex-direction:column;font-size:12px;color:var(--muted);gap:3px}
.controls label.check{flex-direction:row;align-items:center;gap:6px;font-size:13px;color:var(--ink);padding-bottom:6px}
select,input[type=search],button{font:inherit;font-size:13px;padding:5px 8px;border:1px solid var(--line);
border-radius:6px;background:var(--panel);color:var(--ink)}
input[type=search]{min-width:240px}
button{cursor:pointer}
.count{margin-left:auto;color:var(--muted);padding-bottom:6px}
.table-wrap{overflow:auto;max-height:75vh;border:1px solid var(--line);border-radius:8px}
table{border-collapse:collapse;width:100%}
#findings-table{table-layout:fixed;min-width:1040px;font-size:13px}
#findings-table th:nth-child(1){width:104px}#findings-table th:nth-child(2){width:150px}
#findings-table th:nth-child(3){width:165px}#findings-table th:nth-child(4){width:145px}
#findings-table th:nth-child(5){width:120px}#findings-table th:nth-child(6),#findings-table th:nth-child(7){width:100px}
#findings-table td{overflow:hidden;text-overflow:ellipsis;overflow-wrap:anywhere}
th,td{text-align:left;padding:6px 10px;border-bottom:1px solid var(--line);vertical-align:top}
th{position:sticky;top:0;background:var(--panel);z-index:1;font-size:12px;color:var(--muted);white-space:nowrap}
th button{border:0;background:none;padding:0;font-weight:600;color:inherit;font-size:12px}
th button::after{content:" \\2195";opacity:.35}
th[aria-sort=ascending] button::after{content:" \\2191";opacity:1}
th[aria-sort=descending] button::after{content:" \\2193";opacity:1}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
td.reason{min-width:260px;max-width:520px}.fix{color:var(--muted);font-size:12.5px;margin-top:2px}
td.nowrap{white-space:nowrap}
tbody tr:hover{background:rgba(120,140,170,.08)}
.note{color:var(--muted);margin:8px 0 0}
.empty{color:var(--muted);padding:14px 4px;margin:0}
.pager{margin:10px 0 0;color:var(--muted)}.pager button{margin-left:8px}
.more{margin:10px 0 0;padding:8px 12px;border-radius:6px;background:rgba(224,145,0,.12)}
details>summary{cursor:pointer;font-weight:600;font-size:15px}
footer{color:var(--muted);font-size:12.5px;margin-top:8px}
"""

SCRIPT = """
(() => {
  "use strict";
  const table = document.getElementById("findings-table");
  if (!table) return;
  const body = table.tBodies[0];
  const later = document.getElementById("findings-later");
  // Every row, those held back in the template too. Only a page of the matching rows is in the
  // document at a time: a browser lays out a few hundred rows quickly, thousands slowly.
  let rows = Array.from(body.rows).concat(later ? Array.from(later.content.children) : []);
  const text = new Map(rows.map((row) => [row, (row.dataset.ids + " " + row.textContent).toLowerCase()]));
  const pageSize = Number(table.dataset.page);
  const control = (id) => document.getElementById(id);
  const severity = control("filter-severity"), type = control("filter-type"), ca = control("filter-ca");
  const search = control("filter-text"), onlyNew = control("filter-new");
  const shown = control("shown-count"), empty = control("no-match");
  const pager = control("pager"), onPage = control("on-page"), more = control("show-more");
  const number = (value) => value.toLocaleString("en-US");
  let matching = rows, limit = pageSize;

  function keep(row) {
    const words = search.value.trim().toLowerCase();
    return (!severity.value || row.dataset.severity === severity.value)
      && (!type.value || row.dataset.type === type.value)
      && (!ca.value || row.dataset.ca === ca.value)
      && (!onlyNew || !onlyNew.checked || row.dataset.new === "1")
      && (!words || text.get(row).includes(words));
  }

  function show() {
    const page = matching.slice(0, limit);
    body.replaceChildren(...page);
    shown.textContent = number(matching.length);
    empty.hidden = matching.length > 0;
    pager.hidden = matching.length <= page.length;
    onPage.textContent = number(page.length);
    more.textContent = "Show " + number(Math.min(pageSize, matching.length - page.length)) + " more";
  }

  function apply() {
    matching = rows.filter(keep);
    limit = pageSize;
    show();
  }

  function sortBy(header) {
    const column = header.cellIndex;
    const ascending = header.getAttribute("aria-sort") !== "ascending";
    for (const other of table.tHead.rows[0].cells) other.removeAttribute("aria-sort");
    header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    const numeric = header.classList.contains("num");
    const key = (row) => {
      const cell = row.cells[column];
      const value = cell.dataset.v !== undefined ? cell.dataset.v : cell.textContent.trim().toLowerCase();
      return numeric ? Number(value) : value;
    };
    const keyed = rows.map((row, position) => [key(row), position, row]);
    keyed.sort((a, b) => {
      if (a[0] < b[0]) return ascending ? -1 : 1;
      if (a[0] > b[0]) return ascending ? 1 : -1;
      return a[1] - b[1];
    });
    rows = keyed.map((item) => item[2]);
    apply();
  }

  for (const input of [severity, type, ca, onlyNew]) if (input) input.addEventListener("change", apply);
  search.addEventListener("input", apply);
  more.addEventListener("click", () => { limit += pageSize; show(); });
  control("filter-clear").addEventListener("click", () => {
    severity.value = type.value = ca.value = search.value = "";
    if (onlyNew) onlyNew.checked = false;
    apply();
  });
  for (const button of table.tHead.querySelectorAll("th button")) {
    button.addEventListener("click", () => sortBy(button.parentElement));
  }
  // A CA in the chart filters the table to its findings.
  for (const bar of document.querySelectorAll("svg .ca-row[data-ca]")) {
    const choose = () => {
      if (![...ca.options].some((option) => option.value === bar.dataset.ca)) return;
      ca.value = bar.dataset.ca;
      apply();
      table.scrollIntoView({ behavior: "smooth", block: "start" });
    };
    bar.addEventListener("click", choose);
    bar.addEventListener("keydown", (event) => { if (event.key === "Enter" || event.key === " ") choose(); });
  }
  apply();
})();
"""


def _hash(source: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode()).digest()).decode() + "'"


# Nothing may be fetched (default-src 'none'), and only this style and this script run: a value
# that escaped its escaping could still not run or load anything.
POLICY = (
    f"default-src 'none'; style-src {_hash(CSS)}; script-src {_hash(SCRIPT)}; img-src data:; "
    "base-uri 'none'; form-action 'none'"
)


def _text(value: object) -> str:
    """Any report value as HTML, for text and attribute values alike; None as a dash."""
    return "\u2014" if value is None else html.escape(str(value), quote=True)


def _number(value: int | None) -> str:
    return "\u2014" if value is None else f"{value:,}"


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def _href(url: object) -> str | None:
    """The URL, escaped, if it is a web address (never javascript: or data:); else None."""
    if isinstance(url, str) and url.startswith(("https://", "http://")):
        return _text(url)
    return None


def _link(url: object, label: str) -> str:
    """`label` (HTML) linked to `url` where it is a web address, plain otherwise."""
    href = _href(url)
    return f'<a href="{href}" rel="noreferrer noopener" target="_blank">{label}</a>' if href else label


def _id(identifier: object, url: object = None) -> str:
    """An ID shortened, the full ID in its tooltip, linked to `url` if given."""
    if not identifier:
        return "\u2014"
    full = str(identifier)
    short = full if len(full) <= ID_CHARS + 1 else full[:ID_CHARS] + "\u2026"
    return _link(url, f'<code class="id" title="{_text(full)}">{_text(short)}</code>')


def _when(instant: object) -> str:
    """An ISO instant as people read it: 2026-11-28 20:27:28 UTC."""
    if not isinstance(instant, str):
        return _text(instant)
    return _text(instant.replace("T", " ").replace("Z", " UTC"))


def _day(instant: object) -> str:
    return _text(instant[:10]) if isinstance(instant, str) else "\u2014"


def _rank(severity: object) -> int:
    return severity_rank(severity) if isinstance(severity, str) else len(SEVERITY_ORDER)


def _severity(severity: object) -> str:
    return f'<span class="sev sev-{_rank(severity)}">{_text(severity)}</span>'


def _type(kind: object) -> str:
    label = TYPE_LABELS.get(kind, kind)
    return f'<span title="{_text(kind)}">{_text(label)}</span>'


def _status_class(status: object) -> str:
    return f"st-{status}" if status in STATUS_COLOURS else "st-other"


def _full_report(report: dict) -> str:
    """Where every finding is: the archived report's link, else how to get it."""
    if _href(report.get("reportConsoleUrl")):
        return _link(report["reportConsoleUrl"], "the archived JSON report") + " (and the CSV beside it)"
    return "the JSON and CSV reports (<code>cert-audit scan --format json</code> or <code>--format csv</code>)"


def _more(left_out: int, what: str, report: dict) -> str:
    if left_out <= 0:
        return ""
    return f'<p class="more">{_plural(left_out, what)} more not shown here: every one is in {_full_report(report)}.</p>'


# Page parts, top to bottom.


def _head(report: dict) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{POLICY}">\n'
        '<meta name="referrer" content="no-referrer">\n<link rel="icon" href="data:,">\n'
        f"<title>{_text(subject(report))}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n"
    )


def _header(report: dict) -> str:
    summary = report["summary"]
    cas_with_findings = sum(1 for ca in report["cas"] if ca["findings"])
    lead = (
        f"{_plural(summary['findings'], 'finding')} in {cas_with_findings:,} of {_plural(summary['casScanned'], 'CA')}"
    )
    if summary["casFailed"]:
        lead += f", {summary['casFailed']:,} could not be audited"
    return (
        "<header>\n<h1>IoT certificate audit</h1>\n"
        f'<p class="lead" id="headline">{_text(lead)}</p>\n'
        f'<p class="meta">Account <code>{_text(report["accountId"])}</code>, region <code>{_text(report["region"])}'
        f"</code>, audit <code>{_text(report['auditId'])}</code><br>"
        f"{_when(report['startedAt'])} to {_when(report['finishedAt'])}</p>\n</header>\n"
    )


def _card(key: str, label: str, value: str, note: str, tone: str) -> str:
    return (
        f'<div class="card {tone}" id="card-{key}"><div class="label">{label}</div>'
        f'<div class="value">{value}</div><div class="note">{note}</div></div>\n'
    )


def _cards(report: dict) -> str:
    summary = report["summary"]
    worst = summary["worstSeverity"]
    changes = report.get("changes")
    if changes is None:
        change_value, change_note, change_tone = "\u2014", "no comparison with an earlier run", "tone-info"
    else:
        change_value = f"{changes['new']:,} new"
        change_note = f"{changes['resolved']:,} resolved, {changes['ongoing']:,} still open"
        if report.get("oldestOpenSince"):
            change_note += f"; oldest open since {_day(report['oldestOpenSince'])}"
        change_tone = "tone-bad" if changes["new"] else "tone-ok"
    failed = summary["casFailed"]
    errors = failed + summary["errors"]
    expired = len(report.get("expiredSuppressions") or []) + report.get("expiredSuppressionsOmitted", 0)
    suppressed_note = "accepted by your suppressions"
    if expired:
        suppressed_note += f"; {_plural(expired, 'suppression')} expired"
    return (
        '<section class="cards" aria-label="Totals">\n'
        + _card(
            "findings",
            "Findings",
            _number(summary["findings"]),
            f"worst: {_severity(worst)}" if worst else "nothing needs attention",
            f"worst-{_rank(worst)}" if worst else "tone-ok",
        )
        + _card("changes", "Since the last run", _text(change_value), change_note, change_tone)
        + _card(
            "certificates",
            "Certificates scanned",
            _number(summary["certificatesScanned"]),
            f"in {_plural(summary['casScanned'], 'CA')}",
            "tone-info",
        )
        + _card(
            "failed",
            "CAs not audited",
            _number(failed),
            "a CA could not be read: see the scan errors" if failed else "every CA was read in full",
            "tone-bad" if failed else "tone-ok",
        )
        + _card(
            "errors",
            "Scan errors",
            _number(errors),
            "not everything was audited as configured" if errors else "none",
            "tone-bad" if errors else "tone-ok",
        )
        + _card(
            "suppressed",
            "Suppressed",
            _number(summary["suppressedFindings"]),
            suppressed_note,
            "tone-warn" if expired else "tone-info",
        )
        + "</section>\n"
    )


def _errors(report: dict) -> str:
    """Scan errors, apart and above everything else: what was not audited."""
    failed = [ca for ca in report["cas"] if ca["error"]]
    run_errors = report["errors"]
    if not failed and not run_errors and not report["summary"]["casFailed"]:
        return ""
    rows = [
        f'<tr><td class="nowrap">CA {_id(ca["caCertificateId"])}</td>'
        f"<td><code>{_text(ca['error'].get('code'))}</code></td><td>{_text(ca['error'].get('message'))}</td></tr>"
        for ca in failed[:LIST_LIMIT]
    ]
    room = LIST_LIMIT - len(rows)
    rows += [
        f"<tr><td>{_text(error.get('source'))}</td><td><code>{_text(error.get('code'))}</code></td>"
        f"<td>{_text(error.get('message'))}</td></tr>"
        for error in run_errors[: max(room, 0)]
    ]
    listed = len(rows)
    total = report["summary"]["casFailed"] + report["summary"]["errors"]
    return (
        '<section class="panel alert" id="scan-errors">\n<h2>Scan errors: not everything was audited</h2>\n'
        '<div class="table-wrap"><table><thead><tr><th>Where</th><th>Code</th><th>Message</th></tr></thead>\n'
        f"<tbody>{''.join(rows)}</tbody></table></div>\n" + _more(total - listed, "scan error", report) + "</section>\n"
    )


def _ca_chart(report: dict) -> str:
    """Certificates by CA and status: a bar per CA of its certificates that are not ACTIVE, by
    status (ACTIVE ones dwarf them, so they are counted beside the bar); a failed CA hatched."""
    cas = sorted(report["cas"], key=ca_rank)[:CHART_LIMIT]
    if not cas:
        return '<p class="empty">No CA was audited.</p>'
    bar_x, bar_width, row_height = 200, 330, 44  # labels to the left of bar_x, counts to its right
    widest = max((sum(n for s, n in ca["byStatus"].items() if s != "ACTIVE") for ca in cas), default=0) or 1
    height = row_height * len(cas) + 6
    parts = [
        f'<svg id="ca-chart" viewBox="0 0 820 {height}" width="100%" role="img" '
        'aria-labelledby="ca-chart-title" font-size="13">',
        '<title id="ca-chart-title">Certificates by CA and status</title>',
        '<defs><pattern id="hatch" width="8" height="8" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">'
        '<rect width="8" height="8" fill="#f1c0c0"/><rect width="3" height="8" fill="#c92a2a"/></pattern></defs>',
    ]
    statuses: dict[str, None] = {}
    for row, ca in enumerate(cas):
        y = row * row_height + 3
        ca_id = ca["caCertificateId"]
        total = ca["certificatesScanned"]
        ca_status = _text(ca.get("status") or "status unknown")
        # A CA that is not ACTIVE (deactivated, often after a compromise) stands out.
        described = [ca_status if ca.get("status") == "ACTIVE" else f'<tspan class="bad">{ca_status}</tspan>']
        if ca.get("daysToExpiry") is not None:
            described.append(f"expires in {ca['daysToExpiry']:,} d")
        parts.append(f'<g class="ca-row" data-ca="{_text(ca_id)}" tabindex="0" role="button">')
        parts.append(f'<rect class="hit" x="0" y="{y}" width="820" height="{row_height - 2}" rx="4"/>')
        parts.append(f"<title>CA {_text(ca_id)}: show its findings</title>")
        short = str(ca_id)[:ID_CHARS] + "\u2026"
        parts.append(f'<text x="6" y="{y + 17}" class="id" font-size="13">{_text(short)}</text>')
        described = DOT.join(described)
        parts.append(f'<text x="6" y="{y + 34}" class="muted" font-size="11.5">{described}</text>')
        bar_y = y + 11
        parts.append(f'<rect class="track" x="{bar_x}" y="{bar_y}" width="{bar_width}" height="20" rx="3"/>')
        if ca["error"]:
            code = (ca["error"] or {}).get("code")
            parts.append(f'<rect class="failed-bar" x="{bar_x}" y="{bar_y}" width="{bar_width}" height="20" rx="3"/>')
            parts.append(
                f'<text x="{bar_x + bar_width + 10}" y="{bar_y + 15}">not audited: <tspan font-weight="700">'
                f"{_text(code)}</tspan></text>"
            )
            parts.append("</g>")
            continue
        x = float(bar_x)
        others = 0
        for status, count in ca["byStatus"].items():
            if status == "ACTIVE" or not count:
                continue
            statuses[status] = None
            others += count
            width = max(count / widest * bar_width, 3.0)
            parts.append(
                f'<rect class="{_status_class(status)}" x="{x:.1f}" y="{bar_y}" width="{width:.1f}" height="20">'
                f"<title>{_text(status)}: {count:,}</title></rect>"
            )
            if width >= 30:
                parts.append(
                    f'<text x="{x + width / 2:.1f}" y="{bar_y + 14.5}" text-anchor="middle" font-size="11.5" '
                    f'font-weight="700" class="on-bar">{count:,}</text>'
                )
            x += width
        parts.append(
            f'<text x="{bar_x + bar_width + 10}" y="{bar_y + 15}"><tspan font-weight="700">{others:,}</tspan> '
            f'not ACTIVE <tspan class="muted">of {total:,}</tspan></text>'
        )
        parts.append("</g>")
    parts.append("</svg>")
    legend = "".join(
        f'<li><span class="swatch {_status_class(status)}"></span>{_text(status)}</li>' for status in statuses
    )
    legend += '<li><span class="swatch swatch-failed"></span>CA not audited (scan error)</li>'
    note = ""
    if len(report["cas"]) > len(cas):
        note = (
            f'<p class="note">The {len(cas)} CAs with scan errors or the most findings; all '
            f"{_plural(len(report['cas']), 'CA')} are in the CA table below.</p>"
        )
    return "\n".join(parts) + f'\n<ul class="legend">{legend}</ul>\n' + note


def _bars(chart_id: str, title: str, items: list[tuple[str, int, str, str]]) -> str:
    """A small horizontal bar chart: (label HTML, count, bar class, tooltip) per bar."""
    if not items:
        return f'<p class="empty" id="{chart_id}">No findings.</p>'
    widest = max(count for _, count, _, _ in items) or 1
    row_height = 40  # a label, and its bar under it: labels need not fit beside a narrow panel's bars
    parts = [
        f'<svg id="{chart_id}" viewBox="0 0 400 {row_height * len(items)}" width="100%" role="img" '
        f'aria-label="{_text(title)}" font-size="13">'
    ]
    for row, (label, count, css_class, tooltip) in enumerate(items):
        y = row * row_height
        width = max(count / widest * 320, 2.0) if count else 0
        parts.append(
            f"<g><title>{_text(tooltip)}: {count:,}</title>"
            f'<text x="0" y="{y + 14}">{label}</text>'
            f'<rect class="{css_class}" x="0" y="{y + 20}" width="{width:.1f}" height="14" rx="3"/>'
            f'<text x="{width + 6:.1f}" y="{y + 32}" font-weight="700">{count:,}</text></g>'
        )
    parts.append("</svg>")
    return "\n".join(parts)


def _charts(report: dict) -> str:
    by_severity = Counter(finding["severity"] for finding in report["findings"])
    severities = [s for s in SEVERITY_ORDER if by_severity[s]] + sorted(
        (s for s in by_severity if s not in SEVERITY_ORDER), key=str
    )
    severity_bars = [(_text(s), by_severity[s], f"bar-sev-{_rank(s)}", str(s)) for s in severities]
    type_bars = [
        (_text(TYPE_LABELS.get(kind, kind)), count, "bar-type", kind)
        for kind, count in report["summary"]["byType"].items()
        if count
    ]
    listed = "" if not report["findingsOmitted"] else '<p class="note">Of the findings this report lists.</p>'
    return (
        '<div class="grid">\n<section class="panel" id="status-by-ca">\n<h2>Certificates by CA and status</h2>\n'
        + _ca_chart(report)
        + '\n<p class="note">Click a CA to see its findings.</p></section>\n'
        '<section class="panel" id="finding-charts">\n<h2>Findings by severity</h2>\n'
        + _bars("severity-chart", "Findings by severity", severity_bars)
        + listed
        + "\n<h2>Findings by type</h2>\n"
        + _bars("type-chart", "Findings by type", type_bars)
        + "\n</section>\n</div>\n"
    )


def _shown_findings(findings: list[dict]) -> list[dict]:
    """The worst TABLE_LIMIT findings, new ones first within a severity, else in the report's order
    (stable: heapq.nsmallest keeps ties in order), holding only those in memory."""
    return heapq.nsmallest(TABLE_LIMIT, findings, key=lambda f: (_rank(f.get("severity")), not f.get("isNew")))


def _remediation(finding: dict) -> str:
    """What to do about it, where the finding's type says more than its reason."""
    fix = finding.get("remediation")
    return f'<div class="fix">{_text(fix)}</div>' if fix else ""


def _finding_row(finding: dict, region: str | None) -> str:
    certificate = finding.get("certificateId")
    ca_id = finding.get("caCertificateId")
    ids = " ".join(str(value) for value in (certificate, ca_id, finding.get("findingId")) if value)
    new = finding.get("isNew")
    url = console_url(finding, region) if certificate else None
    subject_id = _id(certificate, url)
    if finding.get("type") in CA_FINDING_TYPES:
        subject_id = f"CA {subject_id}"
    badge = '<span class="badge">NEW</span>' if new else ""
    return (
        f'<tr data-severity="{_text(finding.get("severity"))}" data-type="{_text(finding.get("type"))}" '
        f'data-ca="{_text(ca_id)}" data-new="{1 if new else 0}" data-ids="{_text(ids)}">'
        f'<td data-v="{_rank(finding.get("severity"))}">{_severity(finding.get("severity"))}{badge}</td>'
        f"<td>{_type(finding.get('type'))}</td>"
        f"<td>{_text(finding.get('status'))}</td>"
        f'<td class="nowrap">{subject_id}</td>'
        f'<td class="nowrap">{_id(ca_id)}</td>'
        f"{_date_cell(finding.get('creationDate'))}{_date_cell(finding.get('firstSeen'))}"
        f'<td class="reason">{_text(finding.get("reason"))}{_remediation(finding)}</td></tr>\n'
    )


def _date_cell(instant: object) -> str:
    """A day in a table cell that sorts by the full instant."""
    return f'<td class="nowrap" data-v="{_text(instant or "")}">{_day(instant)}</td>'


def _select(label: str, control_id: str, options: str) -> str:
    return f'<label>{label}<select id="{control_id}">{options}</select></label>'


def _options(label: str, counts: Counter, order: Iterable[object], show=lambda value: _text(value)) -> str:
    options = [f'<option value="">All {label}</option>']
    options += [
        f'<option value="{_text(value)}">{show(value)} ({counts[value]:,})</option>' for value in order if counts[value]
    ]
    return "".join(options)


def _findings(report: dict) -> str:
    shown = _shown_findings(report["findings"])
    total = report["summary"]["findings"]
    heading = '<section class="panel" id="findings">\n<h2>Findings</h2>\n'
    if not total:
        return (
            heading
            + '<p class="empty" id="no-findings">No findings: nothing the audit checks needs attention.</p>\n'
            + "</section>\n"
        )
    severities = Counter(f.get("severity") for f in shown)
    types = Counter(f.get("type") for f in shown)
    cas = Counter(f.get("caCertificateId") for f in shown)
    severity_order = sorted(severities, key=lambda s: (_rank(s), str(s)))
    new_filter = ""
    if report.get("changes") is not None:
        new_filter = '<label class="check"><input type="checkbox" id="filter-new"> New since the last run only</label>'

    def short(ca_id: object) -> str:
        return _text(str(ca_id)[:ID_CHARS] + "\u2026")

    def type_label(kind: object) -> str:
        return _text(TYPE_LABELS.get(kind, kind))

    controls = (
        '<div class="controls">'
        + _select("Severity", "filter-severity", _options("severities", severities, severity_order))
        + _select("Type", "filter-type", _options("types", types, sorted(types, key=str), type_label))
        + _select("CA", "filter-ca", _options("CAs", cas, sorted(cas, key=str), short))
        + '<label>Search<input type="search" id="filter-text" placeholder="certificate ID, status, reason\u2026">'
        "</label>"
        f'{new_filter}<button type="button" id="filter-clear">Clear filters</button>'
        f'<span class="count"><strong id="shown-count">{len(shown):,}</strong> of the {len(shown):,} findings '
        "listed match the filters</span></div>\n"
    )
    headers = [
        ("Severity", "num"),
        ("Type", ""),
        ("Status", ""),
        ("Certificate", ""),
        ("CA", ""),
        ("Created", ""),
        ("First seen", ""),
        ("Reason", ""),
    ]
    head = "".join(f'<th class="{css}"><button type="button">{label}</button></th>' for label, css in headers)
    region = report["region"]
    rows = "".join(_finding_row(finding, region) for finding in shown[:PAGE_ROWS])
    # The rest wait in a template (parsed, never laid out) until a filter, a sort or "Show more" wants them.
    later = "".join(_finding_row(finding, region) for finding in shown[PAGE_ROWS:])
    pager = (
        f'<p class="pager" id="pager"{"" if later else " hidden"}>The first <span id="on-page">'
        f'{min(len(shown), PAGE_ROWS):,}</span> of them are shown. <button type="button" id="show-more">Show more'
        "</button></p>\n"
    )
    more = ""
    if total > len(shown):
        more = (
            f'<p class="more" id="findings-more">The table lists the worst {len(shown):,} of {total:,} findings: '
            f"{total - len(shown):,} more are in {_full_report(report)}.</p>\n"
        )
    return (
        heading
        + more
        + controls
        + f'<div class="table-wrap"><table id="findings-table" data-page="{PAGE_ROWS}"><thead><tr>{head}</tr></thead>'
        f"\n<tbody>\n{rows}</tbody></table></div>\n"
        f'<template id="findings-later">\n{later}</template>\n'
        '<p class="empty" id="no-match" hidden>No finding matches these filters.</p>\n' + pager + "</section>\n"
    )


def _resolved(report: dict) -> str:
    resolved = report.get("resolvedFindings") or []
    left_out = report.get("resolvedFindingsOmitted", 0)
    if not resolved and not left_out:
        return ""
    rows = "".join(
        f"<tr><td>{_severity(f.get('severity'))}</td><td>{_type(f.get('type'))}</td><td>{_text(f.get('status'))}</td>"
        f'<td class="nowrap">{_id(f.get("certificateId"))}</td><td class="nowrap">{_id(f.get("caCertificateId"))}</td>'
        f'<td class="nowrap">{_day(f.get("firstSeen"))}</td><td class="nowrap">{_when(f.get("resolvedAt"))}</td></tr>\n'
        for f in resolved[:LIST_LIMIT]
    )
    return (
        '<section class="panel" id="resolved">\n<h2>Resolved since the last run</h2>\n'
        '<div class="table-wrap"><table><thead><tr><th>Severity</th><th>Type</th><th>Status</th><th>Certificate</th>'
        f"<th>CA</th><th>Open since</th><th>Gone at</th></tr></thead>\n<tbody>\n{rows}</tbody></table></div>\n"
        + _more(len(resolved) - LIST_LIMIT + left_out, "resolved finding", report)
        + "</section>\n"
    )


def _suppression_target(entry: dict) -> str:
    if entry.get("certificateId"):
        target = f"certificate {_id(entry['certificateId'])}"
    elif entry.get("caCertificateId"):
        target = f"CA {_id(entry['caCertificateId'])}"
    else:
        target = "\u2014"
    if entry.get("type"):
        target += f" ({_text(TYPE_LABELS.get(entry['type'], entry['type']))})"
    return target


def _suppressed(report: dict) -> str:
    suppressed = report.get("suppressedFindings") or []
    total = report["summary"]["suppressedFindings"]
    expired = report.get("expiredSuppressions") or []
    expired_left_out = report.get("expiredSuppressionsOmitted", 0)
    if not total and not expired and not expired_left_out:
        return ""
    parts = [
        '<section class="panel" id="suppressed">\n<h2>Suppressed findings</h2>\n',
        f'<p class="note">{_plural(total, "finding")} your team accepted: counted and listed here, '
        "never alerted on.</p>\n",
    ]
    if suppressed:
        rows = "".join(
            f"<tr><td>{_severity(f.get('severity'))}</td><td>{_type(f.get('type'))}</td>"
            f'<td>{_text(f.get("status"))}</td><td class="nowrap">{_id(f.get("certificateId"))}</td>'
            f'<td class="nowrap">{_id(f.get("caCertificateId"))}</td>'
            f'<td class="reason">{_text((f.get("suppression") or {}).get("reason"))}</td>'
            f'<td class="nowrap">{_day((f.get("suppression") or {}).get("expires"))}</td></tr>\n'
            for f in suppressed[:LIST_LIMIT]
        )
        parts.append(
            '<div class="table-wrap"><table id="suppressed-table"><thead><tr><th>Severity</th><th>Type</th>'
            "<th>Status</th><th>Certificate</th><th>CA</th><th>Why it is accepted</th><th>Until</th></tr></thead>\n"
            f"<tbody>\n{rows}</tbody></table></div>\n"
        )
    parts.append(_more(total - min(len(suppressed), LIST_LIMIT), "suppressed finding", report))
    if expired or expired_left_out:
        rows = "".join(
            f'<tr><td>{_suppression_target(entry)}</td><td class="reason">{_text(entry.get("reason"))}</td>'
            f'<td class="nowrap">{_day(entry.get("expires"))}</td></tr>\n'
            for entry in expired[:LIST_LIMIT]
        )
        parts.append(
            "<h3>Expired suppressions (no longer applied: renew or remove them)</h3>\n"
            '<div class="table-wrap"><table id="expired-table"><thead><tr><th>Suppressed</th><th>Reason</th>'
            f"<th>Expired</th></tr></thead>\n<tbody>\n{rows}</tbody></table></div>\n"
        )
        parts.append(_more(len(expired) - LIST_LIMIT + expired_left_out, "expired suppression", report))
    parts.append("</section>\n")
    return "".join(parts)


def _cas(report: dict) -> str:
    cas = sorted(report["cas"], key=ca_rank)[:LIST_LIMIT]
    statuses = list(dict.fromkeys(status for ca in cas for status in ca["byStatus"]))
    head = "".join(f'<th class="num">{_text(status)}</th>' for status in statuses)
    rows = []
    for ca in cas:
        result = f"failed: <code>{_text(ca['error'].get('code'))}</code>" if ca["error"] else "scanned"
        counts = "".join(f'<td class="num">{_number(ca["byStatus"].get(status))}</td>' for status in statuses)
        expiry = _day(ca.get("notAfter"))
        if ca.get("daysToExpiry") is not None:
            expiry += f" ({ca['daysToExpiry']:,} d)"
        rows.append(
            f'<tr><td class="nowrap">{_id(ca["caCertificateId"])}</td><td>{_text(ca.get("status"))}</td>'
            f'<td>{_text(ca.get("certificateMode"))}</td><td class="nowrap">{expiry}</td><td>{result}</td>'
            f'<td class="num">{_number(ca["certificatesScanned"])}</td>{counts}'
            f'<td class="num">{_number(ca["findings"])}</td>'
            f'<td class="num">{_number(ca["suppressedFindings"])}</td></tr>\n'
        )
    left_out = len(report["cas"]) - len(cas) + report.get("casOmitted", 0)
    return (
        '<section class="panel" id="cas">\n<details>\n<summary>CAs: certificates by status '
        f"({_plural(len(report['cas']) + report.get('casOmitted', 0), 'CA')})</summary>\n"
        '<div class="table-wrap"><table id="ca-table"><thead><tr><th>CA</th><th>CA status</th><th>Mode</th>'
        f'<th>Expires</th><th>Result</th><th class="num">Certificates</th>{head}<th class="num">Findings</th>'
        f'<th class="num">Suppressed</th></tr></thead>\n<tbody>\n{"".join(rows)}</tbody></table></div>\n'
        + _more(left_out, "CA", report)
        + "</details>\n</section>\n"
    )


def _footer(report: dict) -> str:
    where = ""
    if report.get("reportUri"):
        uri = f"<code>{_text(report['reportUri'])}</code>"
        where = f"Full report: {_link(report.get('reportConsoleUrl'), uri)}. "
    return (
        f"<footer>{where}IoT certificate audit report, schema version {_text(report.get('schemaVersion'))}. "
        "This page fetches nothing: open it anywhere.</footer>\n"
        f"</main>\n<script>{SCRIPT}</script>\n</body>\n</html>\n"
    )


def render(report: dict) -> str:
    """The report as one self-contained HTML page."""
    return "".join(
        (
            _head(report),
            _header(report),
            _cards(report),
            _errors(report),
            _charts(report),
            _findings(report),
            _resolved(report),
            _suppressed(report),
            _cas(report),
            _footer(report),
        )
    )
