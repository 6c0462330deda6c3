package simulator

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/listtype"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/apimachinery/pkg/util/validation"
	fieldpath "k8s.io/apimachinery/pkg/util/validation/field"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"k8s.io/kube-openapi/pkg/validation/strfmt"
	"k8s.io/kube-openapi/pkg/validation/validate"
	"sigs.k8s.io/yaml"

	"github.com/ambient-egress/ambient-egress-operator/config/crd"
)

// crdValidator validates an EgressGateway as the API server does on create:
// unknown fields refused (kubectl's default strict field validation),
// defaults applied, then the CRD's OpenAPI schema and its CEL rules, with
// the Kubernetes apiextensions libraries themselves, not a copy of the rules.
type crdValidator struct {
	structural *structuralschema.Structural
	schema     apiservervalidation.SchemaCreateValidator
	cel        *cel.Validator
}

// crdValidators holds, by "group/version/kind", the validators of the
// embedded CRDs. The schemas are read once; each version's validator is
// built on first use (CEL compilation takes a while), each under its own
// once, so documents of different kinds do not wait for each other.
var crdValidators struct {
	once    sync.Once
	defs    map[string]*crdSource
	loadErr error
}

// crdSource is one CRD version's schema and, once built, its validator.
type crdSource struct {
	props *apiextensionsv1.JSONSchemaProps
	once  sync.Once
	val   *crdValidator
	err   error
}

func loadCRDs() {
	v := &crdValidators
	v.once.Do(func() {
		v.defs = map[string]*crdSource{}
		for _, data := range [][]byte{crd.EgressGateway, crd.Istio} {
			v.loadErr = errors.Join(v.loadErr, addCRDs(v.defs, data))
		}
	})
}

// validatorFor returns the validator of group/version/kind, or nil when no
// embedded CRD defines it.
func validatorFor(group, version, kind string) (*crdValidator, error) {
	loadCRDs()
	if err := crdValidators.loadErr; err != nil {
		return nil, err
	}
	src, ok := crdValidators.defs[group+"/"+version+"/"+kind]
	if !ok {
		return nil, nil
	}
	return src.build()
}

func (src *crdSource) build() (*crdValidator, error) {
	src.once.Do(func() { src.val, src.err = newCRDValidator(src.props) })
	return src.val, src.err
}

// addCRDs records the schema of every version of every CRD in data.
func addCRDs(defs map[string]*crdSource, data []byte) error {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for {
		chunk, err := r.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("embedded CRDs: %w", err)
		}
		var def apiextensionsv1.CustomResourceDefinition
		if err := yaml.Unmarshal(chunk, &def); err != nil {
			return fmt.Errorf("embedded CRDs: %w", err)
		}
		for _, ver := range def.Spec.Versions {
			if ver.Served && ver.Schema != nil && ver.Schema.OpenAPIV3Schema != nil {
				defs[def.Spec.Group+"/"+ver.Name+"/"+def.Spec.Names.Kind] = &crdSource{props: ver.Schema.OpenAPIV3Schema}
			}
		}
	}
}

func newCRDValidator(in *apiextensionsv1.JSONSchemaProps) (*crdValidator, error) {
	var props apiextensions.JSONSchemaProps
	if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(in, &props, nil); err != nil {
		return nil, fmt.Errorf("embedded CRD: %w", err)
	}
	s, err := structuralschema.NewStructural(&props)
	if err != nil {
		return nil, fmt.Errorf("embedded CRD: %w", err)
	}
	_, openapi, err := apiservervalidation.NewSchemaValidator(&props)
	if err != nil {
		return nil, fmt.Errorf("embedded CRD: %w", err)
	}
	// A create has no old object to ratchet against, so the plain
	// validator is what the API server applies; built once here, as the
	// ratcheting one builds a new validator for every object.
	sv := createValidator{validate.NewSchemaValidator(openapi, nil, "", strfmt.Default)}
	return &crdValidator{structural: s, schema: sv, cel: cel.NewValidator(s, true, celconfig.PerCallLimit)}, nil
}

// createValidator validates objects as created, with one schema validator.
type createValidator struct{ v *validate.SchemaValidator }

func (c createValidator) Validate(value any, _ ...apiservervalidation.ValidationOption) *validate.Result {
	return c.v.Validate(value)
}

// validate checks one object (decoded from JSON) and returns what the API
// server would refuse; obj is defaulted in place.
func (v *crdValidator) validate(obj map[string]any) fieldpath.ErrorList {
	var errs fieldpath.ErrorList
	if meta, ok := obj["metadata"].(map[string]any); ok {
		if name, ok := meta["name"].(string); ok && name != "" {
			for _, msg := range validation.IsDNS1123Subdomain(name) {
				errs = append(errs, fieldpath.Invalid(fieldpath.NewPath("metadata", "name"), name, msg))
			}
		}
	}
	for _, path := range pruning.PruneWithOptions(obj, v.structural, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true}) {
		errs = append(errs, fieldpath.Forbidden(fieldpath.NewPath(path), "unknown field (kubectl refuses it; check the spelling and the apiVersion)"))
	}
	if len(errs) > 0 {
		return errs
	}
	defaulting.Default(obj, v.structural)
	errs = append(errs, apiservervalidation.ValidateCustomResource(nil, obj, v.schema)...)
	errs = append(errs, listtype.ValidateListSetsAndMaps(nil, v.structural, obj)...)
	celErrs, _ := v.cel.Validate(context.Background(), nil, v.structural, obj, nil, celconfig.RuntimeCELCostBudget)
	return append(errs, celErrs...)
}

// schemaError is one objection of the API server to an object: a field
// and what is wrong with it.
type schemaError struct{ field, message string }

// schemaErrorsOf returns the API server's objections to an object, whose
// apiVersion and kind were read from js already, of a kind with an embedded
// CRD (EgressGateway, and the Istio kinds the simulator reads). Other kinds,
// and documents that are not objects (which the loader reports itself),
// pass.
func schemaErrorsOf(apiVersion, kind string, js []byte) []schemaError {
	if kind == "" || checkKnown(apiVersion, kind) != "" {
		return nil
	}
	group, version, found := strings.Cut(apiVersion, "/")
	if !found {
		return nil // the core group: no CRD
	}
	v, err := validatorFor(group, version, kind)
	if err != nil {
		return []schemaError{{message: err.Error()}}
	}
	if v == nil {
		return nil
	}
	// Numbers as the API server reads them: integers as int64, which the
	// CEL rules compare with integer literals.
	var obj map[string]any
	if err := utiljson.Unmarshal(js, &obj); err != nil {
		return []schemaError{{message: err.Error()}}
	}
	var out []schemaError
	for _, e := range v.validate(obj) {
		out = append(out, schemaError{field: e.Field, message: e.ErrorBody()})
	}
	return out
}

// schemaIssues turns the objections into error issues naming each field;
// such an object takes no part, as it could not exist in a cluster.
func schemaIssues(o Origin, errs []schemaError) Issues {
	out := make(Issues, 0, len(errs))
	for _, e := range errs {
		out = append(out, Issue{Severity: SeverityError, File: o.File, Line: o.Line, Object: o.Object(), Field: e.field,
			Message: e.message + " (the API server refuses this " + o.Kind + ")"})
	}
	return out
}
