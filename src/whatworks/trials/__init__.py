"""Pilots and trials: design (MDES, power, sample size, simulation), randomisation, analysis, reporting."""
