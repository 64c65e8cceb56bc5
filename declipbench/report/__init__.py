"""Reporting: the tidy per-item metric records (:mod:`.records`), tables (:mod:`.tables`), figures
(:mod:`.figures`) and run benchmarks (:mod:`.benchmarks`)."""
