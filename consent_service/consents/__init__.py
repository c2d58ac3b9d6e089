"""Consents: the two consent kinds, their legal rules, texts, and lifecycle."""
