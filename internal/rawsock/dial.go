package rawsock

import (
	"context"
	"net"
)

// Dial is the shape of a client library's dial hook (pgx's DialFunc,
// go-redis's Dialer).
type Dial = func(ctx context.Context, network, addr string) (net.Conn, error)

// WrapDial returns dial with each connection it makes wrapped (Wrap): a
// client's TCP connections then read and write with raw system calls.
func WrapDial(dial Dial) Dial {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return Wrap(c), nil
	}
}
