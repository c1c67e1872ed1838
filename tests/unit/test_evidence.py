"""Evidence packs (`sncguard report`): gather, schema, digest, HTML, both languages, the tenant filter, the CLI.

The world is tests/unit/evidence_world.py: the demo's tenant after its Enforce policies acted, read from
files (offline) or as a cluster snapshot with the statuses only the operator keeps."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import jsonschema
import pytest
from evidence_world import EXAMPLES, NOW, statuses, write_world

from sncguard.check import run_check
from sncguard.cli import main
from sncguard.evidence.gather import Snapshot, UnknownTenant, gather
from sncguard.evidence.html import VERIFY_COMMAND, render_platform, render_tenant
from sncguard.evidence.report import write_packs
from sncguard.evidence.schema import canonical, digest_of, dumps, load_schema, seal, verify
from sncguard.i18n import LANGUAGES
from sncguard.loader import load
from sncguard.rules.access import access_register, register_digest
from sncguard.rules.catalogue import CATALOGUE

LIVE_SOURCE = {"type": "cluster", "context": "sncguard-demo", "server": "https://127.0.0.1:6443"}


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    return write_world(tmp_path_factory.mktemp("world"))


def offline(world: Path) -> Snapshot:
    return Snapshot(load([str(world)]), {"type": "files", "paths": [str(world)]})


def live(world: Path, register: str | None = None) -> Snapshot:
    return Snapshot(load([str(world)]), dict(LIVE_SOURCE), statuses=statuses(register))


@pytest.fixture(scope="module")
def validator():
    schema = load_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def all_packs(packs):
    return {**packs.tenants, **({"platform": packs.platform} if packs.platform is not None else {})}


# ---- schema ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("source", ["files", "cluster", "examples"])
def test_every_pack_follows_the_schema(world, validator, language, source):
    snapshot = {"files": offline(world), "cluster": live(world)}.get(source) or Snapshot(
        load([str(EXAMPLES)]), {"type": "files", "paths": ["examples"]})
    packs = gather(snapshot, NOW, language)
    assert set(packs.tenants) == ({"acme", "globex"} if source != "examples" else {"acme"})
    for name, pack in all_packs(packs).items():
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(seal(pack))]
        assert not errors, f"{name}: {errors[:5]}"


def test_the_schema_names_every_language_and_only_those(world, validator):
    """The schema's language enum is the catalogues': a language added is a language the packs may state."""
    assert load_schema()["$defs"]["head"]["properties"]["language"]["enum"] == list(LANGUAGES)
    pack = seal({**gather(live(world), NOW).tenants["acme"], "language": "xx"})
    assert not validator.is_valid(pack)


def test_the_schema_refuses_a_broken_pack(world, validator):
    pack = seal(gather(live(world), NOW).tenants["acme"])
    assert validator.is_valid(pack)
    broken = []
    without_digest = copy.deepcopy(pack)
    del without_digest["digest"]
    broken.append(without_digest)
    bad_result = copy.deepcopy(pack)
    bad_result["findings"]["items"][0]["result"] = "maybe"
    broken.append(bad_result)
    bad_digest = copy.deepcopy(pack)
    bad_digest["digest"]["value"] = "not-hex"
    broken.append(bad_digest)
    unknown_section = copy.deepcopy(pack)
    unknown_section["extra"] = {}
    broken.append(unknown_section)
    no_requirement = copy.deepcopy(pack)
    no_requirement["findings"]["items"][0]["requirements"] = []
    broken.append(no_requirement)
    wrong_kind = copy.deepcopy(pack)
    wrong_kind["kind"] = "PlatformEvidencePack"
    broken.append(wrong_kind)
    for b in broken:
        assert not validator.is_valid(b), json.dumps(b)[:200]


# ---- digest and determinism ---------------------------------------------------------------------


def test_same_inputs_and_now_give_the_same_bytes(world, tmp_path):
    first = write_packs(gather(live(world), NOW, "fr"), tmp_path / "a")
    second = write_packs(gather(live(world), NOW, "fr"), tmp_path / "b")
    assert [p.name for p in first] == [p.name for p in second]
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name
    moved = write_packs(gather(live(world), NOW.replace(hour=11), "fr"), tmp_path / "c")
    assert (tmp_path / "c" / "acme.json").read_bytes() != (tmp_path / "a" / "acme.json").read_bytes()
    assert len(moved) == len(first)


def test_the_digest_covers_everything_else_and_the_readme_command_verifies_it(world, tmp_path):
    pack = seal(gather(live(world), NOW).tenants["acme"])
    assert list(pack)[-1] == "digest" and pack["digest"]["algorithm"] == "sha256"
    assert verify(pack)
    assert pack["digest"]["value"] == digest_of({k: v for k, v in pack.items() if k != "digest"})
    body = {k: v for k, v in pack.items() if k != "digest"}
    assert canonical(body) == json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    tampered = copy.deepcopy(pack)
    tampered["access"]["register"][0]["authorised"] = True
    assert not verify(tampered)
    # The one-liner the README and the page give, on the written file, with a stock python3.
    path = tmp_path / "acme.json"
    path.write_text(dumps(pack), encoding="utf-8")
    command = VERIFY_COMMAND.format(file=path)
    assert subprocess.run(["sh", "-c", command], capture_output=True, text=True, check=True).stdout == "True\n"
    path.write_text(dumps(tampered), encoding="utf-8")
    assert subprocess.run(["sh", "-c", command], capture_output=True, text=True, check=True).stdout == "False\n"
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    assert VERIFY_COMMAND.format(file="out/acme.json") in readme


def test_the_page_shows_the_digest_of_its_json(world, tmp_path):
    written = write_packs(gather(live(world), NOW), tmp_path)
    for html_path in (p for p in written if p.suffix == ".html"):
        pack = json.loads(html_path.with_suffix(".json").read_text(encoding="utf-8"))
        assert verify(pack)
        assert pack["digest"]["value"] in html_path.read_text(encoding="utf-8")


# ---- verdicts, one path with check -------------------------------------------------------------


def key(f: dict) -> tuple:
    return (f["rule"], f["result"], f["resource"]["kind"], f["resource"]["namespace"], f["resource"]["name"],
            f.get("policy"))


def test_the_verdicts_are_checks(world):
    report = run_check(load([str(world)]), NOW)
    expected = Counter(key(f.as_dict()) for f in report.findings)
    platform = gather(offline(world), NOW).platform
    assert Counter(key(f) for f in platform["findings"]["items"]) == expected
    # A tenant's pack holds its TenantPolicy's findings and those of the policies in its namespaces.
    acme = gather(offline(world), NOW).tenants["acme"]
    policies = {"TenantPolicy/acme", "ZoneSpread/shop/sla", "ZoneSpread/payments/sla", "BackupPolicy/payments/nightly"}
    assert Counter(key(f) for f in acme["findings"]["items"]) == Counter(
        k for k in expected.elements() if k[-1] in policies)
    assert acme["summary"]["fail"] == sum(1 for f in report.findings if f.policy in policies and f.result == "fail")


def test_findings_name_rules_requirements_and_their_clauses(world):
    acme = gather(offline(world), NOW).tenants["acme"]
    failing = {f["rule"] for f in acme["findings"]["items"] if f["result"] == "fail"}
    assert {"NET-003", "ACC-001", "BK-002", "ZS-004", "NET-005"} <= failing
    net003 = next(f for f in acme["findings"]["items"] if f["rule"] == "NET-003" and f["result"] == "fail")
    assert net003["requirements"] == ["R7"] and net003["source"]["file"].endswith("world.yaml")
    cited = {r["id"]: r for r in acme["findings"]["requirements"]}
    assert cited["R7"]["source"] == "000: Nota, SLA 1" and "22, 3389" in cited["R7"]["text"]
    by_rule = {r["rule"]: r for r in acme["findings"]["byRule"]}
    assert by_rule["NET-003"]["severity"] == "critical" and by_rule["NET-003"]["fail"] == 1


# ---- sections ---------------------------------------------------------------------------------


def test_access_register_lists_who_can_reach_the_tenant(world):
    snapshot = offline(world)
    acme = gather(snapshot, NOW).tenants["acme"]["access"]
    subjects = {(e["kind"], e["name"]): e["authorised"] for e in acme["register"]}
    assert subjects == {("User", "contractor@example.com"): False, ("Group", "acme-admins"): True,
                        ("User", "ops@provider.example"): True}
    assert acme["register"][0]["name"] == "contractor@example.com"  # the unauthorised first
    assert acme["unauthorised"] == 1 and acme["recorded"] == "offline"
    assert acme["grants"][0]["reason"].startswith("ticket 4711")
    # Live, the operator's digest is compared with this report's.
    policy = next(p for p in snapshot.inputs.policies if p.name == "acme")
    digest = register_digest(access_register(policy.spec, ["payments", "shop"], snapshot.inputs.view, NOW))
    assert acme["digest"] == digest
    recorded = gather(live(world, register=digest), NOW).tenants["acme"]["access"]
    assert recorded["recorded"] == "recorded" and recorded["recordedDigestMatches"] is True
    stale = gather(live(world, register="0" * 64), NOW).tenants["acme"]["access"]
    assert stale["recordedDigestMatches"] is False
    assert gather(live(world), NOW).tenants["acme"]["access"]["recorded"] == "not-recorded"


def test_placement_gives_zones_of_pods_and_volumes(world):
    placement = gather(offline(world), NOW).tenants["acme"]["placement"]
    assert placement["zones"] == ["zone-a", "zone-b", "zone-c"]
    rows = {w["name"]: w for w in placement["workloads"]}
    assert rows["web"]["zones"] == {"zone-a": 1, "zone-b": 1, "zone-c": 1} and rows["web"]["hardSpread"] is True
    assert rows["api"]["zones"] == {"zone-a": 1} and rows["api"]["hardSpread"] is False
    assert placement["podsByRegion"] == {"eu-fr-paris": 7}
    assert placement["volumes"] == [{"name": "pv-ledger-1", "claim": "payments/data-ledger-1", "zone": "zone-b",
                                     "region": "eu-fr-paris", "allowed": True}]


def test_sla_ledger_is_a_timeline_live_and_current_eligibility_offline(world):
    sla = {p["namespace"]: p for p in gather(live(world), NOW).tenants["acme"]["sla"]["policies"]}
    shop = sla["shop"]
    assert shop["ledger"] == "recorded" and shop["current"]["eligible"] is False
    segments = shop["timeline"]["segments"]
    assert [s["state"] for s in segments] == ["unknown", "eligible", "not-eligible"]
    assert segments[0]["start"] == "2026-11-01T00:00:00Z" and segments[1]["start"] == "2026-11-03T08:00:00Z"
    assert segments[-1]["end"] == "2026-11-22T10:00:00Z"  # the open interval runs until now
    assert segments[-1]["causes"] == [{"kind": "Deployment", "namespace": "shop", "name": "api", "rule": "ZS-004"}]
    assert shop["timeline"]["outages"] == [{"zone": "zone-b", "start": "2026-11-14T02:00:00Z",
                                            "end": "2026-11-14T03:30:00Z"}]
    november = next(m for m in shop["months"] if m["month"] == "2026-11")
    # Accrued to now by the operator's own arithmetic: 2 days and 4 hours more, not eligible.
    assert november["notEligibleSeconds"] == 1274400 + 2 * 86400 + 4 * 3600
    payments = sla["payments"]["timeline"]["segments"]
    assert [s["state"] for s in payments] == ["eligible", "not-eligible", "eligible"]
    offline_sla = {p["namespace"]: p for p in gather(offline(world), NOW).tenants["acme"]["sla"]["policies"]}
    assert offline_sla["shop"]["ledger"] == "offline" and "timeline" not in offline_sla["shop"]
    assert offline_sla["shop"]["eligible"] is False and offline_sla["payments"]["eligible"] is True
    assert {c["rule"] for c in offline_sla["shop"]["causes"]} >= {"ZS-002", "ZS-004"}


def test_backups_show_target_backups_restore_reports_and_the_drill(world):
    live_pack = gather(live(world), NOW, "fr").tenants["acme"]["backups"]
    assert live_pack["uncovered"] == ["shop"]
    policy = live_pack["policies"][0]
    assert policy["target"]["zone"] == "zone-c" and policy["target"]["encryption"]
    assert [b["name"] for b in policy["backups"]] == ["sncguard-payments.nightly-20261122013000",
                                                      "sncguard-payments.nightly-20261121013000"]
    test = policy["restoreTests"][0]
    assert test["drill"] is True and test["report"].startswith("Test de restauration openshift-adp/")
    assert policy["lastDrill"]["phase"] == "Completed" and policy["lastDrillRecorded"] == "recorded"
    assert policy["verdicts"]["BK-002"] == "fail"  # zone-c holds payments' pods too
    offline_pack = gather(offline(world), NOW).tenants["acme"]["backups"]["policies"][0]
    assert offline_pack["lastDrill"] is None and offline_pack["lastDrillRecorded"] == "offline"
    assert offline_pack["restoreTests"][0]["report"].startswith("Restore drill openshift-adp/")


def test_network_tries_the_flow_matrix_on_the_effective_policies(world):
    network = gather(offline(world), NOW).tenants["acme"]["network"]
    flows = {f["name"]: f for f in network["flows"]}
    assert flows["web-to-ledger"]["verdict"] == "effective" and flows["web-to-ledger"]["checked"] == 9
    assert flows["internet-to-web"]["verdict"] == "effective"
    assert network["zonesOfNamespaces"] == {"payments": "lan", "shop": "dmz"}
    assert network["defaultDeny"] == [{"namespace": "payments", "ingress": "pass", "egress": "pass"},
                                      {"namespace": "shop", "ingress": "pass", "egress": "pass"}]
    assert [f["resource"]["name"] for f in network["undeclared"]] == ["debug-ssh"]
    sftp = next(x for x in network["exposures"] if x["name"] == "sftp")
    assert sftp["rules"]["NET-003"] == "fail" and "0.0.0.0/0" in sftp["exposure"]


def test_a_flow_the_policies_block_is_said_so(world, tmp_path):
    text = (world / "world.yaml").read_text(encoding="utf-8")
    folder = tmp_path / "blocked"
    folder.mkdir()
    # Without its egress policy, web may not reach the ledger: the flow is declared, not effective.
    (folder / "world.yaml").write_text(re.sub(
        r"---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
        r"metadata: \{name: sncguard-flow-web-to-ledger-egress.*?\n(?=---)", "", text, flags=re.S), encoding="utf-8")
    network = gather(Snapshot(load([str(folder)]), {"type": "files", "paths": [str(folder)]}), NOW).tenants["acme"][
        "network"]
    flow = next(f for f in network["flows"] if f["name"] == "web-to-ledger")
    assert flow["verdict"] == "blocked" and flow["allowed"] == 0
    assert flow["blockedExample"].startswith("shop/web-1 → payments/ledger-1 TCP/8443")


def test_termination_certificate_is_the_operators_live_and_computed_offline(world):
    recorded = gather(live(world), NOW).tenants["globex"]["termination"]
    assert recorded["declared"] and recorded["certificateSource"] == "operator"
    assert recorded["certificate"]["checkedAt"] == "2026-11-05T09:00:05Z"
    assert recorded["erasureDeadline"] == "2026-11-04T09:00:00Z"
    assert recorded["namespaces"] == ["globex-web"]  # remembered by the operator's status
    computed = gather(offline(world), NOW).tenants["globex"]["termination"]
    assert computed["certificateSource"] == "computed" and computed["certificateRecorded"] == "offline"
    assert computed["certificate"]["checkedAt"] == "2026-11-22T10:00:00Z"
    assert gather(offline(world), NOW).tenants["acme"]["termination"]["declared"] is False


def test_the_platform_pack_lists_tenants_policies_and_the_operators_verdicts(world):
    platform = gather(live(world), NOW).platform
    tenants = {t["tenant"]: t for t in platform["tenants"]}
    assert tenants["acme"]["unauthorisedSubjects"] == 1 and tenants["acme"]["slaEligible"] is False
    assert tenants["globex"]["termination"] == "certified"
    assert {(p["kind"], p["namespace"], p["name"]) for p in platform["policies"]} == {
        ("TenantPolicy", "", "acme"), ("TenantPolicy", "", "globex"), ("ZoneSpread", "shop", "sla"),
        ("ZoneSpread", "payments", "sla"), ("BackupPolicy", "payments", "nightly")}
    assert all(p["recorded"]["compliant"] == str(not p["summary"]["fail"]) for p in platform["policies"])
    assert platform["placement"]["nodes"]["zones"] == [
        {"zone": z, "region": "eu-fr-paris", "nodes": 1} for z in ("zone-a", "zone-b", "zone-c")]
    assert [t["name"] for t in platform["backups"]["targets"]] == ["default"]


# ---- the tenant filter -------------------------------------------------------------------------


def test_a_tenant_filter_writes_that_tenant_only(world):
    packs = gather(offline(world), NOW, tenants={"globex"})
    assert set(packs.tenants) == {"globex"} and packs.platform is None
    with pytest.raises(UnknownTenant, match="initech"):
        gather(offline(world), NOW, tenants={"initech"})


# ---- HTML ------------------------------------------------------------------------------------------


def test_the_page_is_self_contained_printable_and_in_its_language(world):
    packs = gather(live(world), NOW, "fr")
    page = render_tenant(seal(packs.tenants["acme"]), "acme.json")
    assert "<script" not in page.lower() and "<link" not in page.lower() and "@import" not in page
    urls = set(re.findall(r"(?:https?:)?//[\w.-]+", page)) - {"http://www.w3.org"}
    assert urls == {"https://127.0.0.1"}, urls  # the cluster's address, as text; nothing loads from anywhere
    assert "@media print" in page and "break-before: page" in page
    assert page.count("<svg") >= 3  # zones, SLA timeline, findings by rule
    for title in ("Registre des accès", "Placement : zones et régions", "Éligibilité au SLA",
                  "Sauvegardes et tests de restauration", "Réseau : matrice des flux et expositions", "Constats",
                  "Fin de contrat", "Intégrité"):
        assert title in page
    assert "expose le port interdit 22" in page  # the rules' own French
    english = render_tenant(seal(gather(live(world), NOW, "en").tenants["acme"]), "acme.json")
    assert "Access register" in english and "exposes forbidden port 22" in english
    assert "Registre des accès" not in english
    platform = render_platform(seal(packs.platform), "platform.json")
    assert "Dossier de preuves : plateforme" in platform and "acme.html" in platform


def test_both_languages_carry_the_same_evidence(world):
    en = gather(live(world), NOW, "en").tenants["acme"]
    fr = gather(live(world), NOW, "fr").tenants["acme"]
    assert [key(f) for f in en["findings"]["items"]] == [key(f) for f in fr["findings"]["items"]]
    assert en["access"]["register"] == fr["access"]["register"]
    assert en["sla"] == fr["sla"] and en["placement"] == fr["placement"]
    assert en["findings"]["items"][0]["message"] != fr["findings"]["items"][0]["message"]


# ---- the command -------------------------------------------------------------------------------


def run(capsys, *args):
    code = main(["report", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_report_on_files_writes_a_pack_per_tenant_and_the_platforms(world, tmp_path, capsys):
    out_dir = tmp_path / "out"
    code, out, err = run(capsys, str(world), "--output-dir", str(out_dir), "--now", "2026-11-22T10:00:00Z")
    assert code == 0, err
    assert sorted(p.name for p in out_dir.iterdir()) == ["acme.html", "acme.json", "globex.html", "globex.json",
                                                         "platform.html", "platform.json"]
    assert out.splitlines() == [str(out_dir / n) for n in ("acme.html", "acme.json", "globex.html", "globex.json",
                                                           "platform.html", "platform.json")]
    pack = json.loads((out_dir / "acme.json").read_text(encoding="utf-8"))
    assert verify(pack) and pack["source"] == {"type": "files", "paths": [str(world)]}
    assert pack["generatedAt"] == "2026-11-22T10:00:00Z" and pack["language"] == "en"


def test_report_options_tenant_language_and_errors(world, tmp_path, capsys):
    out_dir = tmp_path / "fr"
    code, _, err = run(capsys, str(EXAMPLES), "-d", str(out_dir), "--tenant", "acme", "--language", "fr",
                       "--now", "2026-11-22T10:00:00Z")
    assert code == 0, err
    assert sorted(p.name for p in out_dir.iterdir()) == ["acme.html", "acme.json"]
    assert json.loads((out_dir / "acme.json").read_text(encoding="utf-8"))["language"] == "fr"
    code, _, err = run(capsys, str(EXAMPLES), "-d", str(tmp_path / "x"), "--tenant", "initech")
    assert code == 2 and "no TenantPolicy for tenant initech (tenants: acme)" in err
    code, _, err = run(capsys, str(tmp_path / "missing"), "-d", str(tmp_path / "x"))
    assert code == 2 and "no such file or directory" in err
    code, _, err = run(capsys, str(EXAMPLES), "-d", str(tmp_path / "x"), "--now", "yesterday")
    assert code == 2 and "RFC 3339" in err
    code, _, err = run(capsys, "-d", str(tmp_path / "x"), "--kubeconfig", str(tmp_path / "no-kubeconfig"))
    assert code == 2 and "cannot read the kubeconfig" in err
    assert not (tmp_path / "x").exists()


def test_report_in_italian_writes_italian_packs_the_schema_accepts(world, tmp_path, capsys, validator):
    """`sncguard report --language it`: titles, section titles, requirements and rule titles in Italian, from
    the catalogues alone, in packs the schema takes."""
    out_dir = tmp_path / "it"
    code, _, err = run(capsys, str(world), "-d", str(out_dir), "--language", "it", "--now", "2026-11-22T10:00:00Z")
    assert code == 0, err
    acme = json.loads((out_dir / "acme.json").read_text(encoding="utf-8"))
    platform = json.loads((out_dir / "platform.json").read_text(encoding="utf-8"))
    for pack in (acme, platform):
        assert pack["language"] == "it" and verify(pack)
        assert [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(pack)] == []
    r1 = next(r for r in acme["findings"]["requirements"] if r["id"] == "R1")
    assert r1 == {"id": "R1", "source": "000: Garanti di Disponibilità, SLA 1", "text": (
        "I carichi di lavoro coprono almeno 2 zone di disponibilità, altrimenti lo SLA non si applica")}
    assert acme["findings"]["items"]
    for item in acme["findings"]["items"]:
        info = CATALOGUE[item["rule"]]
        assert item["title"] == info.title_in("it") not in (info.title, info.title_in("fr"))
    page = (out_dir / "acme.html").read_text(encoding="utf-8")
    assert '<html lang="it">' in page and "<title>Fascicolo di evidenze: tenant acme</title>" in page
    for title in ("Sintesi", "Registro degli accessi", "Collocazione: zone e regioni", "Idoneità allo SLA",
                  "Backup e prove di ripristino", "Rete: matrice dei flussi ed esposizioni", "Rilievi",
                  "Cessazione del contratto", "Integrità"):
        assert f"<h2>{title}</h2>" in page, title
    assert "Generato il 2026-11-22T10:00:00Z da sncguard" in page
    platform_page = (out_dir / "platform.html").read_text(encoding="utf-8")
    assert "<h1>Fascicolo di evidenze: piattaforma</h1>" in platform_page
    for title in ("Tenant", "Policy", "Nodi, zone e regioni", "Ciò che non è stato possibile valutare"):
        assert f"<h2>{title}</h2>" in platform_page, title


def test_report_against_a_kubeconfig_context_that_does_not_exist(tmp_path, capsys):
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text("""apiVersion: v1
kind: Config
current-context: a
contexts: [{name: a, context: {cluster: a, user: a}}]
clusters: [{name: a, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: a, user: {token: t}}]
""", encoding="utf-8")
    code, _, err = run(capsys, "-d", str(tmp_path / "x"), "--kubeconfig", str(kubeconfig), "--context", "b")
    assert code == 2 and "names no context, cluster or user 'b'" in err
    # The right context, no server there: the message says it cannot reach it.
    code, _, err = run(capsys, "-d", str(tmp_path / "x"), "--kubeconfig", str(kubeconfig), "--context", "a")
    assert code == 2 and "cannot reach the API server at https://127.0.0.1:1" in err


def test_the_report_module_imports_no_kopf_for_files():
    # Reading files never needs the operator's client: `report` on manifests works where kopf cannot start.
    code = ("import sys; from sncguard.evidence import gather, html, report, schema; "
            "print('kopf' in sys.modules, 'aiohttp' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out == "False False\n"


def test_a_policy_left_out_for_its_spec_is_named_in_its_tenants_pack(world, tmp_path, capsys):
    folder = tmp_path / "invalid"
    folder.mkdir()
    (folder / "world.yaml").write_text((world / "world.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    (folder / "bad.yaml").write_text("""apiVersion: sncguard.io/v1alpha1
kind: ZoneSpread
metadata: {name: broken, namespace: shop}
spec: {minZones: 1}
""", encoding="utf-8")
    code, _, err = run(capsys, str(folder), "-d", str(tmp_path / "out"), "--now", "2026-11-22T10:00:00Z")
    assert code == 0 and "ZoneSpread shop/broken" in err and "(policy not evaluated)" in err
    acme = json.loads((tmp_path / "out" / "acme.json").read_text(encoding="utf-8"))
    assert [(p["kind"], p["name"]) for p in acme["problems"]["invalidPolicies"]] == [("ZoneSpread", "broken")]
    assert "minZones" in acme["problems"]["invalidPolicies"][0]["problem"]
    globex = json.loads((tmp_path / "out" / "globex.json").read_text(encoding="utf-8"))
    assert globex["problems"]["invalidPolicies"] == []
    assert "ZoneSpread shop/broken" in (tmp_path / "out" / "acme.html").read_text(encoding="utf-8")
