# espnet_spire: the two commands a user needs.
.PHONY: install test install-comet
install:
	bash tools/install.sh

test:
	bash tools/test.sh

# COMET-22 / CometKiwi live in their own environment (tools/comet_venv): unbabel-comet needs
# transformers<5 and numpy<2. The tests that need it install it on first use.
install-comet:
	bash tools/install_comet.sh
