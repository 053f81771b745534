"""Evaluations: scripted protocols, dynamics metrics, the protocol runner and its report."""
