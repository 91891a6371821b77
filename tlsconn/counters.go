package tlsconn

import "crypto/tls"

// Counter is one of the counters a completed handshake adds to, the same for
// go-smtp-source and go-smtp-sink; String is its name in their reports.
type Counter uint8

const (
	Handshakes Counter = iota // every completed handshake
	Resumed                   // … that resumed a session
	Version10                 // … that negotiated TLS 1.0
	Version11                 // … TLS 1.1
	Version12                 // … TLS 1.2
	Version13                 // … TLS 1.3
	// ClientCertificates: … in which the server verified a client certificate.
	ClientCertificates
)

var counterNames = [...]string{
	Handshakes:         "tls_handshakes",
	Resumed:            "tls_resumed",
	Version10:          "tls_version_1_0",
	Version11:          "tls_version_1_1",
	Version12:          "tls_version_1_2",
	Version13:          "tls_version_1_3",
	ClientCertificates: "tls_client_certificates",
}

func (c Counter) String() string {
	if int(c) < len(counterNames) {
		return counterNames[c]
	}
	return "tls_counter_unknown"
}

// CountHandshake calls add with each counter the handshake whose state is st adds to.
// server says that st is a server side's: only a server verifies client certificates.
func CountHandshake(st tls.ConnectionState, server bool, add func(Counter)) {
	add(Handshakes)
	if st.DidResume {
		add(Resumed)
	}
	switch st.Version {
	case tls.VersionTLS10:
		add(Version10)
	case tls.VersionTLS11:
		add(Version11)
	case tls.VersionTLS12:
		add(Version12)
	case tls.VersionTLS13:
		add(Version13)
	}
	if server && len(st.VerifiedChains) > 0 {
		add(ClientCertificates)
	}
}
