package coordinator

import (
	"context"
	"errors"
	"fmt"

	"github.com/ringtrain/ringtrain/internal/tensor"
	ringtrainpb "github.com/ringtrain/ringtrain/proto/ringtrain/v1"
)

// evalChunkBytes bounds the pixels of one Evaluate call, well under gRPC's
// 4 MiB message limit.
const evalChunkBytes = 1 << 20

// evaluate returns the test loss and accuracy of the committed parameters,
// splitting the test set across the view's workers. A failure forms a new
// view and evaluates again.
func (c *Coordinator) evaluate(ctx context.Context) (loss, accuracy float64, err error) {
	test := &c.data.Test
	chunk := max(1, evalChunkBytes/test.Dim())
	for {
		if err := c.ensureView(ctx); err != nil {
			return 0, 0, err
		}
		v := c.view
		type sums struct {
			correct, n  int
			fingerprint uint64
		}
		results := make([]sums, len(v.members))
		// Each chunk's loss is kept apart and the chunks are added in
		// order, so the test loss does not depend on the number of
		// workers.
		chunkLoss := make([]float64, (test.N+chunk-1)/chunk)
		errs := c.forEach(v.members, func(i int, w *worker) error {
			for from := i * chunk; from < test.N; from += len(v.members) * chunk {
				indices := make([]int, 0, chunk)
				for j := from; j < min(from+chunk, test.N); j++ {
					indices = append(indices, j)
				}
				callCtx, cancel := context.WithTimeout(ctx, c.cfg.RPCTimeout)
				resp, err := w.client.Evaluate(callCtx, &ringtrainpb.EvaluateRequest{
					Generation:    v.generation,
					CommittedStep: c.pos.step,
					Samples:       gather(test, indices),
				})
				cancel()
				if err != nil {
					return err
				}
				chunkLoss[from/chunk] = resp.GetLossSum()
				results[i].correct += int(resp.GetCorrect())
				results[i].n += int(resp.GetCount())
				results[i].fingerprint = resp.GetFingerprint()
			}
			return nil
		})
		if err := c.dropFailed(ctx, v.members, errs, "evaluate"); err != nil {
			if !errors.Is(err, errRetry) {
				return 0, 0, err
			}
			c.view = nil
			continue
		}
		var total sums
		fps := make([]uint64, 0, len(results))
		var totalLoss float64
		for _, loss := range chunkLoss {
			totalLoss += loss
		}
		for i, r := range results {
			total.correct += r.correct
			total.n += r.n
			if r.n > 0 || i == 0 {
				fps = append(fps, r.fingerprint)
			}
		}
		if err := checkFingerprints(c.pos.step, v.members[:len(fps)], fps); err != nil {
			return 0, 0, err
		}
		c.pos.setFingerprint(c.pos.step, fps[0])
		c.status.update(func(s *Status) { s.Fingerprint = tensor.FormatFingerprint(c.pos.fingerprint) })
		if total.n != test.N {
			return 0, 0, fmt.Errorf("coordinator: evaluation covered %d of %d test samples", total.n, test.N)
		}
		return totalLoss / float64(total.n), float64(total.correct) / float64(total.n), nil
	}
}
