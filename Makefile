# espnet_spire: the two commands a user needs.
.PHONY: install test
install:
	bash tools/install.sh

test:
	bash tools/test.sh
