"""Desired state for Enforce mode: pure builders of the objects and fields sncguard owns."""
