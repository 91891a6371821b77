package testpeer

import (
	"encoding/binary"
	"fmt"
	"net"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// listener is one listening TCP socket: its address and its inode (as /proc/PID/fd
// names it: "socket:[INODE]").
type listener struct {
	addr  string
	port  int
	inode string
}

// listeners asks the kernel (netlink sock_diag, the interface ss uses) for the listening
// TCP sockets only. /proc/net/tcp lists every socket, and a suite leaves thousands in
// TIME_WAIT: reading all of them at every poll of every sink's start costs more CPU
// than the tests around it.
func listeners() ([]listener, error) {
	var all []listener
	for _, family := range []uint8{unix.AF_INET, unix.AF_INET6} {
		found, err := listenersOf(family)
		if err != nil {
			return nil, err
		}
		all = append(all, found...)
	}
	return all, nil
}

// The layouts of linux/inet_diag.h: inet_diag_req_v2 (56 bytes) and inet_diag_msg (72
// bytes), each with an inet_diag_sockid (48 bytes) at offset 8 and 4.
const (
	sizeofInetDiagReqV2 = 56
	sizeofInetDiagMsg   = 72
	tcpListen           = 10
)

func listenersOf(family uint8) ([]listener, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return nil, fmt.Errorf("sock_diag: %w", err)
	}
	defer unix.Close(fd)
	req := make([]byte, unix.SizeofNlMsghdr+sizeofInetDiagReqV2)
	binary.NativeEndian.PutUint32(req[0:], uint32(len(req)))
	binary.NativeEndian.PutUint16(req[4:], unix.SOCK_DIAG_BY_FAMILY)
	binary.NativeEndian.PutUint16(req[6:], unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
	body := req[unix.SizeofNlMsghdr:]
	body[0], body[1] = family, unix.IPPROTO_TCP
	binary.NativeEndian.PutUint32(body[4:], 1<<tcpListen)
	if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, fmt.Errorf("sock_diag: send: %w", err)
	}
	var found []listener
	buf := make([]byte, 1<<16)
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			return nil, fmt.Errorf("sock_diag: receive: %w", err)
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return nil, fmt.Errorf("sock_diag: %w", err)
		}
		for _, m := range msgs {
			switch m.Header.Type {
			case unix.NLMSG_DONE:
				return found, nil
			case unix.NLMSG_ERROR:
				return nil, fmt.Errorf("sock_diag: error reply")
			}
			if len(m.Data) < sizeofInetDiagMsg {
				continue
			}
			found = append(found, parseDiagMsg(m.Data, family))
		}
	}
}

// parseDiagMsg reads an inet_diag_msg: the port and address in network byte order, the
// inode in the machine's.
func parseDiagMsg(d []byte, family uint8) listener {
	port := int(binary.BigEndian.Uint16(d[4:]))
	ip := net.IP(append([]byte(nil), d[8:24]...))
	if family == unix.AF_INET {
		ip = ip[:4]
	}
	inode := binary.NativeEndian.Uint32(d[68:])
	return listener{addr: net.JoinHostPort(ip.String(), strconv.Itoa(port)), port: port,
		inode: strconv.FormatUint(uint64(inode), 10)}
}
