"""Responsibility routing: the catalogue (权责清单), territories and dispatch rules."""
