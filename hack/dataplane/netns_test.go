//go:build dataplane

package dataplane

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
)

// teardown is a stack of clean-up steps. The test registers it with
// t.Cleanup and a signal handler runs it too, so the steps run once, in
// reverse order, whichever comes first.
type teardown struct {
	mu    sync.Mutex
	steps []teardownStep
}

type teardownStep struct {
	name string
	fn   func() error
}

func (td *teardown) add(name string, fn func() error) {
	td.mu.Lock()
	defer td.mu.Unlock()
	td.steps = append(td.steps, teardownStep{name, fn})
}

// run runs and forgets every step, last added first; it returns the
// failures.
func (td *teardown) run() []error {
	td.mu.Lock()
	defer td.mu.Unlock()
	var errs []error
	for i := len(td.steps) - 1; i >= 0; i-- {
		if err := td.steps[i].fn(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", td.steps[i].name, err))
		}
	}
	td.steps = nil
	return errs
}

// netns is one named network namespace (/run/netns/<name>).
type netns struct{ name string }

// run runs a command in the root namespace and returns its output.
func run(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// exec runs a command inside the namespace.
func (n netns) exec(args ...string) (string, error) {
	return run("ip", append([]string{"netns", "exec", n.name}, args...)...)
}

// do runs fn on an OS thread that has joined the namespace. Sockets fn
// creates stay in the namespace for their whole life, whichever thread uses
// them later. The thread goes back to its own namespace afterwards; when
// that fails it is left locked, so the Go runtime ends it with the
// goroutine and no other goroutine ever runs in the wrong namespace.
func (n netns) do(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		self, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", syscall.Gettid()))
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer self.Close()
		target, err := os.Open(filepath.Join("/run/netns", n.name))
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer target.Close()
		if err := setns(target); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("joining network namespace %s: %w", n.name, err)
			return
		}
		ferr := fn()
		if err := setns(self); err != nil {
			// Stay locked: the thread dies with this goroutine.
			errc <- errors.Join(ferr, fmt.Errorf("leaving network namespace %s: %w", n.name, err))
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// sysSetns is setns(2)'s number: package syscall's tables are frozen and
// lack it on amd64, and golang.org/x/sys is not a direct dependency.
var sysSetns = map[string]uintptr{"amd64": 308, "arm64": 268}

func setns(f *os.File) error {
	nr, ok := sysSetns[runtime.GOARCH]
	if !ok {
		return fmt.Errorf("setns: unknown syscall number on %s", runtime.GOARCH)
	}
	if _, _, errno := syscall.Syscall(nr, f.Fd(), syscall.CLONE_NEWNET, 0); errno != 0 {
		return errno
	}
	return nil
}

// dial opens a connection from inside the namespace.
func (n netns) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var c net.Conn
	err := n.do(func() error {
		var d net.Dialer
		var err error
		c, err = d.DialContext(ctx, network, addr)
		return err
	})
	return c, err
}

// listeners are the echo servers the test runs inside namespaces: TCP
// accepts and echoes, UDP echoes each datagram back.
type listeners struct {
	mu      sync.Mutex
	closers []io.Closer
	wg      sync.WaitGroup
}

// listen starts an echo server on addr ("ip:port", ip may be 0.0.0.0)
// inside the namespace.
func (l *listeners) listen(n netns, proto, addr string) error {
	return n.do(func() error {
		switch proto {
		case "tcp":
			ln, err := net.Listen("tcp4", addr)
			if err != nil {
				return err
			}
			l.add(ln)
			l.wg.Go(func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					l.wg.Go(func() {
						defer c.Close()
						_ = c.SetDeadline(time.Now().Add(5 * time.Second))
						_, _ = io.Copy(c, c)
					})
				}
			})
		case "udp":
			pc, err := net.ListenPacket("udp4", addr)
			if err != nil {
				return err
			}
			l.add(pc)
			l.wg.Go(func() {
				buf := make([]byte, 1500)
				for {
					k, from, err := pc.ReadFrom(buf)
					if err != nil {
						return
					}
					_, _ = pc.WriteTo(buf[:k], from)
				}
			})
		default:
			return fmt.Errorf("unknown protocol %q", proto)
		}
		return nil
	})
}

func (l *listeners) add(c io.Closer) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closers = append(l.closers, c)
}

// close stops every server and waits for their goroutines.
func (l *listeners) close() error {
	l.mu.Lock()
	for _, c := range l.closers {
		_ = c.Close()
	}
	l.closers = nil
	l.mu.Unlock()
	l.wg.Wait()
	return nil
}

// child is a long-running program started inside a namespace, in a process
// group of its own (a Ctrl-C reaches the test alone, which stops its
// children in order); the kernel kills it if the test dies.
type child struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

func startChild(n netns, name, logPath string, env []string, args ...string) (*child, error) {
	out, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("ip", append([]string{"netns", "exec", n.name}, args...)...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		_ = out.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	c := &child{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		_ = out.Close()
		close(c.done)
	}()
	return c, nil
}

func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM and, after grace, SIGKILL to the process group.
func (c *child) stop(grace time.Duration) error {
	pgid := c.cmd.Process.Pid
	if !c.exited() {
		_ = c.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-c.done:
		case <-time.After(grace):
		}
	}
	if err := syscall.Kill(-pgid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("killing process group %d (%s): %w", pgid, c.name, err)
	}
	select {
	case <-c.done:
		return nil
	case <-time.After(10 * time.Second):
		return fmt.Errorf("%s (pid %d) did not exit after SIGKILL", c.name, pgid)
	}
}

// tail returns the last lines of the child's log.
func (c *child) tail(lines int) string {
	data, err := os.ReadFile(c.log)
	if err != nil {
		return ""
	}
	all := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}
