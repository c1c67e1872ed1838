"""An evidence pack as one self-contained HTML page: inline CSS, inline SVG charts, no script, no
external resource, page breaks between sections when printed (to PDF). Rendered from the pack's
JSON alone (sealed: with its digest), so the page and the JSON say the same."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from html import escape
from typing import Any

from ..timefmt import parse_rfc3339
from . import charts
from .i18n import t
from .schema import ALGORITHM

VERIFY_COMMAND = ("python3 -c 'import hashlib,json,sys; p=json.load(open(sys.argv[1])); d=p.pop(\"digest\"); "
                  "print(hashlib.sha256(json.dumps(p,sort_keys=True,separators=(\",\",\":\"),ensure_ascii=False)"
                  ".encode()).hexdigest()==d[\"value\"])' {file}")

CSS = """
:root { --fail:#c92a2a; --warn:#e67700; --pass:#2b8a3e; --skip:#868e96; --ink:#212529; --muted:#6c757d;
        --line:#dee2e6; --soft:#f8f9fa; --accent:#1c7ed6; }
* { box-sizing: border-box; }
html { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
body { font-family: "DejaVu Sans", "Liberation Sans", Arial, sans-serif; color: var(--ink); margin: 0 auto;
       max-width: 1180px; padding: 24px 32px; font-size: 13px; line-height: 1.45; background: #fff; }
h1 { font-size: 26px; margin: 0 0 6px; }
h2 { font-size: 19px; margin: 0 0 10px; padding-bottom: 4px; border-bottom: 2px solid var(--ink); }
h3 { font-size: 15px; margin: 18px 0 6px; }
p { margin: 6px 0; }
.muted { color: var(--muted); }
header.cover { border-bottom: 4px solid var(--accent); padding-bottom: 12px; margin-bottom: 14px; }
.badge { display: inline-block; padding: 3px 10px; border-radius: 12px; font-weight: bold; color: #fff; }
.badge.ok { background: var(--pass); } .badge.ko { background: var(--fail); }
.r { display: inline-block; min-width: 44px; padding: 0 6px; border-radius: 3px; font-size: 11px; color: #fff;
     text-align: center; font-weight: bold; }
.r.fail { background: var(--fail); } .r.warn { background: var(--warn); } .r.pass { background: var(--pass); }
.r.skip { background: var(--skip); } .r.waived { background: #5f3dc4; }
.sev { font-size: 11px; font-weight: bold; text-transform: uppercase; }
.sev.critical { color: #862e9c; } .sev.high { color: var(--fail); } .sev.medium { color: var(--warn); }
.sev.low { color: var(--accent); } .sev.info { color: var(--muted); }
table { border-collapse: collapse; width: 100%; margin: 6px 0 12px; }
th, td { border: 1px solid var(--line); padding: 4px 6px; text-align: left; vertical-align: top; }
th { background: var(--soft); font-size: 12px; }
td.num, th.num { text-align: right; white-space: nowrap; }
table.facts th { width: 28%; }
code, .mono { font-family: "DejaVu Sans Mono", "Liberation Mono", monospace; font-size: 11.5px;
              word-break: break-all; }
nav.toc ol { columns: 2; margin: 6px 0 0; }
section { margin-top: 26px; }
figure { margin: 8px 0 14px; }
figcaption { font-size: 12px; color: var(--muted); margin-bottom: 4px; }
svg.chart { max-width: 100%; height: auto; }
.note { background: var(--soft); border-left: 4px solid var(--accent); padding: 6px 10px; margin: 8px 0; }
.note.warn { border-left-color: var(--warn); }
ul.plain { margin: 4px 0; padding-left: 18px; }
.digest { font-size: 15px; font-weight: bold; }
@page { size: A4; margin: 12mm; }
@media print {
  body { max-width: none; padding: 0; font-size: 10.5px; }
  section { break-before: page; margin-top: 0; }
  h2, h3 { break-after: avoid; }
  tr, figure, .note { break-inside: avoid; }
  nav.toc { break-after: page; }
}
"""


def e(value: Any) -> str:
    return escape("" if value is None else str(value))


class _Page:
    def __init__(self, pack: Mapping[str, Any]) -> None:
        self.pack = pack
        self.lang = pack["language"]

    def t(self, key: str, **values: Any) -> str:
        return t(key, self.lang, **values)

    def result(self, value: str, waived: bool = False) -> str:
        if waived:
            return f'<span class="r waived">{e(self.t("waived"))}</span>'
        return f'<span class="r {e(value)}">{e(self.t(value))}</span>'

    def yes_no(self, value: Any) -> str:
        if value is None:
            return f'<span class="muted">{e(self.t("unknown"))}</span>'
        return e(self.t("yes") if value else self.t("no"))

    def note(self, text: str, cls: str = "") -> str:
        return f'<p class="note {cls}">{e(text)}</p>'

    def sev(self, severity: str) -> str:
        return f'<span class="sev {e(severity)}">{e(self.t("sev." + severity))}</span>'

    def table(self, headers: Sequence[str], rows: Iterable[Sequence[str]], cls: str = "",
              numeric: Sequence[int] = ()) -> str:
        rows = list(rows)
        if not rows:
            return self.note(self.t("none_found"))
        head = "".join(f'<th{" class=num" if i in numeric else ""}>{h}</th>' for i, h in enumerate(headers))
        body = "".join("<tr>" + "".join(f'<td{" class=num" if i in numeric else ""}>{c}</td>'
                                        for i, c in enumerate(row)) + "</tr>" for row in rows)
        return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'

    def facts(self, rows: Iterable[tuple[str, str]]) -> str:
        return '<table class="facts"><tbody>' + "".join(
            f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows) + "</tbody></table>"

    def counts(self, summary: Mapping[str, Any]) -> str:
        return e(self.t("counts", **{k: summary.get(k, 0) for k in ("fail", "warn", "pass", "skip")}))

    def verdict(self, summary: Mapping[str, Any]) -> str:
        ok = summary.get("compliant")
        return (f'<span class="badge {"ok" if ok else "ko"}">{e(self.t("compliant" if ok else "noncompliant"))}'
                f"</span> {self.counts(summary)}")

    def recorded(self, recorded: Mapping[str, Any] | None) -> str:
        if recorded is None:
            return f'<span class="muted">{e(self.t("not_recorded_offline" if self.offline else "not_recorded"))}</span>'
        text = f"Compliant={e(recorded.get('compliant'))}"
        if recorded.get("ready") != "True":
            text += f", Ready={e(recorded.get('ready'))} {e(recorded.get('reason', ''))}"
        if "summary" in recorded:
            text += " · " + self.counts(recorded["summary"])
        if recorded.get("lastEvaluated"):
            text += f' <span class="muted">({e(recorded["lastEvaluated"])})</span>'
        return text

    @property
    def offline(self) -> bool:
        return self.pack["source"]["type"] != "cluster"

    def recorded_note(self, note: str) -> str:
        return e(self.t({"offline": "not_recorded_offline", "not-recorded": "not_recorded"}.get(note, "none")))

    def resource(self, r: Mapping[str, Any]) -> str:
        where = f"{r['namespace']}/{r['name']}" if r.get("namespace") else r["name"]
        return f"{e(r['kind'])} <b>{e(where)}</b>"

    # ---- head and tail

    def head(self, title: str) -> str:
        return (f'<!DOCTYPE html>\n<html lang="{e(self.lang)}"><head><meta charset="utf-8">'
                f'<meta name="viewport" content="width=device-width, initial-scale=1">'
                f'<meta name="generator" content="sncguard {e(self.pack["generator"]["version"])}">'
                f"<title>{e(title)}</title><style>{CSS}</style></head><body>")

    def generated(self) -> str:
        source = self.pack["source"]
        if source["type"] == "cluster":
            where = source.get("context") or source.get("server") or ""
            if source.get("context") and source.get("server"):
                where = f"{source['context']} ({source['server']})"
            text = self.t("source.cluster", where=where)
        else:
            text = self.t("source.files", where=", ".join(source.get("paths") or ()))
        return self.t("generated", now=self.pack["generatedAt"], version=self.pack["generator"]["version"],
                      source=text)

    def toc(self, sections: Sequence[tuple[str, str]]) -> str:
        items = "".join(f'<li><a href="#{anchor}">{e(title)}</a></li>' for anchor, title in sections)
        return f'<nav class="toc"><ol>{items}</ol></nav>'

    def digest(self, file_name: str) -> str:
        d = self.pack["digest"]
        return (f'<section id="digest"><h2>{e(self.t("section.digest"))}</h2>'
                f"<p>{e(self.t('digest_intro'))}</p>"
                f'<p><code>{e(VERIFY_COMMAND.format(file=file_name))}</code></p>'
                f'<p class="digest">{e(d["algorithm"].upper())} <span class="mono">{e(d["value"])}</span></p>'
                "</section>")

    # ---- shared sections

    def findings(self, findings: Mapping[str, Any], summary: Mapping[str, Any]) -> str:
        out = [f'<section id="findings"><h2>{e(self.t("section.findings"))}</h2>']
        labels = {k: self.t(k) for k in ("fail", "warn", "pass", "skip")}
        labels.update({s: self.t("sev." + s) for s in ("critical", "high", "medium", "low", "info")})
        out.append(f"<figure><figcaption>{e(self.t('chart.findings'))}</figcaption>"
                   f"{charts.findings_by_rule(self.t('chart.findings'), findings['byRule'], labels)}</figure>")
        severities = summary["failingBySeverity"]
        out.append(f"<h3>{e(self.t('by_severity'))}</h3>")
        out.append(self.table([e(self.t("severity")), e(self.t("fail"))],
                              ([self.sev(s), e(n)] for s, n in severities.items()),
                              numeric=(1,)))
        shown = [f for f in findings["items"] if f["result"] in ("fail", "warn")]
        out.append(f"<h3>{e(self.t('failing_findings'))}</h3>")
        if shown:
            out.append(self.finding_table(shown))
        else:
            out.append(self.note(self.t("no_failing")))
        waived = [f for f in findings["items"] if f["waived"]]
        if waived:
            out.append(f"<h3>{e(self.t('waived_findings'))}</h3>")
            out.append(self.table(
                [e(self.t("rule")), e(self.t("resource")), e(self.t("expires")), e(self.t("reason"))],
                ([e(f["rule"]), self.resource(f["resource"]), e(f["waiver"]["until"]), e(f["waiver"]["reason"])]
                 for f in waived)))
        out.append(f"<h3>{e(self.t('cited'))}</h3>")
        out.append(self.table([e(self.t("requirement")), "", e(self.t("source_clause"))],
                              ([f"<b>{e(r['id'])}</b>", e(r["text"]), e(r["source"])]
                               for r in findings["requirements"])))
        out.append(f'<p class="muted">{e(self.t("all_in_json"))}</p></section>')
        return "".join(out)

    def finding_table(self, items: Sequence[Mapping[str, Any]]) -> str:
        rows = []
        for f in items:
            where = self.resource(f["resource"])
            if f.get("field"):
                where += f'<br><code>{e(f["field"])}</code>'
            if f.get("source"):
                where += f'<br><span class="muted">{e(f["source"]["file"])}:{e(f["source"]["line"])}</span>'
            rows.append([f"<b>{e(f['rule'])}</b><br>" + self.result(f["result"], f["waived"]),
                         self.sev(f["severity"]),
                         e(", ".join(f["requirements"])), where, e(f["message"])])
        return self.table([e(self.t("rule")), e(self.t("severity")), e(self.t("requirements")),
                           e(self.t("resource")), e(self.t("message"))], rows)

    def sla(self, sla: Mapping[str, Any]) -> str:
        out = [f'<section id="sla"><h2>{e(self.t("section.sla"))}</h2><p>{e(self.t("sla_intro"))}</p>']
        policies = sla["policies"]
        if not policies:
            out.append(self.note(self.t("no_zonespread")))
            return "".join(out) + "</section>"
        rows = []
        for p in policies:
            current = p.get("current")
            if current is not None:
                now = (f"{self.result('pass') if current['eligible'] else self.result('fail')} "
                       f"{e(self.t('eligible') if current['eligible'] else self.t('not_eligible'))}"
                       f' <span class="muted">{e(self.t("since"))} {e(current["since"])}</span>')
                causes = "<br>".join(e(f"{c.get('rule', '')} {c.get('kind', '')} {c.get('namespace', '')}/"
                                       f"{c.get('name', '')}") for c in current["causes"])
            else:
                now = (f"{self.result('pass') if p['eligible'] else self.result('fail')} "
                       f"{e(self.t('eligible') if p['eligible'] else self.t('not_eligible'))}")
                causes = "<br>".join(e(f"{c.get('rule', '')} {c.get('kind', '')} {c.get('namespace', '')}/"
                                       f"{c.get('name', '')}") for c in p["causes"])
            rows.append([f"ZoneSpread <b>{e(p['namespace'])}/{e(p['name'])}</b>", e(p["minZones"]),
                         e(", ".join(p["observedZones"]) or "—"), now, causes])
        out.append(self.table([e(self.t("policy")), e(self.t("min_zones")), e(self.t("zones")),
                               e(self.t("eligible_now")), e(self.t("causes"))], rows))
        lanes = [(f"{p['namespace']}/{p['name']}", p["timeline"]) for p in policies if "timeline" in p]
        if lanes:
            month = sla["month"]
            labels = {"eligible": self.t("eligible"), "not-eligible": self.t("not_eligible"),
                      "unknown": self.t("unknown"), "outage": self.t("zone_outage")}
            title = self.t("chart.sla", month=month)
            out.append(f"<figure><figcaption>{e(title)}</figcaption>"
                       f"{charts.sla_timeline(title, lanes, labels, parse_rfc3339)}</figure>")
            rows = []
            for p in policies:
                for m in p.get("months") or ():
                    total = sum(int(m.get(k) or 0) for k in ("eligibleSeconds", "notEligibleSeconds",
                                                             "unobservedSeconds")) or 1
                    rows.append([f"{e(p['namespace'])}/{e(p['name'])}", e(m["month"])] + [
                        f"{_duration(int(m.get(k) or 0))} ({int(m.get(k) or 0) * 100 // total} %)"
                        for k in ("eligibleSeconds", "notEligibleSeconds", "unobservedSeconds")])
            out.append(f"<h3>{e(self.t('ledger'))}</h3>")
            out.append(self.table([e(self.t("policy")), e(self.t("month")), e(self.t("eligible")),
                                   e(self.t("not_eligible")), e(self.t("unobserved"))], rows, numeric=(2, 3, 4)))
            outages = [(p, o) for p in policies for o in (p.get("timeline") or {}).get("outages") or ()]
            if outages:
                out.append(f"<h3>{e(self.t('outages'))}</h3>")
                out.append(self.table([e(self.t("policy")), e(self.t("zone")), e(self.t("start")), e(self.t("end"))],
                                      ([f"{e(p['namespace'])}/{e(p['name'])}", e(o["zone"]), e(o["start"]),
                                        e(self.t("ongoing")) if o.get("ongoing") else e(o["end"])]
                                       for p, o in outages)))
        if any(p["ledger"] != "recorded" for p in policies):
            out.append(self.note(self.t("ledger_offline" if self.offline else "no_ledger")))
        return "".join(out) + "</section>"

    def backups(self, backups: Mapping[str, Any], tenant: bool) -> str:
        out = [f'<section id="backups"><h2>{e(self.t("section.backups"))}</h2>']
        if not backups["veleroInstalled"]:
            out.append(self.note(self.t("velero_absent"), "warn"))
        if backups.get("uncovered"):
            out.append(self.note(self.t("no_backup_policy", namespaces=", ".join(backups["uncovered"])), "warn"))
        if not tenant and backups.get("targets") is not None:
            out.append(f"<h3>{e(self.t('section.targets'))}</h3>")
            out.append(self.targets(backups["targets"]) if backups["targets"] else self.note(self.t("none_found")))
        for p in backups["policies"]:
            out.append(f"<h3>BackupPolicy {e(p['namespace'])}/{e(p['name'])} "
                       f'<span class="muted">({e(p["mode"])})</span></h3>')
            status = p["status"]
            target = p.get("target")
            encryption = ", ".join(target["encryption"]) if target and target["encryption"] else (
                self.t("not_encrypted") if target else "—")
            out.append(self.facts([
                (e(self.t("target")), e(f"{p['veleroNamespace']}/{p['storageLocation']}")
                 + (f" · {e(target['provider'])} {e(target['bucket'])}" if target else "")),
                (e(self.t("target_zone")), e(status.get("targetZone") or "—")),
                (e(self.t("target_region")), e(status.get("targetRegion") or "—")),
                (e(self.t("encryption")), e(encryption)),
                (e(self.t("workload_zones")), e(", ".join(status.get("workloadZones") or ()) or "—")),
                (e(self.t("schedule")), f"<code>{e(p['schedule'])}</code>"),
                (e(self.t("rpo")), e(p["rpo"])),
                (e(self.t("restore_interval")), e(p["restoreTestInterval"] or "—")),
                (e(self.t("last_backup")), e(status.get("lastBackup") or "—")),
                (e(self.t("last_restore")), e(status.get("lastRestoreTest") or "—")),
                (e(self.t("next_deadline")), e(status.get("nextDeadline") or "—")),
                (e(self.t("rules")), " ".join(f"{e(r)} {self.result(v)}" for r, v in p["verdicts"].items())),
            ]))
            out.append(f"<p><b>{e(self.t('recent_backups'))}</b> ({e(p['backupsTotal'])})</p>")
            if p["backups"]:
                out.append(self.table([e(self.t("backup")), e(self.t("phase")), e(self.t("completed"))],
                                      ([e(b["name"]), e(b["phase"]), e(b["completed"])] for b in p["backups"])))
            else:
                out.append(self.note(self.t("none_found")))
            out.append(f"<p><b>{e(self.t('restore_tests'))}</b> ({e(p['restoreTestsTotal'])})</p>")
            if p["restoreTests"]:
                out.append(self.table([e(self.t("name")), e(self.t("completed")), e(self.t("report"))],
                                      ([e(r["name"]) + (" ★" if r["drill"] else ""), e(r["completed"]),
                                        e(r.get("report") or f"{r['backup']}: {r['phase']}")]
                                       for r in p["restoreTests"])))
            else:
                out.append(self.note(self.t("none_found")))
            drill = p.get("lastDrill")
            if drill:
                text = ", ".join(f"{k}: {v}" for k, v in drill.items())
                out.append(f"<p><b>{e(self.t('last_drill'))}</b>: {e(text)}</p>")
            else:
                out.append(f"<p><b>{e(self.t('last_drill'))}</b>: "
                           f'<span class="muted">{self.recorded_note(p["lastDrillRecorded"])}</span></p>')
        if not backups["policies"]:
            out.append(self.note(self.t("none_found")))
        return "".join(out) + "</section>"

    def targets(self, targets: Sequence[Mapping[str, Any]]) -> str:
        return self.table(
            [e(self.t("name")), e(self.t("provider")), e(self.t("zone")), e(self.t("region")),
             e(self.t("encryption"))],
            ([e(f"{b['namespace']}/{b['name']}"), e(f"{b['provider']} {b['bucket']}"), e(b["zone"] or "—"),
              e(b["region"] or "—"), e(", ".join(b["encryption"]) or self.t("not_encrypted"))] for b in targets))

    def problems(self, problems: Mapping[str, Any]) -> str:
        out = []
        if problems["invalidPolicies"]:
            out.append(f"<h3>{e(self.t('invalid_policies'))}</h3>")
            out.append(self.table([e(self.t("policy")), e(self.t("message"))],
                                  ([e(f"{p['kind']} {p['namespace'] + '/' if p['namespace'] else ''}{p['name']}"),
                                    e(p["problem"])] for p in problems["invalidPolicies"])))
        if problems["unreadable"]:
            out.append(f"<h3>{e(self.t('unreadable'))}</h3>")
            out.append('<ul class="plain">' + "".join(f"<li><code>{e(r)}</code></li>"
                                                      for r in problems["unreadable"]) + "</ul>")
        return "".join(out)


def _duration(seconds: int) -> str:
    days, rest = divmod(max(0, seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days}d {hours}h"
    return f"{hours}h {minutes:02d}m"


# ---- the tenant page --------------------------------------------------------------------------


def _tenant_sections(page: _Page) -> list[tuple[str, str, Callable[[], str]]]:
    pack = page.pack
    return [
        ("access", page.t("section.access"), lambda: _access(page, pack["access"])),
        ("placement", page.t("section.placement"), lambda: _placement(page, pack["placement"])),
        ("sla", page.t("section.sla"), lambda: page.sla(pack["sla"])),
        ("backups", page.t("section.backups"), lambda: page.backups(pack["backups"], tenant=True)),
        ("network", page.t("section.network"), lambda: _network(page, pack["network"])),
        ("findings", page.t("section.findings"), lambda: page.findings(pack["findings"], pack["summary"])),
        ("termination", page.t("section.termination"), lambda: _termination(page, pack["termination"])),
        ("digest", page.t("section.digest"), lambda: ""),
    ]


def _access(page: _Page, access: Mapping[str, Any]) -> str:
    out = [f'<section id="access"><h2>{e(page.t("section.access"))}</h2><p>{e(page.t("register_intro"))}</p>']
    subjects = ", ".join(f"{s['kind']} {s.get('namespace', '') + '/' if s.get('namespace') else ''}{s['name']}"
                         for s in access["authorizedSubjects"])
    out.append(page.facts([(e(page.t("authorized_subjects")), e(subjects or page.t("none")))]))
    rows = []
    for entry in access["register"]:
        who = f"{entry['kind']} " + (f"{entry['namespace']}/" if entry.get("namespace") else "") + entry["name"]
        lines = []
        for a in entry["access"]:
            ns = page.t("all_namespaces") if a["namespaces"] == "all" else ", ".join(a["namespaces"])
            binding = a["binding"]
            where = f"{binding['namespace']}/" if binding.get("namespace") else ""
            lines.append(f"{'✓' if a['authorised'] else '✗'} {a['role']['kind']} {a['role']['name']} · "
                         f"{binding['kind']} {where}{binding['name']} · {ns}")
        grant = entry.get("grant")
        rows.append([f"<b>{e(who)}</b>", page.result("pass" if entry["authorised"] else "fail"),
                     "<br>".join(e(line) for line in lines),
                     e(f"{grant['reason']} ({page.t('expires')} {grant['expires']})") if grant else "—"])
    if rows:
        out.append(page.table([e(page.t("subject")), e(page.t("authorised")), e(page.t("access_via")),
                               e(page.t("grant"))], rows))
    else:
        out.append(page.note(page.t("empty_register")))
    if access["grants"]:
        out.append(f"<h3>{e(page.t('grants'))}</h3>")
        out.append(page.table([e(page.t("subject")), e(page.t("role")), e(page.t("expires")), e(page.t("state")),
                               e(page.t("reason"))],
                              ([e(g["subject"]), e(g["clusterRole"]), e(g["expires"]), e(g["state"]), e(g["reason"])]
                               for g in access["grants"])))
    facts = [(e(page.t("register_digest")), f'<span class="mono">{e(access["digest"])}</span>')]
    if "recordedDigest" in access:
        same = page.t("matches") if access["recordedDigestMatches"] else page.t("differs")
        facts.append((e(page.t("register_recorded")),
                      f'<span class="mono">{e(access["recordedDigest"])}</span> ({e(same)})'))
    else:
        facts.append((e(page.t("register_recorded")),
                      f'<span class="muted">{page.recorded_note(access["recorded"])}</span>'))
    out.append(page.facts(facts))
    return "".join(out) + "</section>"


def _placement(page: _Page, placement: Mapping[str, Any]) -> str:
    out = [f'<section id="placement"><h2>{e(page.t("section.placement"))}</h2>']
    if not placement["podsObserved"]:
        out.append(page.note(page.t("no_pods_observed"), "warn"))
    title = page.t("chart.zones")
    out.append(f"<figure><figcaption>{e(title)}</figcaption>"
               f"{charts.zone_matrix(title, placement['workloads'], placement['zones'], page.t('pending'))}"
               "</figure>")
    allowed = placement["allowedRegions"]
    regions = ", ".join(f"{r}: {n}" for r, n in placement["podsByRegion"].items())
    out.append(page.facts([
        (e(page.t("allowed_regions")), e(", ".join(allowed) if allowed else page.t("none"))),
        (e(page.t("pods_by_region")), e(regions or "—")),
    ]))
    rows = [[e(f"{w['kind']} {w['namespace']}/{w['name']}"), e(w["replicas"]),
             e(", ".join(f"{z}: {n}" for z, n in w["zones"].items()) or "—"), e(w["notRunning"]),
             e(", ".join(w["regions"]) or "—"), page.yes_no(w.get("hardSpread"))] for w in placement["workloads"]]
    out.append(page.table([e(page.t("workload")), e(page.t("replicas")), e(page.t("zones")), e(page.t("pending")),
                           e(page.t("regions")), e(page.t("spread"))], rows, numeric=(1, 3)))
    out.append(f"<h3>{e(page.t('volumes'))}</h3>")
    if placement["volumes"]:
        out.append(page.table([e(page.t("volume")), e(page.t("claim")), e(page.t("zone")), e(page.t("region")),
                               e(page.t("in_allowed"))],
                              ([e(v["name"]), e(v["claim"]), e(v["zone"] or "—"), e(v["region"] or "—"),
                                page.yes_no(v["allowed"])] for v in placement["volumes"])))
    else:
        out.append(page.note(page.t("no_volumes")))
    if placement["claimsWithoutVolume"]:
        out.append(page.note(page.t("claims_without_volume", claims=", ".join(placement["claimsWithoutVolume"])),
                             "warn"))
    return "".join(out) + "</section>"


def _network(page: _Page, network: Mapping[str, Any]) -> str:
    out = [f'<section id="network"><h2>{e(page.t("section.network"))}</h2>']
    deny = {d["namespace"]: d for d in network["defaultDeny"]}
    out.append(f"<h3>{e(page.t('default_deny'))}</h3>")
    out.append(page.table([e(page.t("namespace")), e(page.t("network_zone")), e(page.t("ingress")),
                           e(page.t("egress"))],
                          ([e(ns), e(zone or "—"), page.result(deny.get(ns, {}).get("ingress", "skip")),
                            page.result(deny.get(ns, {}).get("egress", "skip"))]
                           for ns, zone in network["zonesOfNamespaces"].items())))
    out.append(f"<h3>{e(page.t('flow_matrix'))}</h3><p>{e(page.t('flows_intro'))}</p>")
    if network["flows"]:
        rows = []
        for f in network["flows"]:
            verdict = {"effective": "pass", "partial": "warn", "blocked": "fail", "no-endpoints": "skip"}[f["verdict"]]
            cell = (f'<span class="r {verdict}">{e(page.t("flow." + f["verdict"]))}</span> '
                    f'{e(page.t("flow.pairs", allowed=f["allowed"], checked=f["checked"]))}')
            if f.get("blockedExample"):
                cell += f'<br><span class="muted">✗ {e(f["blockedExample"])}</span>'
            rows.append([f"<b>{e(f['name'])}</b>", e(f["from"]), e(f["to"]), e(f["ports"]), cell])
        out.append(page.table([e(page.t("flow")), e(page.t("from")), e(page.t("to")), e(page.t("ports")),
                               e(page.t("effective"))], rows))
    else:
        out.append(page.note(page.t("no_flows")))
    out.append(f"<h3>{e(page.t('undeclared'))}</h3>")
    out.append(page.finding_table(network["undeclared"]) if network["undeclared"] else page.note(page.t("none_found")))
    out.append(f"<h3>{e(page.t('exposures'))}</h3>")
    if network["exposures"]:
        out.append(page.table([e(page.t("object")), e(page.t("network_zone")), e(page.t("exposure")),
                               e(page.t("rules"))],
                              ([page.resource(x), e(x["zone"] or "—"), e(x["exposure"]),
                                " ".join(f"{e(r)} {page.result(v)}" for r, v in x["rules"].items())]
                               for x in network["exposures"])))
    else:
        out.append(page.note(page.t("no_exposures")))
    return "".join(out) + "</section>"


def _termination(page: _Page, term: Mapping[str, Any]) -> str:
    out = [f'<section id="termination"><h2>{e(page.t("section.termination"))}</h2>']
    if not term["declared"]:
        out.append(page.note(page.t("termination_none")))
        return "".join(out) + "</section>"
    out.append(page.facts([(e(page.t(k)), e(term.get(f) or "—")) for k, f in (
        ("contract_ended", "contractEndedAt"), ("notice_due", "noticeDeadline"), ("notice_at", "erasureNoticeAt"),
        ("erasure_due", "erasureDeadline"))]))
    remaining = term["remaining"]
    items = ([f"{page.t('namespace')} {n}" for n in remaining["namespaces"]]
             + [f"PersistentVolume {v['name']} ({v['claim']})" for v in remaining["volumes"]]
             + [f"Backup {b['namespace']}/{b['name']} ({', '.join(b['holds'])})" for b in remaining["backups"]])
    out.append(f"<h3>{e(page.t('remaining'))}</h3>")
    out.append('<ul class="plain">' + "".join(f"<li>{e(i)}</li>" for i in items) + "</ul>" if items
               else page.note(page.t("none_found")))
    out.append(f"<h3>{e(page.t('certificate'))}</h3>")
    certificate = term.get("certificate")
    if certificate:
        source = page.t("certificate_recorded" if term["certificateSource"] == "operator" else "certificate_computed")
        out.append(f'<p class="muted">{e(source)}</p>')
        out.append(page.facts([
            (e(page.t("checked_at")), e(certificate.get("checkedAt"))),
            (e(page.t("deadline")), e(certificate.get("deadline"))),
            (e(page.t("namespaces")), e(", ".join(certificate.get("namespaces") or ()))),
            (e(page.t("inventory")),
             e(", ".join(f"{k}: {v}" for k, v in (certificate.get("inventory") or {}).items()))),
            (e(page.t("digest")), f'<span class="mono">{e(certificate.get("digest"))}</span>'),
        ]))
    else:
        out.append(page.note(page.t("certificate_none")))
    if term["verdicts"]:
        out.append(page.finding_table(term["verdicts"]))
    return "".join(out) + "</section>"


def render_tenant(pack: Mapping[str, Any], file_name: str) -> str:
    """The tenant's page; `file_name` is the JSON file the verification command names."""
    page = _Page(pack)
    tenant = pack["tenant"]
    title = page.t("title.tenant", tenant=tenant["name"])
    sections = _tenant_sections(page)
    zones = pack["network"]["zonesOfNamespaces"]
    namespaces = ", ".join(f"{ns} ({zones[ns]})" if zones.get(ns) else ns for ns in tenant["namespaces"])
    policies = page.table(
        [e(page.t("policy")), e(page.t("mode")), e(page.t("computed_verdict")), e(page.t("recorded_verdict"))],
        ([e(f"{p['kind']} {p['namespace'] + '/' if p['namespace'] else ''}{p['name']}"
            + (f" ({page.t('baseline')})" if p["baseline"] else "")),
          e(p.get("mode") or "—"),
          page.verdict(p["summary"]), page.recorded(p["recorded"])] for p in tenant["policies"]))
    body = [
        page.head(title),
        f'<header class="cover"><h1>{e(title)}</h1><p class="muted">{e(page.generated())}</p></header>',
        f'<section id="summary" style="break-before: auto; margin-top: 0"><h2>{e(page.t("section.summary"))}</h2>',
        page.facts([
            (e(page.t("tenant")), f"<b>{e(tenant['name'])}</b>"),
            (e(page.t("policy")), e(f"TenantPolicy {tenant['policy']} ({tenant['mode']})")),
            (e(page.t("namespaces")), e(namespaces or page.t("none"))),
            (e(page.t("computed_verdict")), page.verdict(pack["summary"])),
            (e(page.t("recorded_verdict")), page.recorded(pack["summary"].get("recorded"))),
            (e(page.t("by_severity")), e(", ".join(f"{page.t('sev.' + k)}: {v}"
                                                   for k, v in pack["summary"]["failingBySeverity"].items() if v)
                                         or "0")),
        ]),
        policies,
        page.toc([(anchor, title) for anchor, title, _ in sections]),
        page.problems(pack["problems"]),
        "</section>",
    ]
    body += [render() for _, _, render in sections[:-1]]
    body.append(page.digest(file_name))
    body.append("</body></html>\n")
    return "".join(body)


# ---- the platform page ------------------------------------------------------------------------


def render_platform(pack: Mapping[str, Any], file_name: str) -> str:
    page = _Page(pack)
    title = page.t("title.platform")
    sections = [("tenants", page.t("section.tenants")), ("policies", page.t("section.policies")),
                ("nodes", page.t("section.nodes")), ("sla", page.t("section.sla")),
                ("backups", page.t("section.backups")), ("findings", page.t("section.findings")),
                ("problems", page.t("section.problems")), ("digest", page.t("section.digest"))]
    body = [
        page.head(title),
        f'<header class="cover"><h1>{e(title)}</h1><p class="muted">{e(page.generated())}</p></header>',
        f'<section id="summary" style="break-before: auto; margin-top: 0"><h2>{e(page.t("section.summary"))}</h2>',
        page.facts([(e(page.t("computed_verdict")), page.verdict(pack["summary"])),
                    (e(page.t("section.tenants")), e(len(pack["tenants"]))),
                    (e(page.t("policies")), e(len(pack["policies"]))),
                    (e(page.t("nodes")), e(pack["placement"]["nodes"]["total"]))]),
        page.toc(sections), "</section>",
    ]
    tenants = page.table(
        [e(page.t("tenant")), e(page.t("namespaces")), e(page.t("computed_verdict")),
         e(page.t("unauthorised_subjects")), "SLA", e(page.t("termination"))],
        ([f"<b>{e(x['tenant'])}</b> ({e(x['mode'])})<br><span class=muted>{e(x['pack'])}.html</span>",
          e(", ".join(x["namespaces"]) or "—"), page.verdict(x["summary"]), e(x["unauthorisedSubjects"]),
          page.yes_no(x["slaEligible"]), e(page.t("term." + x["termination"]))] for x in pack["tenants"]))
    body.append(f'<section id="tenants"><h2>{e(page.t("section.tenants"))}</h2>{tenants}</section>')
    policies = page.table(
        [e(page.t("policy")), e(page.t("tenant")), e(page.t("mode")), e(page.t("computed_verdict")),
         e(page.t("recorded_verdict"))],
        ([e(f"{p['kind']} {p['namespace'] + '/' if p['namespace'] else ''}{p['name']}"
            + (f" ({page.t('baseline')})" if p["baseline"] else "")),
          e(p.get("tenant") or "—"), e(p.get("mode") or "—"),
          page.verdict(p["summary"]),
          page.recorded(p["recorded"]) + ("" if "agrees" not in p else
                                          f' ({e(page.t("matches") if p["agrees"] else page.t("differs"))})')]
         for p in pack["policies"]))
    body.append(f'<section id="policies"><h2>{e(page.t("section.policies"))}</h2>{policies}</section>')
    nodes = pack["placement"]["nodes"]
    node_bars = charts.bars(page.t("section.nodes"), [(f"{z['zone']} ({z['region']})", z["nodes"])
                                                     for z in nodes["zones"]])
    region_bars = charts.bars(page.t("pods_by_region"), list(pack["placement"]["podsByRegion"].items()))
    body.append(f'<section id="nodes"><h2>{e(page.t("section.nodes"))}</h2>'
                f"<figure><figcaption>{e(page.t('nodes'))}</figcaption>{node_bars}</figure>"
                f"<figure><figcaption>{e(page.t('pods_by_region'))}</figcaption>{region_bars}</figure>"
                + (page.note(page.t("no_pods_observed"), "warn") if not pack["placement"]["podsObserved"] else "")
                + "</section>")
    body.append(page.sla(pack["sla"]))
    body.append(page.backups(pack["backups"], tenant=False))
    findings = page.findings(pack["findings"], pack["summary"])
    if pack["outsideTenants"]:
        findings = findings.replace("</section>", f"<h3>{e(page.t('outside_tenants'))}</h3>"
                                    f"{page.finding_table(pack['outsideTenants'])}</section>")
    body.append(findings)
    problems = page.problems(pack["problems"]) or page.note(page.t("nothing_unjudged"))
    body.append(f'<section id="problems"><h2>{e(page.t("section.problems"))}</h2>{problems}</section>')
    body.append(page.digest(file_name))
    body.append("</body></html>\n")
    return "".join(body)


__all__ = ["ALGORITHM", "CSS", "VERIFY_COMMAND", "render_platform", "render_tenant"]
