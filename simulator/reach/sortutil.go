package reach

import "sort"

// sortSlice sorts stably with a less function, so equal elements keep the
// order of the inputs and the output stays byte-for-byte stable.
func sortSlice[T any](s []T, less func(a, b T) bool) {
	sort.SliceStable(s, func(i, j int) bool { return less(s[i], s[j]) })
}
