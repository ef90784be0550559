# Generator versions, pinned so that `make proto` reproduces the committed code.
# protoc itself comes from Debian 12's protobuf-compiler package (3.21.12).
PROTOC_GEN_GO_VERSION      := v1.36.12
PROTOC_GEN_GO_GRPC_VERSION := v1.5.1
TOOLS := $(CURDIR)/.tools

# BLAS selects the implementation of the matrix products: openblas (cgo,
# with the thread-safe OpenBLAS of Debian's libopenblas-pthread-dev linked
# statically) or gonum (pure Go, CGO_ENABLED=0). It defaults to openblas
# when that library is installed. Either way the binaries are fully static.
TRIPLET      := $(shell gcc -dumpmachine 2>/dev/null)
OPENBLAS_DIR := /usr/lib/$(TRIPLET)/openblas-pthread
BLAS ?= $(if $(wildcard $(OPENBLAS_DIR)/libopenblas.a),openblas,gonum)

# OPENBLAS_ENV points cgo at Debian's pthread OpenBLAS on any architecture.
OPENBLAS_ENV = CGO_ENABLED=1 \
	CGO_CFLAGS="-I/usr/include/$(TRIPLET)/openblas-pthread $$(go env CGO_CFLAGS)" \
	CGO_LDFLAGS="-L$(OPENBLAS_DIR) $$(go env CGO_LDFLAGS)"

ifeq ($(BLAS),openblas)
# netgo and osusergo keep glibc's resolver and user lookup out of the
# static binaries, since they would need glibc's shared libraries at run time.
GO_BUILD = $(OPENBLAS_ENV) go build -trimpath -tags openblas,netgo,osusergo
GO_LDFLAGS := -linkmode external -extldflags -static
else ifeq ($(BLAS),gonum)
GO_BUILD := CGO_ENABLED=0 go build -trimpath
GO_LDFLAGS :=
else
$(error BLAS=$(BLAS) is not supported: use BLAS=openblas or BLAS=gonum)
endif

.PHONY: proto test test-openblas build build-purego image-binaries image check-blas check-openblas

proto:
	GOBIN=$(TOOLS) go install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
	GOBIN=$(TOOLS) go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)
	PATH=$(TOOLS):$$PATH protoc -I proto \
		--go_out=proto --go_opt=paths=source_relative \
		--go-grpc_out=proto --go-grpc_opt=paths=source_relative \
		proto/ringtrain/v1/ringtrain.proto

test:
	go test -race -count=1 ./...

# The packages whose results depend on the BLAS, built with OpenBLAS.
test-openblas: check-openblas
	$(OPENBLAS_ENV) go test -race -count=1 -tags openblas ./internal/nn/ ./bench/...

build: check-blas
	$(GO_BUILD) -ldflags "$(GO_LDFLAGS)" -o bin/ ./cmd/...

# The pure-Go build, which needs neither cgo nor OpenBLAS.
build-purego:
	CGO_ENABLED=0 go build -trimpath -o bin/ ./cmd/...

# Stripped binaries of the two commands for an image, written to IMAGE_DIR.
IMAGE_DIR ?= bin/image/
image-binaries: check-blas
	mkdir -p $(IMAGE_DIR)
	$(GO_BUILD) -ldflags "-s -w $(GO_LDFLAGS)" -o $(IMAGE_DIR) ./cmd/coordinator ./cmd/worker

# The offline image: static binaries built here, packed FROM scratch.
# IMAGE names it; BLAS=gonum builds it without OpenBLAS.
IMAGE ?= ringtrain:local
image: image-binaries
	cp /etc/ssl/certs/ca-certificates.crt $(IMAGE_DIR)
	docker build -f deploy/Dockerfile.scratch -t $(IMAGE) $(IMAGE_DIR)

# check-blas checks that the library of the selected BLAS is installed.
check-blas: $(if $(filter openblas,$(BLAS)),check-openblas)

check-openblas:
	@test -f $(OPENBLAS_DIR)/libopenblas.a || { \
		echo "the openblas build needs $(OPENBLAS_DIR)/libopenblas.a:" \
			"apt-get install libopenblas-pthread-dev, or build with BLAS=gonum"; exit 1; }
