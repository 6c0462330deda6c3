// Package reach builds the reachability report of an ambient egress
// configuration: for every source workload and every egress destination,
// exactly which requests are allowed.
//
// The report is computed, not sampled. It partially evaluates the rules the
// simulator compiled (the very forms Program.Eval matches) on what is known
// about each source, and turns what remains into a short list of positive
// cubes over the request attributes (method, path, host, headers, request
// principal...). Sources that no policy singles out share one entry per
// destination, so the report grows with the policies, not with sources times
// destinations.
package reach
