// selfdial: dial an address again and again with Go's net package and count
// what happens. Go checks for a self-connection itself, retries twice, and
// then returns the self-connected socket: that is what is counted here.
//
//	selfdial [-n COUNT] [-k] [-laddr IP:PORT] ADDR:PORT
package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"syscall"
)

func main() {
	count := flag.Int("n", 1, "dials")
	stop := flag.Bool("k", false, "stop at the first self-connection")
	laddr := flag.String("laddr", "", "bind this local address first (net.Dialer.LocalAddr)")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: selfdial [-n COUNT] [-k] [-laddr IP:PORT] ADDR:PORT")
		os.Exit(2)
	}
	var dialer net.Dialer
	if *laddr != "" {
		local, err := net.ResolveTCPAddr("tcp", *laddr)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		dialer.LocalAddr = local
	}
	var self, refused, connected, failed int
	firstError := "none"
	for i := 0; i < *count; i++ {
		conn, err := dialer.Dial("tcp", flag.Arg(0))
		switch {
		case err == nil && conn.LocalAddr().String() == conn.RemoteAddr().String():
			self++
		case err == nil:
			connected++
		case errors.Is(err, syscall.ECONNREFUSED):
			refused++
		default:
			if failed == 0 {
				firstError = err.Error()
			}
			failed++
		}
		if conn != nil {
			conn.Close()
		}
		if self > 0 && *stop {
			break
		}
	}
	fmt.Printf("attempts=%d self=%d refused=%d connected=%d failed=%d first_error=%q\n",
		self+refused+connected+failed, self, refused, connected, failed, firstError)
}
