"""The foundation, the bottom floor of the core package: what every floor above builds on and which imports
nothing of the package above it. Parameter declarations (:mod:`.parameters`, :class:`Param`), the plug-in
contracts a method implements (:mod:`.contracts`), the path registry of a run's files (:mod:`.paths`), the
records of a run's inputs (:mod:`.inputs`) and the strict YAML and JSON-schema helpers (:mod:`.schema`)."""
