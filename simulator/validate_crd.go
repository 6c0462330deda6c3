package simulator

import (
	"context"
	"fmt"
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
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"sigs.k8s.io/yaml"

	"github.com/ambient-egress/ambient-egress-operator/config/crd"
)

// crdValidator validates an EgressGateway as the API server does on create:
// unknown fields refused (kubectl's default strict field validation),
// defaults applied, then the CRD's OpenAPI schema and its CEL rules, with
// the Kubernetes apiextensions libraries themselves, not a copy of the rules.
type crdValidator struct {
	structural *structuralschema.Structural
	schema     apiservervalidation.SchemaValidator
	cel        *cel.Validator
}

var (
	egressCRDOnce sync.Once
	egressCRD     *crdValidator
	egressCRDErr  error
)

// egressGatewayValidator builds the validator of the embedded CRD once.
func egressGatewayValidator() (*crdValidator, error) {
	egressCRDOnce.Do(func() { egressCRD, egressCRDErr = newCRDValidator(crd.EgressGateway, "v1alpha1") })
	return egressCRD, egressCRDErr
}

func newCRDValidator(data []byte, version string) (*crdValidator, error) {
	var def apiextensionsv1.CustomResourceDefinition
	if err := yaml.Unmarshal(data, &def); err != nil {
		return nil, fmt.Errorf("embedded CRD: %w", err)
	}
	for _, v := range def.Spec.Versions {
		if v.Name != version || v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
			continue
		}
		var props apiextensions.JSONSchemaProps
		if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(v.Schema.OpenAPIV3Schema, &props, nil); err != nil {
			return nil, fmt.Errorf("embedded CRD %s: %w", version, err)
		}
		s, err := structuralschema.NewStructural(&props)
		if err != nil {
			return nil, fmt.Errorf("embedded CRD %s: %w", version, err)
		}
		sv, _, err := apiservervalidation.NewSchemaValidator(&props)
		if err != nil {
			return nil, fmt.Errorf("embedded CRD %s: %w", version, err)
		}
		return &crdValidator{structural: s, schema: sv, cel: cel.NewValidator(s, true, celconfig.PerCallLimit)}, nil
	}
	return nil, fmt.Errorf("embedded CRD has no schema for version %s", version)
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

// validateEgressGateway returns the API server's objections to an
// EgressGateway document as error issues naming each field; such a gateway
// takes no part, as it could not exist in a cluster.
func validateEgressGateway(o Origin, js []byte) Issues {
	v, err := egressGatewayValidator()
	if err != nil {
		return Issues{{Severity: SeverityError, File: o.File, Line: o.Line, Object: o.Object(), Message: err.Error()}}
	}
	// Numbers as the API server reads them: integers as int64, which the
	// CEL rules compare with integer literals.
	var obj map[string]any
	if err := utiljson.Unmarshal(js, &obj); err != nil {
		return Issues{{Severity: SeverityError, File: o.File, Line: o.Line, Object: o.Object(), Message: err.Error()}}
	}
	var out Issues
	for _, e := range v.validate(obj) {
		msg := e.ErrorBody()
		out = append(out, Issue{Severity: SeverityError, File: o.File, Line: o.Line, Object: o.Object(), Field: e.Field,
			Message: msg + " (the API server refuses this EgressGateway)"})
	}
	return out
}
