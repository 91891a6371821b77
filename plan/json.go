package plan

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
)

// Decode reads a plan's JSON form. It checks the schema version before anything else,
// and refuses fields it does not know: a plan is an instruction, and one run without an
// option it was given would be another test than the one asked for. It does not fill
// defaults or validate: a decoded plan is as it was written.
func Decode(data []byte) (Plan, error) {
	var head struct {
		SchemaVersion *int `json:"schema_version"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return Plan{}, fmt.Errorf("plan: %w", err)
	}
	if head.SchemaVersion == nil {
		return Plan{}, fmt.Errorf("plan: no schema_version (this program reads version %d)", SchemaVersion)
	}
	if *head.SchemaVersion != SchemaVersion {
		return Plan{}, fmt.Errorf("plan: schema version %d, this program reads version %d", *head.SchemaVersion, SchemaVersion)
	}
	var p Plan
	d := json.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	if err := d.Decode(&p); err != nil {
		return Plan{}, fmt.Errorf("plan: %w", err)
	}
	return p, nil
}

// JSON is the plan's compact JSON form.
func (p Plan) JSON() []byte {
	b, err := json.Marshal(p)
	if err != nil {
		panic(fmt.Sprintf("plan: encoding: %v", err)) // every field of a Plan encodes
	}
	return b
}

// ForReport is the plan as a result document embeds it: a message file's content is
// left out (its name, size and digest stay), so that a document stays small and
// readable; a plan from a result document names the file but cannot be run as it is.
func (p Plan) ForReport() Plan {
	if p.Message.File != nil {
		f := *p.Message.File
		f.Content = nil
		p.Message.File = &f
	}
	return p
}

// WholeRun is the plan of the whole run a shard's plan is part of: the plan without
// its shard (every count in a plan is already the whole run's).
func (p Plan) WholeRun() Plan {
	p.Shard = nil
	return p
}

// Fingerprint identifies what a run sends, the same for every shard of it: the hex
// SHA-256 (first 16 bytes) of the JSON form without the shard's index (its weights,
// the number and shares of the shards, count), without what belongs to the machine
// (Local) and with a message file by its digest. Shards of one plan, run by
// different processes or machines, have the same fingerprint; any other option gives
// another.
func (p Plan) Fingerprint() string {
	p = p.ForReport()
	p.Local = Local{}
	if p.Shard != nil {
		sh := *p.Shard
		sh.Index = 0
		p.Shard = &sh
	}
	sum := sha256.Sum256(p.JSON())
	return hex.EncodeToString(sum[:16])
}
