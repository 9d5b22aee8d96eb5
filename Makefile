# The course's commands. `make lab` and `make test` each build .venv themselves on a fresh machine.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
# Installed before the course when the venv has no torch; where a CPU wheel of this version lies
# in pip's find-links (as on the course's build machines) pip takes it and no CUDA packages.
TORCH  ?= torch==2.13.0
PORT   ?= 8888
# `make lab NO_BROWSER=1` serves JupyterLab without opening a browser: open the URL it prints.
# LAB_FLAGS passes anything else to `jupyter lab` (a fixed token, an ip to listen on).
LAB_FLAGS ?=
# Jupyter refuses to run as root unless told; containers and cloud machines often are root.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root)

.PHONY: lab test test-browser test-colab reproduce unit notebooks sync student grade lint bench assets results clean help

help:
	@echo "make lab      install the course into .venv and open JupyterLab on notebook 00"
	@echo "              (make lab NO_BROWSER=1 PORT=8888 to serve without opening a browser)"
	@echo "make test     install, then every notebook under nbval (empty dataset cache), unit tests, .py/.ipynb sync"
	@echo "make test-browser  JupyterLab in headless Chromium: run the widget notebooks, move every control"
	@echo "make test-colab  the same tests in .venv-colab, with Colab's versions (tests/colab_versions.txt)"
	@echo "make reproduce ARTIFACT=name  retrain one shipped artifact in full and compare it with the shipped one"
	@echo "              ($(ARTIFACTS), or all: about 10 hours)"
	@echo "make sync     rewrite each notebooks/*.ipynb from its jupytext source notebooks/*.py"
	@echo "make student  write student notebooks (solutions replaced by stubs) into student/"
	@echo "make grade SUBMISSIONS=folder  grade a class's notebooks: grades.csv and grades.md"
	@echo "make lint     ruff over the package, tests and notebook sources"
	@echo "make bench    print the simulator's and the VLAs' speed (python -m vlacourse.bench sim, vla, flow)"
	@echo "make assets   redraw the figures in assets/ from the package"
	@echo "make results  rewrite RESULTS.md from the shipped artifacts' recorded metrics (after make reproduce ships one)"

$(PY):
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), \
	  f"The course needs Python 3.11 to 3.13, found {sys.version.split()[0]}: run make PYTHON=python3.11 ..."'
	$(PYTHON) -m venv $(VENV)

# Reinstalls when pyproject.toml changes; the stamp records a finished install.
$(VENV)/.installed: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -c 'import torch' 2>/dev/null || $(PY) -m pip install --quiet "$(TORCH)"
	$(PY) -m pip install --quiet -e ".[lab,dev]"
	touch $@

lab: $(VENV)/.installed
	$(VENV)/bin/jupyter lab --port=$(PORT) $(if $(NO_BROWSER),--no-browser) $(ROOT_FLAG) $(LAB_FLAGS) \
	  --ServerApp.root_dir=. --LabApp.default_url=/lab/tree/notebooks/00_welcome.ipynb

# One pytest run: every notebook top to bottom, in course order, as a new learner runs them: from an empty
# dataset cache (notebook 03 collects the demonstrations the later ones load); then the unit tests, the
# sync and student checks, and the short prefixes of every shipped artifact. The end prints each notebook's
# time, the course's and the run's against their budgets.
test: $(VENV)/.installed lint
	@start=$$(date +%s); cache=$$(mktemp -d); \
	VLACOURSE_CACHE=$$cache $(PY) -m pytest notebooks tests --nbval-lax --nbval-current-env --durations=15; \
	status=$$?; rm -rf $$cache; \
	echo "make test: $$(( ($$(date +%s) - start) / 60 )) minutes, install and lint not counted (budget 45)"; \
	exit $$status

# playwright drives Debian's chromium (`apt-get install chromium`); without it the check skips and says so.
$(VENV)/.browser: $(VENV)/.installed
	$(PY) -m pip install --quiet -e ".[lab,dev,browser]"
	touch $@

test-browser: $(VENV)/.browser
	$(PY) -m pytest tests/test_browser.py -m browser -v

# Each shipped artifact, and the test file whose `reproduce` tests rerun its package command in full and
# compare the result with the shipped file. `make test` reruns only a short prefix of each.
REPRODUCE_vlm        := tests/test_vlm_checkpoint.py
REPRODUCE_pointing   := tests/test_pointing_checkpoint.py::test_the_train_command_reproduces_the_shipped_checkpoint
REPRODUCE_answering  := tests/test_pointing_checkpoint.py::test_the_train_answering_command_reproduces_the_shipped_checkpoint
REPRODUCE_binning    := tests/test_binning_checkpoint.py
REPRODUCE_fast       := tests/test_fast_vla_checkpoint.py
REPRODUCE_flow       := tests/test_flow_checkpoint.py
REPRODUCE_baseline   := tests/test_flow_on_course_vlm.py
REPRODUCE_binning10hz := tests/test_binning_at_10hz.py
REPRODUCE_insulation := tests/test_insulation.py
REPRODUCE_rtc        := tests/test_rtc.py
REPRODUCE_rtc_styles := tests/test_rtc_styles.py
REPRODUCE_planner    := tests/test_planner_checkpoint.py
REPRODUCE_curves     := tests/test_planner_curves.py
REPRODUCE_command_vla := tests/test_command_vla_checkpoint.py
REPRODUCE_commentary := tests/test_commentary_checkpoint.py
REPRODUCE_vl_jepa    := tests/test_vl_jepa_checkpoint.py
ARTIFACTS := vlm pointing answering binning binning10hz fast flow baseline insulation rtc rtc_styles planner curves command_vla commentary vl_jepa
ARTIFACT  ?= all
REPRODUCE_FILES := $(if $(filter all,$(ARTIFACT)),$(foreach a,$(ARTIFACTS),$(REPRODUCE_$(a))),$(REPRODUCE_$(ARTIFACT)))

reproduce: $(VENV)/.installed
	@test -n "$(REPRODUCE_FILES)" || { echo "ARTIFACT=$(ARTIFACT) is not a shipped artifact: use one of $(ARTIFACTS), or all"; exit 2; }
	$(PY) -m pytest $(REPRODUCE_FILES) -m reproduce --durations=0

# Colab's ipywidgets 7.7, plotly 5.24, IPython 7.34... (torch stays the CPU build that `make` installs).
COLAB_VENV := .venv-colab
$(COLAB_VENV)/.installed: pyproject.toml tests/colab_versions.txt
	$(PYTHON) -m venv $(COLAB_VENV)
	$(COLAB_VENV)/bin/python -m pip install --quiet "$(TORCH)"
	grep -v '^torch' tests/colab_versions.txt > $(COLAB_VENV)/constraints.txt
	$(COLAB_VENV)/bin/python -m pip install --quiet -c $(COLAB_VENV)/constraints.txt -e ".[lab,dev]"
	touch $@

test-colab: $(COLAB_VENV)/.installed
	$(COLAB_VENV)/bin/python -m pytest tests notebooks --nbval-lax --nbval-current-env

unit: $(VENV)/.installed
	$(PY) -m pytest tests

notebooks: $(VENV)/.installed
	$(PY) -m pytest notebooks --nbval-lax --nbval-current-env

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check vlacourse tests notebooks
	$(VENV)/bin/ruff format --check vlacourse tests notebooks

sync: $(VENV)/.installed
	$(VENV)/bin/jupytext --quiet --to ipynb --update notebooks/[0-9]*.py

student: $(VENV)/.installed
	$(PY) -m vlacourse.exercises student notebooks student

# `make grade SUBMISSIONS=folder`: grades.csv and grades.md here (README: "Exercises, for learners and instructors").
grade: $(VENV)/.installed
	@test -n "$(SUBMISSIONS)" || { echo "make grade SUBMISSIONS=folder: the folder of the submitted notebooks"; exit 2; }
	$(PY) -m vlacourse.exercises grade "$(SUBMISSIONS)" --out grades.csv

bench: $(VENV)/.installed
	$(PY) -m vlacourse.bench sim
	$(PY) -m vlacourse.bench vla
	$(PY) -m vlacourse.bench flow
	$(PY) -m vlacourse.bench success
	$(PY) -m vlacourse.bench answers

assets: $(VENV)/.installed
	MPLBACKEND=agg $(PY) -c 'from vlacourse.course import draw_course_map; \
	  draw_course_map().savefig("assets/course_map.png", dpi=90, bbox_inches="tight")'

results: $(VENV)/.installed
	$(PY) -m vlacourse.results

clean:
	rm -rf $(VENV) $(COLAB_VENV) student .pytest_cache .ruff_cache
