package controllers

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestIstiodOutage: only an istiod that does not answer at all starts an
// outage, which ends at its time; an answer this gateway's check cannot
// use (a refused request, a listener that does not decode) does not hold
// up the other gateways' checks.
func TestIstiodOutage(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct {
		name string
		err  error
		down bool
	}{
		{"connection refused", fmt.Errorf("opening an ADS stream: %w", status.Error(codes.Unavailable, "connection refused")), true},
		{"no answer in time", fmt.Errorf("istiod's listeners: %w", context.DeadlineExceeded), true},
		{"gRPC deadline", status.Error(codes.DeadlineExceeded, "deadline"), true},
		{"refused request", status.Error(codes.PermissionDenied, "no"), false},
		{"bad listener", errors.New("istiod's listener: proto: cannot parse"), false},
		{"success", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var o outage
			o.record(tc.err, now.Add(time.Minute))
			if got := o.active(now) != nil; got != tc.down {
				t.Fatalf("outage active %v, want %v", got, tc.down)
			}
			if o.active(now.Add(2*time.Minute)) != nil {
				t.Errorf("the outage outlived its time")
			}
		})
	}
}
