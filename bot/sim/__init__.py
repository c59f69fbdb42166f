"""Simulators of RingCentral and Slack, served on loopback.

They are part of the product (`python -m bot demo` runs against them) and import nothing
from it: a simulator that shares the code under test shares its bugs.
"""
