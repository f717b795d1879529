"""Concept extraction (dictionary learning), CRAFT, concept importance and metrics."""
