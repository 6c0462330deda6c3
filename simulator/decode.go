package simulator

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// manifestExtensions are the file names a directory walk reads, the set
// kubectl apply -f DIR reads.
var manifestExtensions = map[string]bool{".yaml": true, ".yml": true, ".json": true}

// LoadOptions say how strictly manifests are read.
type LoadOptions struct {
	// IgnoreUnknown turns a document of an unknown group, version or kind,
	// or one that is not a Kubernetes object, from an error into a warning
	// (which reports show as a SimulatorWarning finding). By default they
	// are errors: a typo in a kind would otherwise silently drop a policy.
	IgnoreUnknown bool
	// Admitted says the objects come from an API server, which validated
	// them against their CRDs already: the loader then skips that
	// validation, the costliest part of reading an object.
	Admitted bool
	// Istio is the istiod the manifests are for: which destinations the
	// operator may render, and what the waypoint does with wildcard ones.
	Istio Istio
}

// NewSnapshot returns an empty snapshot that AddYAML fills as opts say.
func NewSnapshot(opts LoadOptions) *Snapshot { return &Snapshot{opts: opts} }

// Source is one manifest stream: a file's contents or standard input's.
type Source struct {
	// Name is the file name used in issues ("<stdin>" for standard input).
	Name string
	Data []byte
}

// StdinName names standard input in issues.
const StdinName = "<stdin>"

// ReadSources reads the manifests at paths: files, directories (their .yaml,
// .yml and .json files in lexical order, as kubectl apply -f DIR reads
// them) and "-" for stdin, read once. A directory without manifests is an
// error, as kubectl's.
func ReadSources(stdin io.Reader, paths ...string) ([]Source, error) {
	var out []Source
	readStdin := false
	for _, p := range paths {
		if p == "-" {
			if readStdin {
				continue
			}
			readStdin = true
			data, err := io.ReadAll(stdin)
			if err != nil {
				return nil, fmt.Errorf("read %s: %w", StdinName, err)
			}
			out = append(out, Source{Name: StdinName, Data: data})
			continue
		}
		files, err := manifestFiles(p)
		if err != nil {
			return nil, err
		}
		if len(files) == 0 {
			return nil, fmt.Errorf("%s: no .yaml, .yml or .json file in the directory", p)
		}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				return nil, fmt.Errorf("read %s: %w", f, err)
			}
			out = append(out, Source{Name: f, Data: data})
		}
	}
	return out, nil
}

// LoadSources reads every object of the sources, in order, like consecutive
// kubectl apply runs: when the same object appears twice the later one wins.
// Malformed YAML (duplicate keys included) is an error naming the file,
// line and document; so is input that holds no object at all. Objects Istio
// would reject, and unknown kinds unless opts.IgnoreUnknown, are returned as
// error-severity Issues beside the snapshot.
func LoadSources(opts LoadOptions, sources []Source) (*Snapshot, Issues, error) {
	s := &Snapshot{opts: opts}
	var issues Issues
	for _, src := range sources {
		found, err := s.AddYAML(src.Name, src.Data)
		issues = append(issues, found...)
		if err != nil {
			return nil, issues, err
		}
	}
	if s.documents == 0 {
		names := make([]string, len(sources))
		for i, src := range sources {
			names[i] = src.Name
		}
		return nil, issues, fmt.Errorf("no objects in the input (%s): nothing to simulate", strings.Join(names, ", "))
	}
	return s, issues, nil
}

// Load is ReadSources (stdin for "-") then strict LoadSources.
func Load(paths ...string) (*Snapshot, Issues, error) {
	sources, err := ReadSources(os.Stdin, paths...)
	if err != nil {
		return nil, nil, err
	}
	return LoadSources(LoadOptions{}, sources)
}

// Parse reads one manifest stream strictly; name is used in findings. Unlike
// LoadSources it accepts a stream without objects.
func Parse(name string, data []byte) (*Snapshot, Issues, error) {
	s := &Snapshot{}
	issues, err := s.AddYAML(name, data)
	if err != nil {
		return nil, issues, err
	}
	return s, issues, nil
}

func manifestFiles(path string) ([]string, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if !info.IsDir() {
		return []string{path}, nil
	}
	var files []string
	err = filepath.WalkDir(path, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && manifestExtensions[strings.ToLower(filepath.Ext(p))] {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("walk %s: %w", path, err)
	}
	sort.Strings(files)
	return files, nil
}

// AddYAML adds every object of a multi-document YAML (or JSON) stream to the
// snapshot. A document that is not valid YAML, or repeats a key (which
// kubectl refuses), stops the stream with an error naming the file, line
// and document; an object that is valid YAML but not a valid object becomes
// an error-severity Issue and is skipped.
func (s *Snapshot) AddYAML(name string, data []byte) (Issues, error) {
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	lines := documentLines(data)
	var chunks [][]byte
	for {
		chunk, err := reader.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			doc := len(chunks) + 1
			return nil, fmt.Errorf("%s:%d: document %d: %w", name, lineOf(lines, doc), doc, err)
		}
		chunks = append(chunks, chunk)
	}
	// Converting and validating documents is most of the cost of reading
	// them and each stands alone, so it runs on every core; the snapshot
	// is then filled in document order, as "later wins" needs.
	docs := make([]parsedDoc, len(chunks))
	parallel(len(chunks), func(i int) { docs[i] = s.parse(chunks[i]) })
	var issues Issues
	for i, d := range docs {
		doc := i + 1
		pos := fmt.Sprintf("%s:%d: document %d", name, lineOf(lines, doc), doc)
		switch {
		case d.err != nil:
			return issues, fmt.Errorf("%s: malformed YAML: %w", pos, d.err)
		case d.empty:
			continue
		}
		s.documents++
		issues = append(issues, s.addJSON(name, lineOf(lines, doc), doc, d)...)
	}
	return issues, nil
}

// AddJSON adds one object (or List) encoded as JSON, as AddYAML would: for
// callers that hold objects rather than manifests, it skips the YAML reader.
func (s *Snapshot) AddJSON(name string, js []byte) Issues {
	if isEmptyDocument(js) {
		return nil
	}
	s.documents++
	return s.addJSON(name, 1, 1, s.parseJSON(js))
}

// parsedDoc is one document converted to JSON and read as an object, with
// what validating it against its CRD found.
type parsedDoc struct {
	js         []byte
	empty      bool
	err        error // the YAML does not parse
	raw        rawObject
	rawErr     error // the JSON is not an object
	schemaErrs []schemaError
}

// parse converts one document and reads it as parseJSON does.
func (s *Snapshot) parse(chunk []byte) parsedDoc {
	js, err := yaml.YAMLToJSONStrict(chunk)
	if err != nil {
		return parsedDoc{err: err}
	}
	if isEmptyDocument(js) {
		return parsedDoc{empty: true}
	}
	return s.parseJSON(js)
}

// parseJSON reads an object's envelope and, unless the objects were
// admitted by an API server already, validates it against its kind's
// embedded CRD. It reads nothing but the document, so documents are parsed
// on every core.
func (s *Snapshot) parseJSON(js []byte) parsedDoc {
	d := parsedDoc{js: js}
	if d.rawErr = json.Unmarshal(js, &d.raw); d.rawErr == nil && !s.opts.Admitted {
		d.schemaErrs = schemaErrorsOf(d.raw.APIVersion, d.raw.Kind, js)
	}
	return d
}

// parallel runs f(0..n-1) on GOMAXPROCS goroutines.
func parallel(n int, f func(int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	if workers <= 1 {
		for i := range n {
			f(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				f(i)
			}
		})
	}
	wg.Wait()
}

// documentLines lists the line each document of a stream starts on: the
// first line, and the line after each "---" separator, as the YAML reader
// splits them.
func documentLines(data []byte) []int {
	out := []int{1}
	line := 0
	for l := range bytes.SplitSeq(data, []byte("\n")) {
		line++
		if bytes.HasPrefix(l, []byte("---")) && (len(l) == 3 || l[3] == ' ' || l[3] == '\t' || l[3] == '\r') && line > 1 {
			out = append(out, line+1)
		}
	}
	return out
}

func lineOf(lines []int, doc int) int {
	if doc-1 < len(lines) {
		return lines[doc-1]
	}
	return lines[len(lines)-1]
}

func isEmptyDocument(js []byte) bool {
	t := bytes.TrimSpace(js)
	return len(t) == 0 || bytes.Equal(t, []byte("null"))
}

// rawObject is the envelope every Kubernetes object shares.
type rawObject struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Metadata   metav1.ObjectMeta `json:"metadata"`
	Spec       json.RawMessage   `json:"spec"`
	Status     json.RawMessage   `json:"status"`
	Items      []json.RawMessage `json:"items"`
}

func (s *Snapshot) addJSON(file string, line, doc int, d parsedDoc) Issues {
	at := Origin{File: file, Line: line}
	raw, schemaErrs := d.raw, d.schemaErrs
	if d.rawErr != nil {
		return Issues{{Severity: SeverityError, File: file, Line: line, Field: fmt.Sprintf("document %d", doc),
			Message: fmt.Sprintf("not a Kubernetes object: %v", d.rawErr)}}
	}
	if raw.Kind == "" || raw.APIVersion == "" {
		missing := "apiVersion and kind"
		switch {
		case raw.Kind != "":
			missing = "apiVersion"
		case raw.APIVersion != "":
			missing = "kind"
		}
		return s.unknown(at, fmt.Sprintf("document %d", doc), "not a Kubernetes object: "+missing+" missing")
	}
	if why := checkKnown(raw.APIVersion, raw.Kind); why != "" {
		o := at
		o.Kind, o.Namespace, o.Name = raw.Kind, raw.Metadata.Namespace, raw.Metadata.Name
		return s.unknown(o, fmt.Sprintf("document %d", doc), why)
	}
	if len(schemaErrs) > 0 {
		o := at
		o.Kind, o.Namespace, o.Name = raw.Kind, raw.Metadata.Namespace, raw.Metadata.Name
		return schemaIssues(o, schemaErrs)
	}
	if strings.HasSuffix(raw.Kind, "List") && raw.Items != nil {
		var issues Issues
		for _, item := range raw.Items {
			issues = append(issues, s.addJSON(file, line, doc, s.parseJSON(item))...)
		}
		return issues
	}
	return s.addObject(file, line, &raw)
}

// unknown reports a document the simulator cannot take part: an error, or
// a warning when the user asked to ignore such documents.
func (s *Snapshot) unknown(o Origin, field, why string) Issues {
	if s.opts.IgnoreUnknown {
		return Issues{{Severity: SeverityWarning, File: o.File, Line: o.Line, Object: o.Object(), Field: field,
			Message: why + "; ignored (--ignore-unknown): it takes no part in the report"}}
	}
	return Issues{{Severity: SeverityError, File: o.File, Line: o.Line, Object: o.Object(), Field: field,
		Message: why + "; fix it, or pass --ignore-unknown to leave such documents out"}}
}

func (s *Snapshot) addObject(file string, line int, raw *rawObject) Issues {
	group, _, _ := strings.Cut(raw.APIVersion, "/")
	if !strings.Contains(raw.APIVersion, "/") {
		group = ""
	}
	dec, ok := decoders[groupKind{group, raw.Kind}]
	o := Origin{File: file, Line: line, Kind: raw.Kind, Namespace: raw.Metadata.Namespace, Name: raw.Metadata.Name}
	if !ok {
		return Issues{{Severity: SeverityInfo, File: file, Line: line, Object: o.Object(),
			Message: fmt.Sprintf("kind %s (%s) is not used by the simulator; ignored", raw.Kind, raw.APIVersion)}}
	}
	if o.Name == "" {
		return Issues{{Severity: SeverityError, File: file, Line: line, Object: raw.Kind, Field: "metadata.name",
			Message: "metadata.name is required"}}
	}
	if dec.namespaced && o.Namespace == "" {
		// kubectl apply puts an object without a namespace into the
		// current context's namespace; "default" is the usual one.
		o.Namespace = "default"
	}
	if !dec.namespaced {
		o.Namespace = ""
	}
	meta := Meta{Origin: o, Labels: raw.Metadata.Labels, Annotations: raw.Metadata.Annotations, Created: raw.Metadata.CreationTimestamp.Time}
	decode := dec.decode
	if dec.withStatus != nil {
		decode = func(s *Snapshot, m Meta, spec json.RawMessage) error { return dec.withStatus(s, m, spec, raw.Status) }
	}
	if err := decode(s, meta, raw.Spec); err != nil {
		return Issues{{Severity: SeverityError, File: file, Line: line, Object: o.Object(), Field: "spec", Message: err.Error()}}
	}
	return nil
}
