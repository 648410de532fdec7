"""Projections: pure folds from events to facts (stances, order intents)."""
