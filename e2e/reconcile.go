package e2e

import (
	"fmt"
	"strings"
	"time"

	"github.com/go-smtp-source/go-smtp-source/metrics"
)

// Source is one sink's trace document for Reconcile: its name (the file), the document,
// and the sink's clock against the source's.
type Source struct {
	Name  string
	Doc   *TraceDocument
	Clock Clock
}

// Reconcile sets what the sinks saw of each traced run of the report from their
// documents, which replace what the run recorded of its sinks (a document saved after
// the run says all that a poll during it did, and more), and derives the figures again.
// The run's deadline and the numbers seen by it stay the run's: what the documents add
// is delivered late. A run reconciled for the first time has no deadline: every
// delivery is on time.
func Reconcile(rep *metrics.Report, sources []Source) error {
	if rep.E2E == nil || len(rep.E2E.Runs) == 0 {
		return errNoTrace
	}
	if len(sources) == 0 {
		return fmt.Errorf("reconcile: no sink document")
	}
	for i := range rep.E2E.Runs {
		r := &rep.E2E.Runs[i]
		sinks := make([]metrics.E2ESink, 0, len(sources))
		for _, src := range sources {
			if !strings.EqualFold(src.Doc.Header, r.Header) {
				return fmt.Errorf("%s: the sink counted header %s, the run sent %s", src.Name, src.Doc.Header, r.Header)
			}
			s, err := Record(src.Name, src.Doc, r.Run, src.Clock)
			if err != nil {
				return err
			}
			sinks = append(sinks, s)
		}
		r.Sinks = sinks
		if err := r.Derive(); err != nil {
			return err
		}
	}
	return nil
}

// LiveClock is the clock a run measured for its one polled sink (the offset a reconcile
// of that sink's saved document should correct by), if the report's runs polled exactly
// one sink and measured it.
func LiveClock(rep *metrics.Report) (Clock, bool) {
	if rep.E2E == nil {
		return Clock{}, false
	}
	var found *metrics.E2ESink
	for i := range rep.E2E.Runs {
		for j := range rep.E2E.Runs[i].Sinks {
			s := &rep.E2E.Runs[i].Sinks[j]
			if found != nil && found.Name != s.Name {
				return Clock{}, false
			}
			found = s
		}
	}
	if found == nil || found.ClockRTTNs == 0 {
		return Clock{}, false
	}
	return Clock{Offset: time.Duration(found.ClockOffsetNs), RTT: time.Duration(found.ClockRTTNs)}, true
}
