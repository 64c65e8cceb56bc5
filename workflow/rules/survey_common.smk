# Helpers of the survey rules (workflow/rules/survey.smk): jobs, signals, specs, wildcard constraints.

from declipbench.survey import survey_jobs, survey_signals, survey_spec

SURVEY_JOBS = survey_jobs(CFG)


wildcard_constraints:
    survey="|".join(CFG["surveys"]) or "(?!)",  # tables/<name>.* is a survey's when <name> is one
    signal="[A-Za-z0-9_.-]+",

SURVEY_SIGNALS = {name: survey_signals(CFG, name) for name in CFG["surveys"]}


def survey_dataset(wildcards):
    return CFG["surveys"][wildcards.survey]["dataset"]


def survey_spec_arg(wildcards):
    return json.dumps(survey_spec(CFG, wildcards.survey, wildcards.method, wildcards.variant),
                      sort_keys=True, separators=(",", ":"))


def survey_reconstructions(survey):
    return [f"{RUN}/surveys/{s}/reconstructions/{m}/{v}/{sig}.npz"
            for s, m, v in SURVEY_JOBS if s == survey for sig in SURVEY_SIGNALS[s]]


def survey_outputs():
    return [f"{RUN}/tables/{name}.{ext}" for name in CFG["surveys"] for ext in ("csv", "md", "tex")]
