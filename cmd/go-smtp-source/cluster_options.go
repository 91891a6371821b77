package main

import (
	"github.com/spf13/pflag"
)

// clusterOptions are the options that spread one run over several processes: the
// brokerless --shard/--start-at (shard.go).
type clusterOptions struct {
	shard shardOptions
}

// addClusterFlags adds the cluster options to the extensions.
func addClusterFlags(fs *pflag.FlagSet) {
	addShardFlags(fs)
}

// parseClusterOptions reads the cluster options of a parsed command line.
func parseClusterOptions(fs *pflag.FlagSet, target string) (clusterOptions, error) {
	var co clusterOptions
	var err error
	if co.shard, err = parseShardOptions(fs, target); err != nil {
		return co, err
	}
	return co, nil
}
