"""The pipeline: configuration and the job plan (:mod:`.config`), the plug-in contracts of methods and
datasets (:mod:`.plugins`) and their parameter declarations (:mod:`.parameters`), result paths
(:mod:`.paths`), the work behind each rule (:mod:`.steps`, :mod:`.survey`) and the command line
(:mod:`.cli`)."""
