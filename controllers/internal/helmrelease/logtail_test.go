package helmrelease

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
)

func TestLogTailKeepsTheLastLines(t *testing.T) {
	tail := &logTail{}
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() { tail.add(fmt.Sprintf("line %d", i)) })
	}
	wg.Wait()
	if got := tail.snapshot(); len(got) != tailLines {
		t.Fatalf("kept %d lines, want %d", len(got), tailLines)
	}
	tail = &logTail{}
	for i := range 7 {
		tail.add(fmt.Sprintf("line\n%d  ", i))
	}
	tail.add("   ")
	tail.add(strings.Repeat("x", 10*maxTailLine))
	got := tail.snapshot()
	want := []string{"line 3", "line 4", "line 5", "line 6"}
	if len(got) != tailLines || strings.Join(got[:4], ",") != strings.Join(want, ",") || len(got[4]) != maxTailLine || !strings.HasSuffix(got[4], "...") {
		t.Errorf("tail = %q, want the last lines, one line each, blank ones dropped, long ones cut to %d", got, maxTailLine)
	}
}

func TestEventNote(t *testing.T) {
	plain := errors.New("upgrading release ns/egw-a: boom")
	long := errors.New(strings.Repeat("e", 2*maxMessage))
	log := []string{"creating 3 resource(s)", "Starting delete for \"a\" Gateway", strings.Repeat("l", maxTailLine)}
	for _, tc := range []struct {
		name     string
		err      error
		contains []string
	}{
		{"no log", plain, []string{"boom"}},
		{"a wrapped action error", fmt.Errorf("outer: %w", &ActionError{Err: plain, Log: log}),
			[]string{"outer: upgrading release ns/egw-a: boom; Helm's last log lines: creating 3 resource(s) | Starting delete"}},
		{"an error at the limit leaves no room for the log", &ActionError{Err: long, Log: log}, []string{"..."}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			note := EventNote(tc.err)
			if len(note) > maxNote {
				t.Errorf("note of %d bytes, over the API server's %d", len(note), maxNote)
			}
			for _, c := range tc.contains {
				if !strings.Contains(note, c) {
					t.Errorf("note %q does not contain %q", note, c)
				}
			}
			if errors.Unwrap(&ActionError{Err: plain}) != plain {
				t.Error("ActionError does not unwrap to the action's error")
			}
		})
	}
}
