package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/ringtrain/ringtrain/internal/cli"
	"github.com/ringtrain/ringtrain/internal/coordinator"
	"github.com/ringtrain/ringtrain/internal/membership"
)

// options are the command line of a training run.
type options struct {
	coord        coordinator.Config
	localWorkers int
	logFormat    string
	logLevel     string
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	d := coordinator.DefaultConfig()
	o := &options{}
	c := &o.coord
	fs := flag.NewFlagSet("coordinator", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = cli.Usage(fs, "Usage: coordinator [flags]\n\nRuns one training job: reads the dataset, drives the workers that join, serves /status.")

	fs.StringVar(&c.Dataset, "dataset", d.Dataset, "dataset to train on: mnist or cifar10")
	fs.StringVar(&c.DataDir, "data-dir", "", "folder holding the dataset files; when empty, the cache and then the download locations are used")
	fs.StringVar(&c.CacheDir, "cache-dir", "", "folder for downloaded datasets (default: the user cache folder)")
	fs.StringVar(&c.Model, "model", "", "preset (mnist-mlp, cifar10-mlp) or layer spec such as 784-100relu-60sigmoid/0.2-10 (default: the dataset's preset)")
	fs.StringVar(&c.Normalize, "normalize", d.Normalize, "input normalisation: auto, meanstd or none")
	fs.IntVar(&c.Epochs, "epochs", d.Epochs, "passes over the training set")
	fs.IntVar(&c.BatchSize, "batch-size", d.BatchSize, "global batch: samples per step over all workers")
	fs.StringVar(&c.Optimizer, "optimizer", d.Optimizer, "optimizer: adam or sgd")
	fs.Float64Var(&c.LearningRate, "lr", d.LearningRate, "learning rate")
	fs.Float64Var(&c.Momentum, "momentum", d.Momentum, "momentum of sgd")
	fs.Uint64Var(&c.Seed, "seed", d.Seed, "seed of the initial parameters, epoch orders and dropout masks")
	fs.StringVar(&c.Mode, "mode", d.Mode, "gradient summation: fast (float32 over the workers' slices) or exact (fixed point per micro-batch, the same model for any number of workers)")
	fs.IntVar(&c.MicroBatch, "micro-batch", 0, "samples per micro-batch in exact mode, from 1 to --batch-size (default: 16, or --batch-size when smaller)")
	overlap := fs.Bool("overlap", true, "in fast mode, sum each layer's gradient over the ring while the backward pass goes on with the earlier layers; false waits for the whole backward pass, with the same result")
	fs.IntVar(&c.TrainSamples, "train-samples", 0, "use only the first N training samples, for quick runs (0: all)")
	fs.IntVar(&c.TestSamples, "test-samples", 0, "evaluate only the first N test samples (0: all)")
	fs.IntVar(&o.localWorkers, "local-workers", 0, "number of workers to run inside this process on loopback")
	fs.IntVar(&c.MinWorkers, "min-workers", 0, "workers needed before training starts or goes on; 0 means the number of --local-workers, or 1 without them")
	fs.StringVar(&c.Name, "name", d.Name, "memberlist node name of the coordinator")
	fs.StringVar(&c.GRPCAddr, "grpc-addr", "", "gRPC listen address; port 0 picks a free port (default :7070, or 127.0.0.1:0 with --local-workers)")
	fs.StringVar(&c.HTTPAddr, "http-addr", d.HTTPAddr, "status HTTP listen address")
	fs.StringVar(&c.GossipAddr, "gossip-addr", "", "memberlist listen address (default :7946, or 127.0.0.1:0 with --local-workers)")
	fs.StringVar(&c.AdvertiseHost, "advertise-addr", "", "host that workers use to reach this coordinator (default: memberlist's choice)")
	fs.DurationVar(&c.StepTimeout, "step-timeout", d.StepTimeout, "deadline of one training step on the workers")
	fs.DurationVar(&c.RPCTimeout, "rpc-timeout", d.RPCTimeout, "deadline of every other call to a worker")
	fs.StringVar(&c.CheckpointDir, "checkpoint-dir", "", "folder for checkpoints; a restarted coordinator resumes from the newest valid one")
	fs.IntVar(&c.CheckpointEvery, "checkpoint-every", d.CheckpointEvery, "steps between checkpoints; one is also written after every epoch")
	fs.IntVar(&c.CheckpointKeep, "checkpoint-keep", d.CheckpointKeep, "number of newest checkpoints to keep")
	fs.DurationVar(&c.Membership.ProbeInterval, "probe-interval", membership.DefaultConfig().ProbeInterval, "time between memberlist failure probes, at least 10ms")
	fs.IntVar(&c.Membership.SuspicionMult, "suspicion-mult", membership.DefaultConfig().SuspicionMult, "memberlist suspicion multiplier: a suspect node is declared dead after about this many probe intervals (1 or more)")
	fs.StringVar(&c.Output, "output", "", "file to write the trained model to")
	fs.StringVar(&c.History, "history", "", "file to write the final /status document to")
	fs.StringVar(&o.logFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn or error")

	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	sources, err := cli.ApplyEnvSources(fs, os.LookupEnv)
	if err != nil {
		return nil, err
	}
	if err := checkFlags(fs, sources, o); err != nil {
		return nil, err
	}
	c.ReduceAfterBackward = !*overlap
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q: flags start with --", fs.Arg(0))
	}
	if o.localWorkers < 0 {
		return nil, fmt.Errorf("invalid --local-workers %d: want 0 or more", o.localWorkers)
	}
	if o.localWorkers > 0 {
		// Everything stays on loopback, and free ports avoid clashes with
		// anything else on the machine.
		setIfEmpty(&c.GRPCAddr, "127.0.0.1:0")
		setIfEmpty(&c.GossipAddr, "127.0.0.1:0")
		if c.MinWorkers == 0 {
			c.MinWorkers = o.localWorkers
		}
	}
	return o, nil
}

func setIfEmpty(s *string, value string) {
	if *s == "" {
		*s = value
	}
}
