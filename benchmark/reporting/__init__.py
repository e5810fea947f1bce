"""The report behind `python -m benchmark.report`: MLflow runs -> tables, figures, panels, page.

loading (the only MLflow user) -> tables -> significance -> references -> plots -> panels -> page.
"""
