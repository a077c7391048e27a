"""Pilots and trials: design, randomisation with an audit log, analysis and reporting.

Modules: ``randomise`` (allocation methods, all driven by a keyed hash so a seed reproduces the list
on any version of numpy), ``audit`` (the tamper-evident allocation log), ``analyse`` (intention-to-
treat models that mirror the design). No Django.
"""
