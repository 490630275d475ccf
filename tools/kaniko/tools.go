//go:build tools

// Package tools pins the executor build.sh compiles, so go mod tidy keeps its dependencies.
package tools

import _ "github.com/chainguard-dev/kaniko/cmd/executor"
