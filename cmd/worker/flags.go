package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/ringtrain/ringtrain/internal/cli"
	"github.com/ringtrain/ringtrain/internal/membership"
	"github.com/ringtrain/ringtrain/internal/worker"
)

type options struct {
	worker    worker.Config
	logFormat string
	logLevel  string
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	d := worker.DefaultConfig()
	o := &options{}
	c := &o.worker
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = cli.Usage(fs, "Usage: worker [flags]\n\nRuns one training replica: joins the cluster, registers with the coordinator and trains.")

	var join string
	fs.StringVar(&c.Name, "name", cli.Hostname(), "worker name, unique in the cluster and stable across restarts")
	fs.StringVar(&join, "join", "", "comma-separated gossip addresses (host:port) of nodes in the cluster, such as the coordinator")
	fs.StringVar(&c.GRPCAddr, "grpc-addr", d.GRPCAddr, "gRPC listen address; port 0 picks a free port")
	fs.StringVar(&c.GossipAddr, "gossip-addr", d.GossipAddr, "memberlist listen address; port 0 picks a free port")
	fs.StringVar(&c.AdvertiseHost, "advertise-addr", "", "host that other nodes use to reach this worker (default: memberlist's choice)")
	fs.DurationVar(&c.Membership.ProbeInterval, "probe-interval", membership.DefaultConfig().ProbeInterval, "time between memberlist failure probes, at least 10ms")
	fs.IntVar(&c.Membership.SuspicionMult, "suspicion-mult", membership.DefaultConfig().SuspicionMult, "memberlist suspicion multiplier: a suspect node is declared dead after about this many probe intervals (1 or more)")
	fs.StringVar(&o.logFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn or error")

	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	sources, err := cli.ApplyEnvSources(fs, os.LookupEnv)
	if err != nil {
		return nil, err
	}
	checks := cli.MembershipChecks(c.Membership.ProbeInterval, c.Membership.SuspicionMult)
	if err := cli.CheckFlags(fs, sources, checks...); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q: flags start with --", fs.Arg(0))
	}
	for _, addr := range strings.Split(join, ",") {
		if addr = strings.TrimSpace(addr); addr != "" {
			c.Join = append(c.Join, addr)
		}
	}
	return o, nil
}
