# declipbench: the whole benchmark as one DAG.
#   download -> prepare -> measure -> train -> reconstruct -> evaluate -> tables / figures
# Rules live in workflow/rules/; the config is validated against workflow/schemas/config.schema.yaml.

from snakemake.utils import min_version

min_version("9")


# The embedded demo is the default. A --configfile given on the command line replaces it rather than
# being merged into it, so nothing of the demo leaks into, say, a paper run.
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"

# The config is validated against workflow/schemas/config.schema.yaml in workflow/rules/common.smk
# (declipbench.pipeline.config.validate_config): schema, defaults, references to methods and datasets and
# every declared parameter, with errors that name the file and the field, e.g.
# "experiments.table1.tau: 0 is less than or equal to the minimum of 0".


# `snakemake --report results/<run>/report.html` (made by `make demo`): one self-contained HTML file with every
# table (and clips to listen to), every figure with its caption (workflow/report/), the runtimes, the config
report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/methods.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/report.smk"


rule all:
    input:
        final_outputs(),
        survey_outputs(),
    default_target: True
