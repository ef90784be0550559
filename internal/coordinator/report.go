package coordinator

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/ringtrain/ringtrain/internal/report"
)

// writeReport writes the history as CSV and JSON and the curves as SVG
// beside the model file, as MODEL-history.csv and so on.
func (c *Coordinator) writeReport() error {
	if c.cfg.Output == "" {
		return nil
	}
	base := strings.TrimSuffix(c.cfg.Output, filepath.Ext(c.cfg.Output)) + "-history"
	var rows []report.Epoch
	for _, h := range c.status.snapshot().History {
		rows = append(rows, report.Epoch{
			Epoch: h.Epoch, Samples: h.Samples, TrainSamples: h.TrainSamples,
			TrainLoss: h.TrainLoss, TrainAccuracy: h.TrainAccuracy,
			TestLoss: h.TestLoss, TestAccuracy: h.TestAccuracy, Seconds: h.Seconds,
		})
	}
	paths, err := report.WriteHistory(base, rows)
	if err != nil {
		return fmt.Errorf("coordinator: %w", err)
	}
	c.logger.Info("history written", "files", paths)
	return nil
}
