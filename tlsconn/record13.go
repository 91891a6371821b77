package tlsconn

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"math"
	"net"
	"sync"

	"golang.org/x/crypto/chacha20poly1305"
)

// records13 protects a TLS 1.3 session's records after crypto/tls's handshake: it seals
// and opens application data on the event loop from the traffic secrets and sequence
// numbers crypto/tls reached (takeOver13), and handles what may follow a handshake
// (RFC 8446 §4.6): NewSessionTicket (a client without a session cache ignores it, as
// crypto/tls does) and KeyUpdate. crypto/tls's record layer is built for a blocking conn
// shared by goroutines (locks, a handshake check, a growing input buffer per call); on
// one loop it cost about 2.5 times the AEAD itself per record, about 7 µs of CPU per
// message on each side of a TLS session here.
type records13 struct {
	in, out  trafficKeys
	isClient bool

	plain  *[]byte // decrypted application data that did not fit the caller's buffer
	unread []byte  // (*plain)[k:]: what is left of it
	hand   []byte  // a post-handshake message split across records, so far

	// useless counts records in a row that gave no application data (empty records,
	// post-handshake messages): more than maxUselessRecords is a peer wasting our CPU, as
	// crypto/tls's limit.
	useless int
	err     error // the first read error, returned from then on (io.EOF: close_notify)
}

const (
	recordTypeAlert           = 21
	recordTypeHandshake       = 22
	recordTypeApplicationData = 23

	recordHeaderLen = 5
	maxPlaintext    = 16 << 10           // RFC 8446 §5.1
	maxCiphertext   = maxPlaintext + 256 // RFC 8446 §5.2
	aeadOverhead    = 16                 // the tag of every TLS 1.3 AEAD
	// maxHandshakeMsg bounds a post-handshake message (a NewSessionTicket is the largest
	// expected): crypto/tls's own limit.
	maxHandshakeMsg   = 65536
	maxUselessRecords = 16

	typeNewSessionTicket = 4
	typeKeyUpdate        = 24

	alertCloseNotify       = 0
	alertUnexpectedMessage = 10
	alertBadRecordMAC      = 20
	alertRecordOverflow    = 22
	alertDecodeError       = 50
	alertProtocolVersion   = 70
	alertUserCanceled      = 90
)

// plainBufs hold decrypted application data a caller's buffer had no room for; a session
// holds one only until it has been read.
var plainBufs = sync.Pool{New: func() any { b := make([]byte, 0, maxPlaintext+1); return &b }}

// read decrypts into p the application data of the whole records w holds. It returns 0
// and no error when no whole record has arrived.
func (r *records13) read(w *wire, p []byte) (int, error) {
	if len(r.unread) > 0 {
		n := copy(p, r.unread)
		r.unread = r.unread[n:]
		if len(r.unread) == 0 {
			r.releasePlain()
		}
		return n, nil
	}
	if r.err != nil {
		return 0, r.err
	}
	for {
		rec, err := w.record()
		if err != nil {
			return 0, r.fail(w, err)
		}
		if rec == nil {
			return 0, nil
		}
		typ, data, err := r.open(rec)
		if err != nil {
			w.discard(len(rec))
			return 0, r.fail(w, err)
		}
		if typ == recordTypeApplicationData && len(data) > 0 {
			if len(r.hand) > 0 {
				w.discard(len(rec))
				return 0, r.fail(w, tls.AlertError(alertUnexpectedMessage))
			}
			r.useless = 0
			n := copy(p, data)
			if n < len(data) {
				r.plain = plainBufs.Get().(*[]byte)
				r.unread = append((*r.plain)[:0], data[n:]...)
			}
			w.discard(len(rec))
			return n, nil
		}
		err = r.control(w, typ, data)
		w.discard(len(rec))
		if err != nil {
			return 0, r.fail(w, err)
		}
	}
}

// control handles a record that carries no application data.
func (r *records13) control(w *wire, typ byte, data []byte) error {
	r.useless++
	if r.useless > maxUselessRecords {
		return fmt.Errorf("tls: too many non-advancing records: %w", tls.AlertError(alertUnexpectedMessage))
	}
	switch typ {
	case recordTypeApplicationData: // empty
		if len(r.hand) > 0 {
			return tls.AlertError(alertUnexpectedMessage)
		}
		return nil
	case recordTypeAlert:
		if len(data) != 2 {
			return tls.AlertError(alertUnexpectedMessage)
		}
		switch data[1] {
		case alertCloseNotify:
			return io.EOF
		case alertUserCanceled: // ignored, as by crypto/tls (RFC 8446 §6.1 allows it)
			return nil
		}
		return &net.OpError{Op: "remote error", Err: tls.AlertError(data[1])}
	case recordTypeHandshake:
		return r.postHandshake(w, data)
	}
	return tls.AlertError(alertUnexpectedMessage)
}

// postHandshake handles the handshake messages of one record, keeping a message that goes
// on in the next record.
func (r *records13) postHandshake(w *wire, data []byte) error {
	if len(data) == 0 {
		return tls.AlertError(alertUnexpectedMessage)
	}
	if len(r.hand) > 0 {
		r.hand = append(r.hand, data...)
		data = r.hand
	}
	for len(data) >= 4 {
		n := int(data[1])<<16 | int(data[2])<<8 | int(data[3])
		if n > maxHandshakeMsg {
			return tls.AlertError(alertDecodeError)
		}
		if len(data) < 4+n {
			break
		}
		typ, body := data[0], data[4:4+n]
		data = data[4+n:]
		switch {
		case typ == typeNewSessionTicket && r.isClient:
			// No session cache: nothing to keep it in (crypto/tls ignores it then too).
		case typ == typeKeyUpdate:
			if n != 1 || body[0] > 1 {
				return tls.AlertError(alertDecodeError)
			}
			if len(data) > 0 {
				// A key change must end its record (RFC 8446 §5.1).
				return tls.AlertError(alertUnexpectedMessage)
			}
			if body[0] == 1 { // update_requested: answer under the old key, then change it
				if err := r.seal(w, recordTypeHandshake, []byte{typeKeyUpdate, 0, 0, 1, 0}); err != nil {
					return err
				}
				if err := r.out.update(); err != nil {
					return err
				}
			}
			if err := r.in.update(); err != nil {
				return err
			}
		default:
			return fmt.Errorf("tls: received unexpected handshake message of type %d: %w", typ, tls.AlertError(alertUnexpectedMessage))
		}
	}
	if len(data) == 0 {
		r.hand = nil
	} else {
		r.hand = append(r.hand[:0:0], data...)
	}
	return nil
}

// open checks and decrypts one whole record in place, and returns its inner content type
// and content.
func (r *records13) open(rec []byte) (byte, []byte, error) {
	hdr, ct := rec[:recordHeaderLen], rec[recordHeaderLen:]
	if hdr[0] != recordTypeApplicationData {
		// Once the handshake is over every TLS 1.3 record is application_data outside
		// (RFC 8446 §5); a change_cipher_spec is no longer allowed.
		return 0, nil, tls.AlertError(alertUnexpectedMessage)
	}
	if hdr[1] != 3 || hdr[2] != 3 {
		return 0, nil, fmt.Errorf("tls: received record with version %x: %w", uint16(hdr[1])<<8|uint16(hdr[2]), tls.AlertError(alertProtocolVersion))
	}
	if len(ct) > maxCiphertext {
		return 0, nil, tls.AlertError(alertRecordOverflow)
	}
	if r.in.seq == math.MaxUint64 {
		return 0, nil, errors.New("tls: sequence number wraparound")
	}
	pt, err := r.in.aead.Open(ct[:0], r.in.nonce(), ct, hdr)
	if err != nil {
		return 0, nil, tls.AlertError(alertBadRecordMAC)
	}
	r.in.seq++
	if len(pt) > maxPlaintext+1 {
		return 0, nil, tls.AlertError(alertRecordOverflow)
	}
	i := len(pt) - 1
	for i >= 0 && pt[i] == 0 { // padding
		i--
	}
	if i < 0 {
		return 0, nil, tls.AlertError(alertUnexpectedMessage)
	}
	return pt[i], pt[:i], nil
}

// write seals p as application data records into w's pending output.
func (r *records13) write(w *wire, p []byte) (int, error) {
	n := 0
	for n < len(p) {
		k := min(len(p)-n, maxPlaintext)
		if err := r.seal(w, recordTypeApplicationData, p[n:n+k]); err != nil {
			return n, err
		}
		n += k
	}
	return n, nil
}

// writev seals the buffers in order, as one record when they fit in one.
func (r *records13) writev(w *wire, bufs [][]byte) (int, error) {
	size := 0
	for _, b := range bufs {
		size += len(b)
	}
	if size == 0 || size > maxPlaintext {
		n := 0
		for _, b := range bufs {
			k, err := r.write(w, b)
			n += k
			if err != nil {
				return n, err
			}
		}
		return n, nil
	}
	return size, r.seal(w, recordTypeApplicationData, bufs...)
}

// seal appends one record of content type typ holding the parts, joined, to w's pending
// output.
func (r *records13) seal(w *wire, typ byte, parts ...[]byte) error {
	if r.out.seq == math.MaxUint64 {
		return errors.New("tls: sequence number wraparound")
	}
	size := 1 + aeadOverhead
	for _, p := range parts {
		size += len(p)
	}
	out := w.outBuf(recordHeaderLen + size)
	start := len(out)
	out = append(out, recordTypeApplicationData, 3, 3, byte(size>>8), byte(size))
	for _, p := range parts {
		out = append(out, p...)
	}
	out = append(out, typ)
	body := out[start+recordHeaderLen:]
	sealed := r.out.aead.Seal(body[:0], r.out.nonce(), body, out[start:start+recordHeaderLen])
	r.out.seq++
	w.setOut(out[:start+recordHeaderLen+len(sealed)])
	return nil
}

// fail makes err the session's read error, telling the peer with a fatal alert when it
// is a fault we found (what crypto/tls does).
func (r *records13) fail(w *wire, err error) error {
	var a tls.AlertError
	if errors.As(err, &a) && !isRemote(err) {
		if r.seal(w, recordTypeAlert, []byte{2, byte(a)}) == nil {
			_ = w.flush()
		}
		err = &net.OpError{Op: "local error", Err: err}
	}
	r.err = err
	return err
}

func isRemote(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "remote error"
}

func (r *records13) releasePlain() {
	if r.plain != nil {
		*r.plain = (*r.plain)[:0]
		plainBufs.Put(r.plain)
		r.plain, r.unread = nil, nil
	}
}

// trafficKeys protect one direction: the AEAD and IV of a traffic secret (RFC 8446 §7.3)
// and the next record's sequence number.
type trafficKeys struct {
	suite  uint16
	secret []byte
	aead   cipher.AEAD
	ivLow  uint64   // the IV's last 8 bytes, which the sequence number is XORed into
	nonceB [12]byte // the IV's first 4 bytes, then the current nonce's last 8
	seq    uint64
}

// suite13 is a TLS 1.3 cipher suite's hash and key length, ok false for one we do not
// implement.
func suite13(id uint16) (h func() hash.Hash, keyLen int, ok bool) {
	switch id {
	case tls.TLS_AES_128_GCM_SHA256:
		return sha256.New, 16, true
	case tls.TLS_AES_256_GCM_SHA384:
		return sha512.New384, 32, true
	case tls.TLS_CHACHA20_POLY1305_SHA256:
		return sha256.New, chacha20poly1305.KeySize, true
	}
	return nil, 0, false
}

func newTrafficKeys(suite uint16, secret []byte, seq uint64) (trafficKeys, error) {
	h, keyLen, ok := suite13(suite)
	if !ok {
		return trafficKeys{}, fmt.Errorf("tlsconn: cipher suite %s is not a TLS 1.3 suite", tls.CipherSuiteName(suite))
	}
	key, err := expandLabel(h, secret, "key", keyLen)
	if err != nil {
		return trafficKeys{}, err
	}
	iv, err := expandLabel(h, secret, "iv", 12)
	if err != nil {
		return trafficKeys{}, err
	}
	var aead cipher.AEAD
	if suite == tls.TLS_CHACHA20_POLY1305_SHA256 {
		aead, err = chacha20poly1305.New(key)
	} else {
		var block cipher.Block
		if block, err = aes.NewCipher(key); err == nil {
			aead, err = cipher.NewGCM(block)
		}
	}
	if err != nil {
		return trafficKeys{}, err
	}
	k := trafficKeys{suite: suite, secret: secret, aead: aead, seq: seq, ivLow: binary.BigEndian.Uint64(iv[4:])}
	copy(k.nonceB[:4], iv)
	return k, nil
}

// nonce is the per-record nonce: the IV XOR the sequence number (RFC 8446 §5.3). It is
// k's own buffer (a local one would escape through the AEAD interface: an allocation per
// record), valid until the next call.
func (k *trafficKeys) nonce() []byte {
	binary.BigEndian.PutUint64(k.nonceB[4:], k.ivLow^k.seq)
	return k.nonceB[:]
}

// update moves to the next traffic secret after a KeyUpdate (RFC 8446 §7.2).
func (k *trafficKeys) update() error {
	h, _, _ := suite13(k.suite)
	next, err := expandLabel(h, k.secret, "traffic upd", h().Size())
	if err != nil {
		return err
	}
	nk, err := newTrafficKeys(k.suite, next, 0)
	if err != nil {
		return err
	}
	*k = nk
	return nil
}

// expandLabel is HKDF-Expand-Label with an empty context (RFC 8446 §7.1).
func expandLabel(h func() hash.Hash, secret []byte, label string, n int) ([]byte, error) {
	info := make([]byte, 0, 4+len("tls13 ")+len(label))
	info = append(info, byte(n>>8), byte(n), byte(len("tls13 ")+len(label)))
	info = append(info, "tls13 "...)
	info = append(info, label...)
	info = append(info, 0)
	return hkdf.Expand(h, secret, string(info), n)
}
