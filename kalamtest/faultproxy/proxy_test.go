package faultproxy

import (
	"bufio"
	"net"
	"testing"
	"time"
)

func echoServer(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					c.Write([]byte(line))
				}
			}()
		}
	}()
	return ln.Addr().String()
}

func roundTrip(c net.Conn) (string, error) {
	if _, err := c.Write([]byte("ping\n")); err != nil {
		return "", err
	}
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	return bufio.NewReader(c).ReadString('\n')
}

func TestForwardDropDownUp(t *testing.T) {
	p, err := New(echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	if got, err := roundTrip(c); err != nil || got != "ping\n" {
		t.Fatalf("round trip = %q, %v", got, err)
	}
	p.Drop()
	if _, err := roundTrip(c); err == nil {
		t.Fatal("connection survived Drop")
	}
	c.Close()
	p.Down()
	c2, err := net.Dial("tcp", p.Addr())
	if err == nil {
		if _, err := roundTrip(c2); err == nil {
			t.Fatal("a connection went through while down")
		}
		c2.Close()
	}
	p.Up()
	c3, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c3.Close()
	if got, err := roundTrip(c3); err != nil || got != "ping\n" {
		t.Fatalf("after Up: %q, %v", got, err)
	}
	if p.Accepted() != 2 {
		t.Fatalf("accepted = %d, want 2", p.Accepted())
	}
}

func TestBlackholeAndLatency(t *testing.T) {
	p, err := New(echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	p.Blackhole(true)
	c.Write([]byte("lost\n"))
	c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if _, err := bufio.NewReader(c).ReadString('\n'); err == nil {
		t.Fatal("blackhole let bytes through")
	}
	p.Blackhole(false)
	p.SetLatency(50 * time.Millisecond)
	start := time.Now()
	c2, _ := net.Dial("tcp", p.Addr())
	defer c2.Close()
	if got, err := roundTrip(c2); err != nil || got != "ping\n" {
		t.Fatalf("with latency: %q, %v", got, err)
	}
	if el := time.Since(start); el < 100*time.Millisecond {
		t.Fatalf("round trip took %v, want at least 2×50ms", el)
	}
}
