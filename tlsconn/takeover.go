package tlsconn

import (
	"crypto/fips140"
	"crypto/tls"
	"reflect"
)

// takeOver13 builds the record layer of a TLS 1.3 session whose handshake crypto/tls has
// just finished: the traffic secret and next sequence number of each direction.
// crypto/tls does not export them, so they are read with reflect; any surprise — a Go
// release that renamed a field, input crypto/tls holds that the loop would not see, a
// suite we do not implement, FIPS 140 mode, whose rules crypto/tls applies — gives nil and
// the session stays with crypto/tls. TestTakeOver13 fails when a Go release makes that
// happen, so an upgrade cannot slow TLS down unnoticed.
func takeOver13(tc *tls.Conn, isClient bool) *records13 {
	if fips140.Enabled() {
		return nil
	}
	st := tc.ConnectionState()
	h, _, ok := suite13(st.CipherSuite)
	if st.Version != tls.VersionTLS13 || !ok {
		return nil
	}
	v := reflect.ValueOf(tc).Elem()
	if !emptyBuffer(v.FieldByName("rawInput")) || !emptyBuffer(v.FieldByName("hand")) ||
		!emptyReader(v.FieldByName("input")) {
		return nil
	}
	r := &records13{isClient: isClient}
	for _, d := range []struct {
		field string
		keys  *trafficKeys
	}{{"in", &r.in}, {"out", &r.out}} {
		secret, seq, ok := halfConnState(v.FieldByName(d.field))
		if !ok || len(secret) != h().Size() {
			return nil
		}
		k, err := newTrafficKeys(st.CipherSuite, secret, seq)
		if err != nil {
			return nil
		}
		*d.keys = k
	}
	return r
}

// halfConnState reads a crypto/tls halfConn: its TLS 1.3 traffic secret and sequence
// number; ok false when it is not as expected or holds an error.
func halfConnState(hc reflect.Value) (secret []byte, seq uint64, ok bool) {
	if hc.Kind() != reflect.Struct {
		return nil, 0, false
	}
	if e := hc.FieldByName("err"); e.Kind() != reflect.Interface || !e.IsNil() {
		return nil, 0, false
	}
	s := hc.FieldByName("seq")
	if s.Kind() != reflect.Array || s.Len() != 8 || s.Type().Elem().Kind() != reflect.Uint8 {
		return nil, 0, false
	}
	for i := range 8 {
		seq = seq<<8 | s.Index(i).Uint()
	}
	ts := hc.FieldByName("trafficSecret")
	if ts.Kind() != reflect.Slice || ts.Type().Elem().Kind() != reflect.Uint8 || ts.Len() == 0 {
		return nil, 0, false
	}
	secret = make([]byte, ts.Len())
	for i := range secret {
		secret[i] = byte(ts.Index(i).Uint())
	}
	return secret, seq, true
}

// emptyBuffer reports whether a bytes.Buffer field is there and holds nothing unread.
func emptyBuffer(b reflect.Value) bool {
	if b.Kind() != reflect.Struct {
		return false
	}
	buf, off := b.FieldByName("buf"), b.FieldByName("off")
	return buf.Kind() == reflect.Slice && off.Kind() == reflect.Int && int64(buf.Len()) == off.Int()
}

// emptyReader reports whether a bytes.Reader field is there and has nothing left.
func emptyReader(r reflect.Value) bool {
	if r.Kind() != reflect.Struct {
		return false
	}
	s, i := r.FieldByName("s"), r.FieldByName("i")
	return s.Kind() == reflect.Slice && i.Kind() == reflect.Int64 && i.Int() >= int64(s.Len())
}
