# espnet_spire: the commands a user needs.
.PHONY: install install-comet lint test test-fast test-faults test-fullscale
install:
	bash tools/install.sh

# COMET-22 / CometKiwi live in their own environment (tools/comet_venv): unbabel-comet needs
# transformers<5 and numpy<2. CI installs it with the main stack (`make install install-comet`);
# without it the COMET tests skip (and fail under CI=true).
install-comet:
	bash tools/install_comet.sh

# ruff (ruff.toml) over the Python code and shellcheck (.shellcheckrc) over the shell scripts.
lint:
	bash tools/lint.sh

# Every test, the full-scale fixture run and the fault suite included (what CI runs).
test:
	bash tools/test.sh

# The fault suite (issue #15): bad input and interrupted runs on the smoke recipe, and each stage's
# own fault tests (README "When things go wrong"); the smoke-recipe part takes about 3 minutes on
# 2 cores. Part of `make test`.
test-faults:
	bash tools/test.sh -m fault

# The paper's recipe on fixture corpora in their real layouts, stages 1-14 (about 6 minutes).
# Part of `make test`.
test-fullscale:
	bash tools/test.sh -m fullscale

# The unit tests only: no test marked slow or integration (pytest.ini); under 2 minutes.
test-fast:
	bash tools/test.sh -m "not slow and not integration"
