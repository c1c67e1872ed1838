"""The rule catalogue: one RuleInfo per rule ID of the requirements (REQUIREMENTS.md, "Rule catalogue").

Rule IDs are stable: findings, metrics, PolicyReports, tests and documentation all use them.
"""

from __future__ import annotations

from ..findings import RuleInfo, Severity

_C, _H, _M = Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM

ZONE_SPREAD = "zone-spread"
BACKUP = "backup"
NETWORK = "network"
ACCESS = "access"
LOCATION = "location"
TERMINATION = "termination"

CATEGORIES = (ZONE_SPREAD, BACKUP, NETWORK, ACCESS, LOCATION, TERMINATION)

_RULES: tuple[RuleInfo, ...] = (
    # Zone spread (ZoneSpread)
    RuleInfo("ZS-001", _H, ("R1", "R4"),
             "A selected workload has fewer replicas than minZones",
             "Une charge de travail sélectionnée a moins de réplicas que minZones",
             ZONE_SPREAD),
    RuleInfo("ZS-002", _H, ("R1",),
             "No zone spreading declared: neither a topology spread constraint nor a pod anti-affinity "
             "on the zone key",
             "Aucune répartition entre zones déclarée : ni contrainte de répartition topologique ni "
             "anti-affinité de pods sur la clé de zone",
             ZONE_SPREAD),
    RuleInfo("ZS-003", _M, ("R1",),
             "Zone spreading is only soft while the policy requires it hard",
             "La répartition entre zones n'est que souple alors que la politique l'exige stricte",
             ZONE_SPREAD),
    RuleInfo("ZS-004", _H, ("R1",),
             "The running pods sit in fewer than minZones zones",
             "Les pods en cours d'exécution occupent moins de minZones zones",
             ZONE_SPREAD),
    RuleInfo("ZS-005", _M, ("R4",),
             "No PodDisruptionBudget covers the workload, or it allows every pod down",
             "Aucun PodDisruptionBudget ne couvre la charge de travail, ou il autorise l'arrêt de tous "
             "ses pods",
             ZONE_SPREAD),
    RuleInfo("ZS-006", _H, ("R1",),
             "The workload is pinned to a single zone by nodeSelector or node affinity",
             "La charge de travail est cantonnée à une seule zone par nodeSelector ou affinité de nœud",
             ZONE_SPREAD),
    # Backup (BackupPolicy)
    RuleInfo("BK-001", _H, ("R2", "R3"),
             "A namespace that a policy requires backed up is covered by no backup schedule",
             "Un espace de noms dont la politique exige la sauvegarde n'est couvert par aucune "
             "planification de sauvegarde",
             BACKUP),
    RuleInfo("BK-002", _C, ("R2",),
             "The backup target sits in a zone where protected workloads run",
             "La cible de sauvegarde se trouve dans une zone où s'exécutent des charges protégées",
             BACKUP),
    RuleInfo("BK-003", _H, ("R2",),
             "The backup target's zone is unknown, so off-zone storage cannot be proven",
             "La zone de la cible de sauvegarde est inconnue : le stockage hors zone ne peut pas être "
             "prouvé",
             BACKUP),
    RuleInfo("BK-004", _H, ("S2",),
             "The backup target does not encrypt",
             "La cible de sauvegarde ne chiffre pas les données",
             BACKUP),
    RuleInfo("BK-005", _H, ("R3",),
             "The last successful backup is older than the policy's RPO",
             "La dernière sauvegarde réussie est plus ancienne que le RPO de la politique",
             BACKUP),
    RuleInfo("BK-006", _M, ("S3",),
             "No successful restore test within the policy's interval",
             "Aucun test de restauration réussi dans l'intervalle fixé par la politique",
             BACKUP),
    RuleInfo("BK-007", _C, ("R10",),
             "The backup target is outside the allowed regions",
             "La cible de sauvegarde se trouve hors des régions autorisées",
             BACKUP),
    # Network (TenantPolicy)
    RuleInfo("NET-001", _H, ("R8", "S7"),
             "A tenant namespace has no default-deny ingress policy",
             "Un espace de noms du locataire n'a pas de politique de refus par défaut en entrée",
             NETWORK),
    RuleInfo("NET-002", _M, ("S7",),
             "A tenant namespace has no default-deny egress policy",
             "Un espace de noms du locataire n'a pas de politique de refus par défaut en sortie",
             NETWORK),
    RuleInfo("NET-003", _C, ("R7",),
             "An administration or file-sharing port is open to the whole Internet",
             "Un port d'administration ou de partage de fichiers est ouvert à tout Internet",
             NETWORK),
    RuleInfo("NET-004", _C, ("S6",),
             "The effective network policies admit traffic from another tenant's namespaces",
             "Les politiques réseau effectives admettent du trafic provenant des espaces de noms d'un "
             "autre locataire",
             NETWORK),
    RuleInfo("NET-005", _H, ("S7",),
             "The effective network policies admit a flow that the flow matrix does not list",
             "Les politiques réseau effectives admettent un flux absent de la matrice des flux",
             NETWORK),
    RuleInfo("NET-006", _H, ("S1", "S4"),
             "Cleartext exposure: a route, ingress or port without encryption",
             "Exposition en clair : une route, un ingress ou un port sans chiffrement",
             NETWORK),
    RuleInfo("NET-007", _M, ("S7",),
             "An externally exposed Service, Route or Ingress lies in a namespace outside the DMZ zone",
             "Un Service, une Route ou un Ingress exposé à l'extérieur se trouve dans un espace de noms "
             "hors de la zone DMZ",
             NETWORK),
    # Access (TenantPolicy)
    RuleInfo("ACC-001", _H, ("R9", "R14"),
             "A binding grants access to a tenant namespace to a subject not on the authorised list",
             "Une liaison de rôle donne accès à un espace de noms du locataire à un sujet absent de la "
             "liste autorisée",
             ACCESS),
    RuleInfo("ACC-002", _H, ("S4",),
             "A binding grants access to a broad group",
             "Une liaison de rôle donne accès à un groupe trop large",
             ACCESS),
    RuleInfo("ACC-003", _H, ("R9",),
             "A temporary access grant has expired but its binding still exists",
             "Une autorisation d'accès temporaire a expiré mais sa liaison existe toujours",
             ACCESS),
    # Location (TenantPolicy)
    RuleInfo("LOC-001", _C, ("R10",),
             "A tenant pod runs, or may be scheduled, on a node in a region that is not allowed",
             "Un pod du locataire s'exécute, ou peut être placé, sur un nœud d'une région non autorisée",
             LOCATION),
    RuleInfo("LOC-002", _C, ("R10",),
             "A PersistentVolume bound to a tenant claim lies in a region that is not allowed",
             "Un PersistentVolume lié à une demande du locataire se trouve dans une région non autorisée",
             LOCATION),
    # Termination (TenantPolicy)
    RuleInfo("TERM-001", _H, ("R11",),
             "The contract ended more than 21 days ago and no erasure notice is recorded",
             "Le contrat a pris fin il y a plus de 21 jours et aucun avis d'effacement n'est enregistré",
             TERMINATION),
    RuleInfo("TERM-002", _C, ("R11",),
             "More than 30 days after the erasure notice, tenant data remains",
             "Plus de 30 jours après l'avis d'effacement, des données du locataire subsistent",
             TERMINATION),
)

CATALOGUE: dict[str, RuleInfo] = {r.id: r for r in _RULES}


def rule(rule_id: str) -> RuleInfo:
    """The RuleInfo of a rule ID; KeyError names the unknown ID."""
    try:
        return CATALOGUE[rule_id]
    except KeyError:
        raise KeyError(f"unknown rule ID {rule_id!r}") from None


def rules_of(category: str) -> list[RuleInfo]:
    """The rules of one category, in ID order."""
    return sorted((r for r in _RULES if r.category == category), key=lambda r: r.id)
