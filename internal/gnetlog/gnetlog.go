// Package gnetlog is the one logger the project gives gnet: a silent one. gnet prints a
// start-up banner and its own errors through its logger; packages below cmd/ never print,
// and every error gnet reports reaches us through its return values and callbacks.
package gnetlog

// Silent discards everything gnet would log.
type Silent struct{}

func (Silent) Debugf(string, ...any) {}
func (Silent) Infof(string, ...any)  {}
func (Silent) Warnf(string, ...any)  {}
func (Silent) Errorf(string, ...any) {}
func (Silent) Fatalf(string, ...any) {}
