// Package scorecard is a build-only module pinning operator-sdk's
// scorecard-test image binary (images/scorecard-test) as a tool, so
// hack/scorecard.sh can build it from the Go module proxy and run the
// bundle's scorecard tests for real, without a cluster or a container
// engine. v1.42.2 is the newest release whose dependencies the proxy serves.
package scorecard
