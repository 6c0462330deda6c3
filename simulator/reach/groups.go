package reach

import (
	"sort"
	"strconv"
	"strings"
)

// othersGroup names the sources no entry lists: they have the access of
// every destination's otherSources entry.
const othersGroup = "others"

// groupSources groups the sources whose rows are identical across every
// destination: the same set of entries lists them. ids holds, per entry of
// the report, the indexes of the principals it lists.
func groupSources(principals []string, ids [][]int32) []Group {
	// A row is hashed as it is built; entries are visited in order, so
	// equal rows get equal hashes. Zero means "listed nowhere".
	rows := make([]uint64, len(principals))
	for ei, list := range ids {
		for _, i := range list {
			if rows[i] == 0 {
				rows[i] = fnvOffset
			}
			rows[i] = (rows[i] ^ uint64(ei+1)) * fnvPrime
		}
	}
	byRow := make(map[uint64]int, len(principals)/2)
	out := []Group{}
	for i, p := range principals {
		gi, ok := byRow[rows[i]]
		if !ok {
			gi = len(out)
			byRow[rows[i]] = gi
			out = append(out, Group{})
			if rows[i] == 0 {
				out[gi].Name = othersGroup
			}
		}
		out[gi].Principals = append(out[gi].Principals, p)
	}
	for i := range out {
		g := &out[i]
		g.Count = len(g.Principals)
		if g.Name == "" {
			g.Name = groupName(g.Principals)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if (out[i].Name == othersGroup) != (out[j].Name == othersGroup) {
			return out[j].Name == othersGroup
		}
		return out[i].Principals[0] < out[j].Principals[0]
	})
	return out
}

// groupName is "namespace/account" of the first principal, with the number
// of further members.
func groupName(principals []string) string {
	name := ShortPrincipal(principals[0])
	if len(principals) > 1 {
		name += " +" + strconv.Itoa(len(principals)-1)
	}
	return name
}

// ShortPrincipal turns "td/ns/NS/sa/SA" into "NS/SA"; anything else is
// returned as it is.
func ShortPrincipal(p string) string {
	_, rest, ok := strings.Cut(p, "/ns/")
	if !ok {
		return p
	}
	ns, sa, ok := strings.Cut(rest, "/sa/")
	if !ok || strings.Contains(ns, "/") || strings.Contains(sa, "/") {
		return p
	}
	return ns + "/" + sa
}
