"""Where every file of a run lives: the one place result paths are built, for the Snakemake rules
(which pass wildcard placeholders such as ``"{method}"`` as the arguments) and for the Python side.

Under ``<results_dir>/<run>/``::

    data/<dataset>/{split}.npy, {split}_camera.npy (images), manifest.json           prepare
    measurements/<measured>/{split}_{x,y,ids}.npy, manifest.json                        measure
    models/<experiment>/<method>/<variant>/seed<seed>/model.pt, spec.json, ...          train
    reconstructions/<measured>/<method>/<variant>/seed<seed>.npz                        reconstruct
    metrics/<measured>/<method>/<variant>/seed<seed>.csv                                evaluate
    metrics/<table>.csv, tables/<table>.{csv,md,tex}                                    table
    figures/<experiment>_examples.png                                                   figure
    input_sdr/<experiment>/test_{x,y,ids}.npy, levels.npy, reconstructions/<method>/<variant>.npz
                                                      measure_input_sdr, reconstruct_input_sdr
    report/<table>.html, report/<table>_listen<k>.html                                  table_page, listen_pages
    logs/<rule>/..., benchmarks/<rule>/...

A *measured* set is what one ``measure`` job makes: an experiment's own dataset (``<experiment>``), one of
its extra test sets (``<experiment>/test_sets/<dataset>``, Table 2's speech), or one whole signal of a survey
clipped at each of the survey's input SDRs (``<survey>/signals/<signal>``: a test split only, with one
threshold per item, ``test_tau.npy``); its *table* is ``<experiment>`` or ``<experiment>/<dataset>``, and a
survey's signals share the survey's table ``<survey>``.
"""

from __future__ import annotations

SPLITS = ("train", "val", "test")
MEASURED_ARRAYS = ("x", "y", "ids")
#: what a survey signal's measured set adds: each item's threshold (the survey's cases, one per input SDR)
THRESHOLDS = "tau"
#: the files inside a folder of the layout: a prepared or measured set's manifest, a model folder's model
#: (what every learned method saves), its job spec, checkpoint and training log
MANIFEST, MODEL, SPEC, CHECKPOINT, TRAIN_LOG = "manifest.json", "model.pt", "spec.json", "checkpoint.pt", "train_log.csv"


class Paths:
    """The paths of one run (``config['results_dir']/config['run']``)."""

    def __init__(self, config: dict):
        self.root = f"{config['results_dir']}/{config['run']}"

    @staticmethod
    def manifest(folder: str) -> str:
        """The manifest of a prepared data set, a measured set or the input-SDR set."""
        return f"{folder}/{MANIFEST}"

    @staticmethod
    def model_file(model_dir: str) -> str:
        """What a method that trains saves in its model folder (``ctx.workdir``)."""
        return f"{model_dir}/{MODEL}"

    @staticmethod
    def spec_file(model_dir: str) -> str:
        """The job spec a train step writes beside the model."""
        return f"{model_dir}/{SPEC}"

    # -------------------------------------------------------------------------------- data
    def data(self, dataset: str) -> str:
        return f"{self.root}/data/{dataset}"

    @staticmethod
    def split_data(folder: str, split: str, camera: bool = False) -> str:
        """A prepared split, ``<folder>/<split>.npy``, or its items' camera parameters (images)."""
        return f"{folder}/{split}_camera.npy" if camera else f"{folder}/{split}.npy"

    def data_files(self, dataset: str, image: bool = False) -> list[str]:
        """The arrays a prepare job writes (images also write each item's camera)."""
        files = [self.split_data(self.data(dataset), s) for s in SPLITS]
        return files + ([self.split_data(self.data(dataset), s, camera=True) for s in SPLITS] if image else [])

    # ------------------------------------------------------------------------ measurements
    @staticmethod
    def measured(experiment: str, test_set: str | None = None) -> str:
        return f"{experiment}/test_sets/{test_set}" if test_set else experiment

    @staticmethod
    def split_measured(measured: str) -> tuple[str, str | None]:
        """``(experiment, extra test set or None)`` of a measured set."""
        experiment, _, test_set = measured.partition("/test_sets/")
        return experiment, test_set or None

    @staticmethod
    def signal_measured(survey: str, signal: str) -> str:
        """The measured set of one whole signal of a survey (its cases at the survey's input SDRs)."""
        return f"{survey}/signals/{signal}"

    @staticmethod
    def split_signal(measured: str) -> tuple[str, str] | None:
        """``(survey, signal)`` of a survey signal's measured set, None for any other."""
        survey, sep, signal = measured.partition("/signals/")
        return (survey, signal) if sep else None

    @staticmethod
    def table_name(measured: str) -> str:
        experiment, test_set = Paths.split_measured(measured)
        return f"{experiment}/{test_set}" if test_set else experiment

    @staticmethod
    def measured_of_table(table: str) -> str:
        experiment, _, test_set = table.partition("/")
        return Paths.measured(experiment, test_set or None)

    def measurements(self, measured: str) -> str:
        return f"{self.root}/measurements/{measured}"

    @staticmethod
    def split_array(folder: str, split: str, array: str) -> str:
        """One array of a split in a measured set's folder: ``<folder>/<split>_<array>.npy`` (``x``, ``y``, ``ids``)."""
        return f"{folder}/{split}_{array}.npy"

    def measurement_files(self, measured: str, splits=SPLITS) -> list[str]:
        return [self.split_array(self.measurements(measured), s, a) for s in splits for a in MEASURED_ARRAYS]

    def signal_measurement_files(self, measured: str) -> list[str]:
        """What a survey signal's measure job writes besides its manifest: the test arrays and each item's
        threshold."""
        return self.measurement_files(measured, splits=("test",)) + [
            self.split_array(self.measurements(measured), "test", THRESHOLDS)]

    # ----------------------------------------------------------------------------- methods
    def model(self, experiment: str, method: str, variant: str, seed) -> str:
        return f"{self.root}/models/{experiment}/{method}/{variant}/seed{seed}"

    def reconstruction(self, measured: str, method: str, variant: str, seed) -> str:
        return f"{self.root}/reconstructions/{measured}/{method}/{variant}/seed{seed}.npz"

    def item_metrics(self, measured: str, method: str, variant: str, seed) -> str:
        return f"{self.root}/metrics/{measured}/{method}/{variant}/seed{seed}.csv"

    # ------------------------------------------------------------------------------ report
    def table_metrics(self, table: str) -> str:
        """Every item's metrics of a table, one tidy CSV."""
        return f"{self.root}/metrics/{table}.csv"

    def table(self, table: str, ext: str) -> str:
        return f"{self.root}/tables/{table}.{ext}"

    def table_prefix(self, table: str) -> str:
        """The table files without their extension (the table step writes ``<prefix>.{csv,md,tex}``)."""
        return f"{self.root}/tables/{table}"

    def tables(self, table: str) -> list[str]:
        return [self.table(table, ext) for ext in ("csv", "md", "tex")]

    def table_page(self, table: str) -> str:
        """The report page of a table: the table, and clips to listen to (audio) or Figure 8 (images)."""
        return f"{self.root}/report/{table}.html"

    def listen_page(self, table: str, k: int) -> str:
        """The ``k``-th (from 0) page of clips to listen to of an audio table."""
        return f"{self.root}/report/{table}_listen{k + 1}.html"

    def report(self) -> str:
        """The run's self-contained HTML report (``snakemake --report``, made by ``make demo``)."""
        return f"{self.root}/report.html"

    def input_sdr(self, experiment: str) -> str:
        """The input-SDR figure's measured set: the experiment's test items rescaled to each input SDR."""
        return f"{self.root}/input_sdr/{experiment}"

    def input_sdr_files(self, experiment: str) -> list[str]:
        """What the input-SDR measure step writes: the test arrays, each item's level, and its manifest."""
        folder = self.input_sdr(experiment)
        return [self.split_array(folder, "test", a) for a in MEASURED_ARRAYS] + [self.levels_file(folder),
                                                                                  self.manifest(folder)]

    @staticmethod
    def levels_file(folder: str) -> str:
        """The input-SDR set's target level of each item."""
        return f"{folder}/levels.npy"

    def input_sdr_reconstruction(self, experiment: str, method: str, variant: str) -> str:
        return f"{self.input_sdr(experiment)}/reconstructions/{method}/{variant}.npz"

    def figure(self, experiment: str) -> str:
        return f"{self.root}/figures/{experiment}_examples.png"

    def paper_figure(self, name: str, ext: str = "png") -> str:
        """One of the paper's illustration figures (``figures:`` in the config) and its data (``ext="csv"``)."""
        return f"{self.root}/figures/{name}.{ext}"

    # ------------------------------------------------------------------- logs, benchmarks
    def log(self, rule: str, *parts: str) -> str:
        return f"{self.root}/logs/{rule}/{'/'.join(parts)}.log"

    def benchmark(self, rule: str, *parts: str) -> str:
        return f"{self.root}/benchmarks/{rule}/{'/'.join(parts)}.tsv"
