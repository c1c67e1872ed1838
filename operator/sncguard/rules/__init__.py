"""The rules: pure functions from a policy spec and a ClusterView to findings.

No I/O, no clock, no kopf and no API client here: the same code serves the operator and the
offline `sncguard check`. Each rule ID of the catalogue (`catalogue.CATALOGUE`) is checked by one
public function that returns exactly one Finding per resource it judges.
"""
