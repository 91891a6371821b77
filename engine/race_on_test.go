//go:build race

package engine

// raceEnabled: the race detector slows the engine several times over, so tests whose
// figures are a server's capacity under a latency threshold run without it.
const raceEnabled = true
