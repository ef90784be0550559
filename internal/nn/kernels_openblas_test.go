//go:build openblas && cgo

package nn

import (
	"fmt"
	"testing"
)

// TestKernelsMatchGoOnEveryISA repeats the kernel checks with the AVX2 and
// the scalar paths, which a processor with AVX-512 never takes by itself.
// It does not run in parallel, because the cap applies to the whole
// process.
func TestKernelsMatchGoOnEveryISA(t *testing.T) {
	defer setKernelISA(2)
	for _, isa := range []int{1, 0} {
		t.Run(fmt.Sprintf("isa=%d", isa), func(t *testing.T) {
			setKernelISA(isa)
			checkAdamKernel(t)
			checkActivationKernels(t)
			checkSoftmaxKernel(t)
		})
	}
}
