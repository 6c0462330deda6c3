package reach

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/ambient-egress/ambient-egress-operator/simulator"
	"github.com/ambient-egress/ambient-egress-operator/simulator/match"
)

// Cube is a set of requests: every condition holds. A condition absent from
// the cube means "any". Its JSON keys mirror Istio's AuthorizationPolicy
// vocabulary (methods, notMethods, paths, notPaths, hosts, notHosts,
// requestPrincipals, ipBlocks, remoteIpBlocks, headers, when), plus the
// policy and rule the cube comes from.
type Cube struct {
	// Policy is "namespace/name" of the rule's policy; empty when no policy
	// is involved (no ALLOW policy applies, or nothing enforces).
	Policy string
	// Rule is the rule index, -1 without a rule.
	Rule int
	lits cube
	// decoded holds the conditions of a cube read back from JSON, which
	// has their values but not the compiled matchers.
	decoded []shown
}

// Contains reports whether the request is in the cube, evaluated with the
// simulator's own matchers. A cube decoded from JSON has no matchers: it
// renders and encodes as the original did, and Contains reports false
// unless the cube is every request.
func (c Cube) Contains(r *simulator.Request) bool {
	if c.decoded != nil {
		return len(c.decoded) == 0
	}
	return c.lits.matches(r)
}

// Any reports whether the cube has no condition: every request.
func (c Cube) Any() bool { return len(c.lits) == 0 && len(c.decoded) == 0 }

// key identifies the cube's space and origin, for grouping and diffs.
func (c Cube) key() string {
	var b strings.Builder
	b.WriteString(c.Policy + "#" + strconv.Itoa(c.Rule))
	b.WriteString(c.spaceKey())
	return b.String()
}

// spaceKey identifies the cube's space alone.
func (c Cube) spaceKey() string {
	var b strings.Builder
	for _, l := range c.lits {
		b.WriteByte('|')
		if l.neg {
			b.WriteByte('!')
		}
		b.WriteString(l.a.id)
	}
	return b.String()
}

// fieldNames maps an attribute to its Istio field names, positive and
// negated, for the attributes a report names by their fields (the
// simulator's attribute table says which).
var fieldNames = func() map[string][2]string {
	out := map[string][2]string{}
	for _, f := range simulator.ReportFields() {
		out[f.Key] = [2]string{f.Field, f.NotField}
	}
	return out
}()

// headerPrefix starts the key of a header condition.
const headerPrefix = simulator.KeyRequestHeaders + "["

// headerValues is one header's constraint in a cube.
type headerValues struct {
	Values    []string `json:"values,omitempty"`
	NotValues []string `json:"notValues,omitempty"`
}

// condition is a when-style constraint for attributes without a field.
type condition struct {
	Key       string   `json:"key"`
	Values    []string `json:"values,omitempty"`
	NotValues []string `json:"notValues,omitempty"`
}

// shown is a literal as displayed: its values, after narrowing.
type shown struct {
	key  string
	neg  bool
	vals []string
}

// display lists the cube's literals for rendering. A positive condition of
// exact values with negated ones on the same attribute is narrowed to the
// values the negations leave (GET|POST except GET is POST), and the
// negations, then implied, are dropped: the set is the same, said simply.
func (c Cube) display() []shown {
	if c.decoded != nil {
		return c.decoded
	}
	var out []shown
	for start := 0; start < len(c.lits); {
		end := start
		for end < len(c.lits) && c.lits[end].a.key == c.lits[start].a.key {
			end++
		}
		out = append(out, displayKey(c.lits[start:end])...)
		start = end
	}
	return out
}

func displayKey(ls []lit) []shown {
	var pos, negs []*atomInfo
	for _, l := range ls {
		if l.neg {
			negs = append(negs, l.a)
		} else {
			pos = append(pos, l.a)
		}
	}
	if len(pos) == 1 && len(negs) > 0 && onlyExacts(pos[0]) {
		var vals []string
		for _, m := range pos[0].ms {
			if !anyAccepts(negs, m.Value) {
				vals = append(vals, m.String())
			}
		}
		return []shown{{key: pos[0].key, vals: vals}}
	}
	out := make([]shown, len(ls))
	for i, l := range ls {
		out[i] = shown{key: l.a.key, neg: l.neg, vals: l.a.atom.Values()}
	}
	return out
}

func onlyExacts(a *atomInfo) bool {
	if !a.patterned || len(a.tpls) > 0 {
		return false
	}
	for _, m := range a.ms {
		if m.Kind != match.Exact {
			return false
		}
	}
	return true
}

// fields renders the cube as Istio fields. Negated values of one attribute
// are merged (NOT a AND NOT b is notValues [a, b]); a second positive
// constraint on one attribute, which a single field cannot say, goes to
// "and".
func (c Cube) fields() map[string]any {
	m := map[string]any{}
	headers := map[string]*headerValues{}
	var when []condition
	var and []map[string]any
	for _, l := range c.display() {
		if name, ok := strings.CutPrefix(l.key, headerPrefix); ok {
			h := headers[strings.TrimSuffix(name, "]")]
			if h == nil {
				h = &headerValues{}
				headers[strings.TrimSuffix(name, "]")] = h
			}
			addValues(&h.Values, &h.NotValues, l.vals, l.neg, &and, l.key)
			continue
		}
		names, ok := fieldNames[l.key]
		if !ok {
			when = appendCondition(when, l.key, l.vals, l.neg)
			continue
		}
		putField(m, names, l.vals, l.neg, &and)
	}
	if len(headers) > 0 {
		m["headers"] = headers
	}
	if len(when) > 0 {
		m["when"] = when
	}
	if len(and) > 0 {
		m["and"] = and
	}
	return m
}

func putField(m map[string]any, names [2]string, vals []string, neg bool, and *[]map[string]any) {
	name := names[0]
	if neg {
		name = names[1]
	}
	prev, ok := m[name].([]string)
	switch {
	case !ok:
		m[name] = vals
	case neg:
		m[name] = append(append([]string(nil), prev...), vals...)
	default:
		*and = append(*and, map[string]any{name: vals})
	}
}

func addValues(pos, neg *[]string, vals []string, isNeg bool, and *[]map[string]any, key string) {
	switch {
	case isNeg:
		*neg = append(*neg, vals...)
	case *pos == nil:
		*pos = vals
	default:
		*and = append(*and, map[string]any{"when": []condition{{Key: key, Values: vals}}})
	}
}

func appendCondition(when []condition, key string, vals []string, neg bool) []condition {
	for i := range when {
		if when[i].Key == key && neg {
			when[i].NotValues = append(when[i].NotValues, vals...)
			return when
		}
	}
	c := condition{Key: key}
	if neg {
		c.NotValues = vals
	} else {
		c.Values = vals
	}
	return append(when, c)
}

// MarshalJSON renders the cube with sorted keys.
func (c Cube) MarshalJSON() ([]byte, error) {
	m := c.fields()
	if c.Policy != "" {
		m["policy"] = c.Policy
	}
	m["rule"] = c.Rule
	data, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode cube: %w", err)
	}
	return data, nil
}

// UnmarshalJSON reads a cube MarshalJSON wrote, as egressctl report does
// with the report in an EgressGateway's status or ConfigMap. The result
// renders and encodes like the original (see Contains for its limit).
func (c *Cube) UnmarshalJSON(data []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return fmt.Errorf("decode cube: %w", err)
	}
	out := Cube{Rule: -1, decoded: []shown{}}
	byName := map[string]shown{}
	for key, names := range fieldNames {
		byName[names[0]] = shown{key: key}
		byName[names[1]] = shown{key: key, neg: true}
	}
	for name, v := range raw {
		var err error
		switch name {
		case "policy":
			err = json.Unmarshal(v, &out.Policy)
		case "rule":
			err = json.Unmarshal(v, &out.Rule)
		case "headers":
			var hs map[string]headerValues
			if err = json.Unmarshal(v, &hs); err == nil {
				for h, hv := range hs {
					if out.decoded, err = appendShown(out.decoded, headerPrefix+h+"]", hv.Values, hv.NotValues); err != nil {
						break
					}
				}
			}
		case "when":
			var conds []condition
			if err = json.Unmarshal(v, &conds); err == nil {
				for _, cd := range conds {
					if out.decoded, err = appendShown(out.decoded, cd.Key, cd.Values, cd.NotValues); err != nil {
						break
					}
				}
			}
		case "and":
			var more []Cube
			if err = json.Unmarshal(v, &more); err == nil {
				for _, m := range more {
					out.decoded = append(out.decoded, m.decoded...)
				}
			}
		default:
			sh, ok := byName[name]
			if !ok {
				return fmt.Errorf("decode cube: unknown condition %q", name)
			}
			if err = json.Unmarshal(v, &sh.vals); err == nil && len(sh.vals) == 0 {
				err = errors.New("no values")
			}
			out.decoded = append(out.decoded, sh)
		}
		if err != nil {
			return fmt.Errorf("decode cube %s: %w", name, err)
		}
	}
	// The order of a built cube: by attribute, positive before negated.
	sort.SliceStable(out.decoded, func(i, j int) bool {
		a, b := out.decoded[i], out.decoded[j]
		if a.key != b.key {
			return a.key < b.key
		}
		return !a.neg && b.neg
	})
	*c = out
	return nil
}

// appendShown adds a condition's values and negated values; a condition
// needs a key and some values, as MarshalJSON writes it.
func appendShown(out []shown, key string, vals, notVals []string) ([]shown, error) {
	if key == "" || key == headerPrefix+"]" || len(vals)+len(notVals) == 0 {
		return out, fmt.Errorf("condition %q has no key or no values", key)
	}
	if len(vals) > 0 {
		out = append(out, shown{key: key, vals: vals})
	}
	if len(notVals) > 0 {
		out = append(out, shown{key: key, neg: true, vals: notVals})
	}
	return out, nil
}

// Text renders the cube for people: "GET /get", "any method, any path
// except /admin/*", "any request".
func (c Cube) Text() string {
	if c.Any() {
		return "any request"
	}
	var method, path string
	var rest []string
	for _, l := range c.display() {
		switch {
		case l.key == simulator.AtomMethods && method == "":
			method = litText(l)
		case l.key == simulator.AtomPaths && path == "":
			path = litText(l)
		default:
			rest = append(rest, litText(l))
		}
	}
	var head string
	switch {
	case method == "" && path == "":
	case method != "" && path != "" && !strings.HasPrefix(method, "any") && !strings.HasPrefix(path, "any"):
		head = method + " " + path
	case method == "":
		head = "any method, " + path
	case path == "":
		head = method + ", any path"
	default:
		head = method + ", " + path
	}
	if head != "" {
		rest = append([]string{head}, rest...)
	}
	return strings.Join(rest, ", ")
}

func litText(l shown) string {
	vals := strings.Join(l.vals, "|")
	label := simulator.AttributeLabel(l.key)
	switch {
	case l.neg:
		return "any " + label + " except " + vals
	case l.key == simulator.AtomMethods || l.key == simulator.AtomPaths:
		return vals
	}
	return label + " " + vals
}
