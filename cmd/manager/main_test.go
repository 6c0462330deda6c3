package main

import (
	"slices"
	"strings"
	"testing"
)

func TestWatchNamespaces(t *testing.T) {
	cases := []struct {
		flag, root string
		want       []string
		err        string
	}{
		{flag: "", root: "istio-system", want: nil},
		{flag: "  ", root: "istio-system", want: nil},
		{flag: "istio-egress", root: "istio-system", want: []string{"istio-egress", "istio-system"}},
		{flag: "a, b,a,,istio-system", root: "istio-system", want: []string{"a", "b", "istio-system"}},
		{flag: "Egress", root: "istio-system", err: `namespace "Egress"`},
		{flag: "ok", root: "bad_root", err: `namespace "bad_root"`},
	}
	for _, c := range cases {
		got, err := watchNamespaces(c.flag, c.root)
		switch {
		case c.err != "":
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("watchNamespaces(%q, %q): error %v, want one naming %s", c.flag, c.root, err, c.err)
			}
		case err != nil || !slices.Equal(got, c.want):
			t.Errorf("watchNamespaces(%q, %q) = %v, %v; want %v", c.flag, c.root, got, err, c.want)
		}
	}
}
