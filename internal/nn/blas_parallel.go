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
// multiple of 16 rows of C. OpenBLAS's x86 sgemm kernels compute C in
// small register blocks, and the block sizes we know of divide 16, so no
// part ends inside a block.
const partRows = 16

// sgemmPart is one cblas_sgemm call: a whole product or a block of rows of
// C.
type sgemmPart struct {
	tA, tB      blas.Transpose
	m, n, k     int
	alpha, beta float32
	a, b, c     []float32
	lda, ldb    int
	ldc         int
}

// job is a part of a product or of an Adam step for a helper goroutine:
// sgemm when isAdam is false, else adam. done is signalled after the part
// has run. Jobs travel by value, because a pointer sent to another
// goroutine would move its part to the heap.
type job struct {
	isAdam bool
	sgemm  sgemmPart
	adam   adamPart
	done   *sync.WaitGroup
}

func (j *job) run() {
	if j.isAdam {
		j.adam.run()
	} else {
		j.sgemm.run()
	}
}

// sgemmParts returns into how many blocks of rows Sgemm splits an m×n×k
// product when procs goroutines may run at once.
func sgemmParts(m, n, k, procs int) int {
	flops := 2 * float64(m) * float64(n) * float64(k)
	parts := min(float64(procs), float64(maxParts), float64(m/partRows), flops/parallelFlops)
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
// first, and idle helper goroutines the others. Rounding the parts to
// partRows can leave a short last block. A last block below parallelFlops
// joins the block before it, so that every block stays above that bound.
func runParts(p sgemmPart, parts int) {
	rows := (p.m + parts - 1) / parts
	rows = (rows + partRows - 1) / partRows * partRows
	count := (p.m + rows - 1) / rows
	if last := p.m - (count-1)*rows; count > 1 && 2*float64(last*p.n)*float64(p.k) < parallelFlops {
		count--
	}
	part := func(i int) job {
		end := (i + 1) * rows
		if i == count-1 {
			end = p.m
		}
		return job{sgemm: p.rows(i*rows, end)}
	}
	fork(part, count)
}

// maxParts caps the parts of one split.
//
// NOTE: 16 is a guess. Splits over more than 2 cores have not been
// measured.
const maxParts = 16

// fork runs part(0) on the calling goroutine and part(1) to part(n-1) on
// idle helper goroutines, and returns when all have run. A part that finds
// no idle helper, because other splits keep them busy, runs on the calling
// goroutine as well, so a split never waits for a free helper.
func fork(part func(i int) job, n int) {
	startHelpers(n - 1)
	var wg *sync.WaitGroup
	select {
	case wg = <-waitGroups:
	default:
		wg = new(sync.WaitGroup)
	}
	for i := 1; i < n; i++ {
		j := part(i)
		j.done = wg
		wg.Add(1)
		select {
		case jobQueue <- j:
		default:
			j.run()
			wg.Done()
		}
	}
	first := part(0)
	first.run()
	wg.Wait()
	select {
	case waitGroups <- wg:
	default:
	}
}

// waitGroups recycles the WaitGroups of fork, so that a split allocates
// nothing. A sync.Pool would drop them at every garbage collection.
var waitGroups = make(chan *sync.WaitGroup, 64)

// jobQueue carries parts to the helper goroutines. It is unbuffered, so a
// send succeeds only when a helper is idle.
var jobQueue = make(chan job)

var (
	// helperMu guards the start of helper goroutines.
	helperMu sync.Mutex
	// helperCount is the number of helper goroutines started. It only
	// grows.
	helperCount atomic.Int32
)

// startHelpers makes sure that at least n helper goroutines run.
//
// NOTE: the helpers live as long as the process, blocked on jobQueue when
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
	for j := range jobQueue {
		j.run()
		j.done.Done()
	}
}
