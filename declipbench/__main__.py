from .cli import die_with_parent, main

die_with_parent()  # a job's process: it ends with the shell that started it
raise SystemExit(main())
