//go:build openblas && cgo

package nn

import (
	"sync"
	"sync/atomic"

	"gonum.org/v1/gonum/blas"
)

// parallelFlops is the fewest floating-point operations (2·m·n·k) of each
// part of a split product. Handing a part to another goroutine and waiting
// for it costs a few microseconds, about what OpenBLAS needs for a product
// of a million operations on one core. The bound also keeps every part
// above the sizes for which OpenBLAS 0.3.21 takes other kernels with
// another summation order. Below it, a split can change the last bits: a
// 67×31×129 product split in two differed from the whole.
const parallelFlops = 1 << 21

// partRows is the granularity of a split: every part but the last has a
// multiple of 16 rows of C, so that no part ends inside one of the small
// register blocks in which OpenBLAS's x86 sgemm kernels compute C (an
// estimate: their block sizes that we know of divide 16).
const partRows = 16

// sgemmPart is one cblas_sgemm call: a whole product or a block of rows of
// C. done, when not nil, is signalled after the call.
type sgemmPart struct {
	tA, tB      blas.Transpose
	m, n, k     int
	alpha, beta float32
	a, b, c     []float32
	lda, ldb    int
	ldc         int
	done        *sync.WaitGroup
}

// sgemmParts returns into how many blocks of rows Sgemm splits an m×n×k
// product when procs goroutines may run at once.
func sgemmParts(m, n, k, procs int) int {
	flops := 2 * float64(m) * float64(n) * float64(k)
	parts := min(float64(procs), float64(m/partRows), flops/parallelFlops)
	return max(1, int(parts))
}

// rows returns the part of p that computes rows [start, end) of C.
func (p sgemmPart) rows(start, end int) sgemmPart {
	q := p
	q.m = end - start
	if p.tA == blas.NoTrans {
		q.a = p.a[start*p.lda:]
	} else {
		// A is stored k×m, so the rows of C are columns of A.
		q.a = p.a[start:]
	}
	q.c = p.c[start*p.ldc:]
	return q
}

// runParts computes p in parts blocks of rows: the calling goroutine the
// first, and idle helper goroutines the others. A block that finds no idle
// helper, because other products keep them busy, runs on the calling
// goroutine as well, so a split never waits for a free helper.
func runParts(p sgemmPart, parts int) {
	startHelpers(parts - 1)
	rows := (p.m + parts - 1) / parts
	rows = (rows + partRows - 1) / partRows * partRows

	var wg *sync.WaitGroup
	select {
	case wg = <-waitGroups:
	default:
		wg = new(sync.WaitGroup)
	}
	for start := rows; start < p.m; start += rows {
		q := p.rows(start, min(start+rows, p.m))
		q.done = wg
		wg.Add(1)
		select {
		case partQueue <- q:
		default:
			q.run()
			wg.Done()
		}
	}
	first := p.rows(0, min(rows, p.m))
	first.run()
	wg.Wait()
	select {
	case waitGroups <- wg:
	default:
	}
}

// waitGroups recycles the WaitGroups of runParts, so that a split product
// allocates nothing. A sync.Pool would drop them at every garbage
// collection.
var waitGroups = make(chan *sync.WaitGroup, 64)

// partQueue carries blocks of rows to the helper goroutines. It is
// unbuffered, so a send succeeds only when a helper is idle.
var partQueue = make(chan sgemmPart)

var (
	// helperMu guards the start of helper goroutines.
	helperMu sync.Mutex
	// helperCount is the number of helper goroutines started. It only
	// grows.
	helperCount atomic.Int32
)

// startHelpers makes sure that at least n helper goroutines run.
//
// NOTE: the helpers live as long as the process, blocked on partQueue when
// idle, like the threads of a BLAS library's pool. Their number is the
// largest GOMAXPROCS seen at a split, less one.
func startHelpers(n int) {
	if int(helperCount.Load()) >= n {
		return
	}
	helperMu.Lock()
	defer helperMu.Unlock()
	for int(helperCount.Load()) < n {
		go runHelper()
		helperCount.Add(1)
	}
}

func runHelper() {
	for p := range partQueue {
		p.run()
		p.done.Done()
	}
}
