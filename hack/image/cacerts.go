package main

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"

	"golang.org/x/crypto/x509roots/fallback/bundle"
)

// caBundle returns the image's CA bundle (/etc/ssl/certs/ca-certificates.crt)
// as PEM: Mozilla's NSS roots as golang.org/x/crypto/x509roots/fallback
// embeds them, in the bundle's order, each under a comment naming it.
//
// The roots come from a Go module, pinned in go.mod and checked by go.sum,
// rather than from the build host's /etc/ssl/certs: the image is then the
// same on every machine, and updating the roots is a reviewed go.mod change.
//
// A root that carries a constraint X.509 cannot express (NSS's
// distrust-after date for TLS server certificates) is left out: a PEM file
// cannot carry the constraint, and trusting the root without it would
// accept certificates NSS no longer accepts.
func caBundle() ([]byte, int, error) {
	var b bytes.Buffer
	n := 0
	for root := range bundle.Roots() {
		if root.Constraint != nil {
			continue
		}
		cert, err := x509.ParseCertificate(root.Certificate)
		if err != nil {
			return nil, 0, fmt.Errorf("parsing a root of the CA bundle: %w", err)
		}
		fmt.Fprintf(&b, "# %s\n", cert.Subject)
		if err := pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: root.Certificate}); err != nil {
			return nil, 0, err
		}
		n++
	}
	if n == 0 {
		return nil, 0, fmt.Errorf("the CA bundle module holds no unconstrained root")
	}
	return b.Bytes(), n, nil
}
