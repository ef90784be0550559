package nn

import "testing"

// TestBLASNamesBuild checks that the build tags installed the BLAS they
// select: OpenBLAS with the openblas tag, gonum's otherwise.
func TestBLASNamesBuild(t *testing.T) {
	t.Parallel()
	if got := BLAS(); got != wantBLAS {
		t.Errorf("BLAS() = %q, want %q", got, wantBLAS)
	}
}
