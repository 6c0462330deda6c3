package helmrelease

import (
	"errors"
	"slices"
	"strings"
	"sync"
)

// Helm's debug log says what it was doing when an action failed (which
// objects it was creating, waiting for or deleting), which its error often
// does not. The last lines of one action's log go with its error, bounded,
// so a failure Event can quote them.
const (
	// tailLines is how many of the last log lines an action keeps.
	tailLines = 5
	// maxTailLine bounds one line: a line can hold a whole manifest.
	maxTailLine = 200
)

// logTail keeps the last tailLines lines one Helm action logged. Helm may
// log from several goroutines.
type logTail struct {
	mu    sync.Mutex
	lines []string
}

func (t *logTail) add(line string) {
	line = strings.Join(strings.Fields(line), " ")
	if line == "" {
		return
	}
	if len(line) > maxTailLine {
		line = line[:maxTailLine-3] + "..."
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lines = append(t.lines, line)
	if len(t.lines) > tailLines {
		t.lines = t.lines[len(t.lines)-tailLines:]
	}
}

func (t *logTail) snapshot() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.lines...)
}

// ActionError is a failed Helm action with the last lines Helm logged
// during it. Its message is the action's error alone.
type ActionError struct {
	Err error
	Log []string
}

func (e *ActionError) Error() string { return e.Err.Error() }

func (e *ActionError) Unwrap() error { return e.Err }

// failed wraps a failed action's err with what tail holds.
func failed(err error, tail *logTail) error {
	if err == nil {
		return nil
	}
	return &ActionError{Err: err, Log: tail.snapshot()}
}

// maxNote is the API server's limit on an events.k8s.io/v1 Event's note.
const maxNote = 1024

// EventNote is the note of a failure Event: the error's Message, then as
// much of the last lines Helm logged as fits in an Event, newest last.
func EventNote(err error) string {
	msg := Message(err)
	var ae *ActionError
	if !errors.As(err, &ae) || len(ae.Log) == 0 {
		return msg
	}
	const sep = "; Helm's last log lines: "
	room := maxNote - len(msg) - len(sep)
	var kept []string
	for _, line := range slices.Backward(ae.Log) {
		if room -= len(line) + 3; room < 0 {
			break
		}
		kept = append([]string{line}, kept...)
	}
	if len(kept) == 0 {
		return msg
	}
	return msg + sep + strings.Join(kept, " | ")
}
