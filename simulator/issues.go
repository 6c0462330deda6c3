package simulator

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Severity ranks an Issue.
type Severity string

const (
	// SeverityError marks input Istio would reject at admission or that
	// cannot be read at all; the object does not take part in evaluation.
	SeverityError Severity = "error"
	// SeverityWarning marks configuration that is accepted but does not do
	// what it reads like, such as HTTP rules enforced where only L4 is seen.
	SeverityWarning Severity = "warning"
	// SeverityInfo marks notes: ignored kinds, dry-run policies, defaults.
	SeverityInfo Severity = "info"
)

// Issue is one finding about the inputs. Issues travel beside the result of
// Parse and Compile instead of failing them, as in cel-go and OPA.
type Issue struct {
	// Severity ranks the finding.
	Severity Severity `json:"severity"`
	// File is the manifest the object came from, when known; Line is the
	// line its document starts on.
	File string `json:"file,omitempty"`
	Line int    `json:"line,omitempty"`
	// Object names the object as "Kind namespace/name".
	Object string `json:"object,omitempty"`
	// Field is the path of the offending field, e.g.
	// "spec.rules[0].from[0].source.ipBlocks[1]".
	Field string `json:"field,omitempty"`
	// Message says what is wrong and, when possible, what to change.
	Message string `json:"message"`
}

// String renders the issue on one line: "file: object: field: message".
func (i Issue) String() string {
	parts := make([]string, 0, 5)
	parts = append(parts, string(i.Severity))
	file := i.File
	if file != "" && i.Line > 0 {
		file += ":" + strconv.Itoa(i.Line)
	}
	for _, s := range []string{file, i.Object, i.Field} {
		if s != "" {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, ": ") + ": " + i.Message
}

// Issues is a list of findings.
type Issues []Issue

// HasErrors reports whether any issue has error severity.
func (is Issues) HasErrors() bool {
	for _, i := range is {
		if i.Severity == SeverityError {
			return true
		}
	}
	return false
}

// Err joins the error-severity issues into one error, or returns nil.
func (is Issues) Err() error {
	var errs []error
	for _, i := range is {
		if i.Severity == SeverityError {
			errs = append(errs, errors.New(i.String()))
		}
	}
	return errors.Join(errs...)
}

// Filter returns the issues of the given severity.
func (is Issues) Filter(s Severity) Issues {
	var out Issues
	for _, i := range is {
		if i.Severity == s {
			out = append(out, i)
		}
	}
	return out
}

func (is *Issues) add(sev Severity, o Origin, field, format string, args ...any) {
	*is = append(*is, Issue{
		Severity: sev,
		File:     o.File,
		Line:     o.Line,
		Object:   o.Object(),
		Field:    field,
		Message:  fmt.Sprintf(format, args...),
	})
}
