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
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// manifestExtensions are the file names a directory walk reads, the set
// kubectl apply -f DIR reads.
var manifestExtensions = map[string]bool{".yaml": true, ".yml": true, ".json": true}

// Load reads manifests from files and directories, in the order given and,
// inside a directory, in lexical order, like consecutive kubectl apply runs:
// when the same object appears twice the later one wins. Unreadable files and
// malformed YAML are errors; objects Istio would reject are returned as
// error-severity Issues beside the snapshot.
func Load(paths ...string) (*Snapshot, Issues, error) {
	s := &Snapshot{}
	var issues Issues
	for _, p := range paths {
		files, err := manifestFiles(p)
		if err != nil {
			return nil, issues, err
		}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				return nil, issues, fmt.Errorf("read %s: %w", f, err)
			}
			found, err := s.AddYAML(f, data)
			issues = append(issues, found...)
			if err != nil {
				return nil, issues, err
			}
		}
	}
	return s, issues, nil
}

// Parse reads one manifest stream; name is used in findings.
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
// snapshot. A document that is not valid YAML stops the stream with an
// error naming the file and document; an object that is valid YAML but not a
// valid object becomes an error-severity Issue and is skipped.
func (s *Snapshot) AddYAML(name string, data []byte) (Issues, error) {
	var issues Issues
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for doc := 1; ; doc++ {
		chunk, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return issues, nil
		}
		if err != nil {
			return issues, fmt.Errorf("%s: document %d: %w", name, doc, err)
		}
		js, err := yaml.YAMLToJSON(chunk)
		if err != nil {
			return issues, fmt.Errorf("%s: document %d: malformed YAML: %w", name, doc, err)
		}
		if isEmptyDocument(js) {
			continue
		}
		issues = append(issues, s.addJSON(name, doc, js)...)
	}
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
	Items      []json.RawMessage `json:"items"`
}

func (s *Snapshot) addJSON(file string, doc int, js []byte) Issues {
	var raw rawObject
	if err := json.Unmarshal(js, &raw); err != nil {
		return Issues{{Severity: SeverityError, File: file, Field: fmt.Sprintf("document %d", doc),
			Message: fmt.Sprintf("not a Kubernetes object: %v", err)}}
	}
	switch {
	case raw.Kind == "" && raw.APIVersion == "":
		// Not a Kubernetes object at all (e.g. a probe list kept beside the
		// manifests): note it and move on instead of failing the directory.
		return Issues{{Severity: SeverityInfo, File: file, Field: fmt.Sprintf("document %d", doc),
			Message: "not a Kubernetes object (no apiVersion or kind); ignored"}}
	case raw.Kind == "" || raw.APIVersion == "":
		return Issues{{Severity: SeverityError, File: file, Field: fmt.Sprintf("document %d", doc),
			Message: "apiVersion and kind are both required"}}
	}
	if strings.HasSuffix(raw.Kind, "List") && raw.Items != nil {
		var issues Issues
		for _, item := range raw.Items {
			issues = append(issues, s.addJSON(file, doc, item)...)
		}
		return issues
	}
	return s.addObject(file, &raw)
}

func (s *Snapshot) addObject(file string, raw *rawObject) Issues {
	group, _, _ := strings.Cut(raw.APIVersion, "/")
	if !strings.Contains(raw.APIVersion, "/") {
		group = ""
	}
	dec, ok := decoders[groupKind{group, raw.Kind}]
	o := Origin{File: file, Kind: raw.Kind, Namespace: raw.Metadata.Namespace, Name: raw.Metadata.Name}
	if !ok {
		return Issues{{Severity: SeverityInfo, File: file, Object: o.Object(),
			Message: fmt.Sprintf("kind %s (%s) is not used by the simulator; ignored", raw.Kind, raw.APIVersion)}}
	}
	if o.Name == "" {
		return Issues{{Severity: SeverityError, File: file, Object: raw.Kind, Field: "metadata.name",
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
	meta := Meta{Origin: o, Labels: raw.Metadata.Labels, Annotations: raw.Metadata.Annotations}
	if err := dec.decode(s, meta, raw.Spec); err != nil {
		return Issues{{Severity: SeverityError, File: file, Object: o.Object(), Field: "spec", Message: err.Error()}}
	}
	return nil
}
