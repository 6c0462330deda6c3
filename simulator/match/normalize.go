package match

import "strings"

// NormalizePath turns a raw HTTP request target into the path Envoy's RBAC
// filter compares: the query string and fragment are dropped (Envoy's
// url_path and uri_template matchers ignore them), percent-encoded unreserved
// characters are decoded, other escapes are upper-cased, and "." and ".."
// segments are removed as RFC 3986 section 5.2.4 says. Istio's default mesh
// path normalization is BASE, which turns on exactly this (normalize_path)
// and leaves slashes unmerged and escaped slashes untouched
// (pilot/pkg/networking/core/listener_builder.go and
// https://istio.io/latest/docs/reference/config/security/normalization/).
func NormalizePath(raw string) string {
	if i := strings.IndexAny(raw, "?#"); i >= 0 {
		raw = raw[:i]
	}
	if raw == "" {
		return "/"
	}
	if !needsNormalizing(raw) {
		return raw
	}
	decoded := decodeUnreserved(raw)
	out := removeDotSegments(decoded)
	if !strings.HasPrefix(out, "/") {
		out = "/" + out
	}
	return out
}

// needsNormalizing is the fast path: most request paths have no escapes and
// no dot segments, and then normalizing would not change them.
func needsNormalizing(p string) bool {
	if p[0] != '/' || strings.IndexByte(p, '%') >= 0 {
		return true
	}
	return strings.Contains(p, "/.") || p == "."
}

func decodeUnreserved(p string) string {
	var b strings.Builder
	b.Grow(len(p))
	for i := 0; i < len(p); i++ {
		if p[i] != '%' || i+2 >= len(p) || !isHex(p[i+1]) || !isHex(p[i+2]) {
			b.WriteByte(p[i])
			continue
		}
		c := unhex(p[i+1])<<4 | unhex(p[i+2])
		if isUnreserved(c) {
			b.WriteByte(c)
		} else {
			b.WriteByte('%')
			b.WriteByte(upperHex(p[i+1]))
			b.WriteByte(upperHex(p[i+2]))
		}
		i += 2
	}
	return b.String()
}

// removeDotSegments implements RFC 3986 section 5.2.4 on an absolute path.
func removeDotSegments(p string) string {
	segs := strings.Split(p, "/")
	out := make([]string, 0, len(segs))
	for i, s := range segs {
		last := i == len(segs)-1
		switch s {
		case ".":
			if last {
				out = append(out, "")
			}
		case "..":
			if len(out) > 1 {
				out = out[:len(out)-1]
			}
			if last {
				out = append(out, "")
			}
		default:
			out = append(out, s)
		}
	}
	res := strings.Join(out, "/")
	if res == "" {
		return "/"
	}
	return res
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

func upperHex(c byte) byte {
	if c >= 'a' && c <= 'f' {
		return c - 'a' + 'A'
	}
	return c
}
