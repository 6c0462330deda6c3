package simulator

import "testing"

func TestParseIstioVersion(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"1.29", "1.29.0", true},
		{"1.29.1", "1.29.1", true},
		{"v1.28.3", "1.28.3", true},
		{"1.30.0-distroless", "1.30.0", true},
		{"1.31-alpha.eed52ebb", "1.31.0", true},
		{"", "", false},
		{"latest", "", false},
		{"0.8.0", "", false},
		{"1", "", false},
		{"1.99999999999999999999", "", false},
	} {
		v, err := ParseIstioVersion(tc.in)
		switch {
		case tc.ok && (err != nil || v.String() != tc.want):
			t.Errorf("%q: %v, %v; want %s", tc.in, v, err, tc.want)
		case !tc.ok && err == nil:
			t.Errorf("%q: %v, want an error", tc.in, v)
		}
	}
	v, _ := ParseIstioVersion("1.28.9")
	if v.Before(1, 28) || !v.Before(1, 29) || (IstioVersion{}).Before(1, 28) {
		t.Error("Before: 1.28.9 is not before 1.28, is before 1.29; an unknown version is before nothing")
	}
}

// FuzzParseIstioVersion: a version that parses prints as one that parses
// to itself, and nothing panics.
func FuzzParseIstioVersion(f *testing.F) {
	for _, s := range []string{"1.29", "v1.28.3", "1.30.0-distroless", "latest", "1.", "01.002.3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseIstioVersion(s)
		if err != nil {
			return
		}
		again, err := ParseIstioVersion(v.String())
		if err != nil || again != v || !v.Known() {
			t.Fatalf("%q parses to %v, which prints as %q and parses to %v (%v)", s, v, v.String(), again, err)
		}
	})
}
