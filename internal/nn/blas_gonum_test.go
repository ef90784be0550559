//go:build !(openblas && cgo)

package nn

const wantBLAS = "gonum"
