package simulator

import (
	"fmt"
	"regexp"
	"strconv"
)

// Istio is what the simulator knows of the istiod that programs the
// waypoint, where it changes what the operator may render or what the
// waypoint does: its version and the feature flags that gate wildcard
// destinations. The zero value is an istiod of unknown version with its
// flags at their defaults.
type Istio struct {
	// Version is istiod's version; the zero value is unknown, and then
	// features that depend on it are assumed present.
	Version IstioVersion
	// WildcardTLS says istiod runs with
	// ENABLE_WILDCARD_HOST_SERVICE_ENTRIES_FOR_TLS=true, without which it
	// builds no waypoint chain for a TLS port of a wildcard (DYNAMIC_DNS)
	// ServiceEntry (pilot/pkg/networking/core/listener_waypoint.go; the
	// flag is off by default, pilot/pkg/features/pilot.go).
	WildcardTLS bool
}

// IstioVersion is a major.minor.patch version; Major 0 is unknown.
type IstioVersion struct {
	Major, Minor, Patch int
}

// versionPattern reads a version at the start of a tag or label value:
// "1.29.1", "v1.28", "1.30.0-distroless", "1.31-alpha.abc".
var versionPattern = regexp.MustCompile(`^v?(\d+)\.(\d+)(?:\.(\d+))?`)

// ParseIstioVersion reads a version such as "1.29", "1.29.1" or an image
// tag "1.29.1-distroless".
func ParseIstioVersion(s string) (IstioVersion, error) {
	m := versionPattern.FindStringSubmatch(s)
	if m == nil {
		return IstioVersion{}, fmt.Errorf("%q is not an Istio version such as 1.29 or 1.29.1", s)
	}
	var v IstioVersion
	var err error
	if v.Major, err = strconv.Atoi(m[1]); err == nil {
		v.Minor, err = strconv.Atoi(m[2])
	}
	if err == nil && m[3] != "" {
		v.Patch, err = strconv.Atoi(m[3])
	}
	if err != nil || v.Major == 0 {
		return IstioVersion{}, fmt.Errorf("%q is not an Istio version such as 1.29 or 1.29.1", s)
	}
	return v, nil
}

// Known tells whether the version is known.
func (v IstioVersion) Known() bool { return v.Major > 0 }

// Before tells whether a known version is older than major.minor.
func (v IstioVersion) Before(major, minor int) bool {
	return v.Known() && (v.Major < major || v.Major == major && v.Minor < minor)
}

func (v IstioVersion) String() string {
	if !v.Known() {
		return "unknown"
	}
	return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch)
}

// The Istio releases that serve wildcard destinations at a waypoint: HTTP
// from 1.28, TLS (SNI) from 1.29 behind wildcardTLSFlag.
const (
	wildcardHTTPMinor = 28
	wildcardTLSMinor  = 29
	// WildcardTLSFlag is the istiod environment variable that turns on
	// TLS ports of wildcard ServiceEntries at waypoints.
	WildcardTLSFlag = "ENABLE_WILDCARD_HOST_SERVICE_ENTRIES_FOR_TLS"
)

// wildcardProblem says why this istiod cannot serve a wildcard host on a
// port of the protocol, or "" when it can.
func (i Istio) wildcardProblem(host string, port uint32, protocol string) string {
	if i.Version.Before(1, wildcardHTTPMinor) {
		return fmt.Sprintf("Istio %s does not serve wildcard hosts such as %s at a waypoint (1.%d and later do): upgrade Istio or list the hosts one by one",
			i.Version, host, wildcardHTTPMinor)
	}
	if protocol != "TLS" {
		return ""
	}
	if i.Version.Before(1, wildcardTLSMinor) {
		return fmt.Sprintf("port %d of wildcard host %s is TLS, which Istio %s does not serve at a waypoint (1.%d and later do, with %s=true on istiod): upgrade Istio or list the hosts one by one",
			port, host, i.Version, wildcardTLSMinor, WildcardTLSFlag)
	}
	if !i.WildcardTLS {
		return fmt.Sprintf("port %d of wildcard host %s is TLS, which istiod serves at a waypoint only with %s=true in its environment (off by default): set it on istiod, or list the hosts one by one",
			port, host, WildcardTLSFlag)
	}
	return ""
}
