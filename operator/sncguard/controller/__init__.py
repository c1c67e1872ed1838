"""The kopf shell: watches and indexes, evaluation, server-side apply and status writes."""
