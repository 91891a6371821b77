package tlsconn

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// record is a TLS record header (application data, TLS 1.2 on the wire) and body.
func record(body []byte) []byte {
	return append([]byte{23, 3, 3, byte(len(body) >> 8), byte(len(body))}, body...)
}

// trickle is a source that has at most the next avail bytes of a stream.
type trickle struct {
	rest  []byte
	avail int
}

func (t *trickle) Read(p []byte) (int, error) {
	n := copy(p[:min(len(p), t.avail)], t.rest)
	t.rest, t.avail = t.rest[n:], t.avail-n
	return n, nil
}

// frameAll hands stream out through a recordFramer in pieces chosen by rng (what has
// arrived, how much room the reader gives) and checks each take: never past a record's
// end, never nothing while a byte is at hand and there is room, and in the end every
// byte in order.
func frameAll(t *testing.T, stream []byte, ends []int, rng *rand.Rand) {
	t.Helper()
	var f recordFramer
	src := &trickle{rest: stream}
	var got []byte
	next := 0 // the first record end not yet behind us
	for steps := 0; len(got) < len(stream); steps++ {
		if steps > 10*len(stream)+100 {
			t.Fatalf("no progress after %d of %d bytes", len(got), len(stream))
		}
		src.avail += rng.IntN(40)
		p := make([]byte, 1+rng.IntN(64))
		before := len(got)
		atHand := min(src.avail, len(src.rest))
		n := f.take(p, src)
		got = append(got, p[:n]...)
		if n == 0 && atHand > 0 {
			t.Fatalf("took nothing at offset %d with %d bytes at hand", before, atHand)
		}
		for next < len(ends) && ends[next] <= before {
			next++ // ends are in order: only the first one past before can be crossed
		}
		if next < len(ends) && len(got) > ends[next] {
			t.Fatalf("one take crossed the record end at %d (took %d..%d)", ends[next], before, len(got))
		}
	}
	if !bytes.Equal(got, stream) {
		t.Fatalf("the bytes differ from the stream")
	}
}

func TestRecordFramer(t *testing.T) {
	cases := map[string][][]byte{
		"one small":          {[]byte("250 ok\r\n")},
		"several":            {[]byte("a"), []byte("bb"), bytes.Repeat([]byte("c"), 300)},
		"empty record":       {[]byte("x"), {}, []byte("y")},
		"largest":            {bytes.Repeat([]byte("z"), 16384+256), []byte("after")},
		"header-sized parts": {[]byte("12345"), []byte("1234"), []byte("123456")},
	}
	for name, bodies := range cases {
		t.Run(name, func(t *testing.T) {
			var stream []byte
			var ends []int
			for _, b := range bodies {
				stream = append(stream, record(b)...)
				ends = append(ends, len(stream))
			}
			for seed := uint64(0); seed < 200; seed++ {
				frameAll(t, stream, ends, rand.New(rand.NewPCG(seed, 1)))
			}
		})
	}
}

// FuzzRecordFramer: any byte stream, read as TLS records (whatever the header bytes say),
// comes out whole and in order, no take crossing the end of the record it is in.
func FuzzRecordFramer(f *testing.F) {
	f.Add(record([]byte("250 ok\r\n")), uint64(1))
	f.Add(append(record(nil), record([]byte("x"))...), uint64(2))
	f.Add([]byte{22, 3, 1, 0xff, 0xff, 1, 2, 3}, uint64(3))
	f.Fuzz(func(t *testing.T, stream []byte, seed uint64) {
		var ends []int
		for off := 0; off < len(stream); {
			if len(stream)-off < 5 {
				break
			}
			off += 5 + (int(stream[off+3])<<8 | int(stream[off+4]))
			ends = append(ends, min(off, len(stream)))
		}
		frameAll(t, stream, ends, rand.New(rand.NewPCG(seed, 1)))
	})
}
