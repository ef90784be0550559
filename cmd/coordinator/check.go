package main

import (
	"flag"
	"math"

	"github.com/ringtrain/ringtrain/internal/cli"
	"github.com/ringtrain/ringtrain/internal/coordinator"
)

// checkFlags rejects out-of-range values that the command line or the
// environment set. The library reads a zero field as its default, so an
// explicit 0 where 0 means nothing is caught here, while seed 0 and
// momentum 0 are passed on as values of their own.
func checkFlags(fs *flag.FlagSet, sources map[string]string, o *options) error {
	c := &o.coord
	checks := []cli.Check{
		cli.Require("epochs", c.Epochs >= 1, "1 or more"),
		cli.Require("batch-size", c.BatchSize >= 1 && c.BatchSize <= 65536, "1 to 65536"),
		cli.Require("lr", c.LearningRate > 0 && !math.IsInf(c.LearningRate, 1), "a positive finite number"),
		cli.Require("momentum", c.Momentum >= 0 && c.Momentum < 1, "a value in [0, 1)"),
		cli.Require("mode", c.Mode == coordinator.ModeFast || c.Mode == coordinator.ModeExact, "fast or exact"),
		cli.Require("micro-batch", c.MicroBatch >= 0, "1 to --batch-size, or 0 for the default"),
		cli.Require("micro-batch", c.Mode == coordinator.ModeExact, "--mode exact as well: fast mode has no micro-batches"),
		cli.Require("train-samples", c.TrainSamples >= 0, "0 (all) or more"),
		cli.Require("test-samples", c.TestSamples >= 0, "0 (all) or more"),
		cli.Require("local-workers", o.localWorkers >= 0, "0 or more"),
		cli.Require("min-workers", c.MinWorkers >= 0, "1 or more, or 0 for the default"),
		cli.Require("step-timeout", c.StepTimeout > 0, "a positive duration such as 15s"),
		cli.Require("rpc-timeout", c.RPCTimeout > 0, "a positive duration such as 30s"),
		cli.Require("checkpoint-every", c.CheckpointEvery >= 1, "1 or more steps"),
		cli.Require("checkpoint-keep", c.CheckpointKeep >= 1, "1 or more"),
	}
	checks = append(checks, cli.MembershipChecks(c.Membership.ProbeInterval, c.Membership.SuspicionMult)...)
	if err := cli.CheckFlags(fs, sources, checks...); err != nil {
		return err
	}
	// The flags start from the defaults, so a zero here was set on purpose.
	c.ZeroSeed = c.Seed == 0
	c.ZeroMomentum = c.Momentum == 0
	return nil
}
