package simulator

import (
	"fmt"
	"slices"
	"strings"

	typev1beta1 "istio.io/api/type/v1beta1"
)

// A waypoint validates JWTs only as the RequestAuthentications attached to
// it say, attached exactly as AuthorizationPolicies are: targetRefs to its
// Gateway, to the ServiceEntry or Service it serves, or, from the root
// namespace, to the istio-waypoint GatewayClass; a selector or no target at
// all does not reach a waypoint (pilot/pkg/model/policyattachment.go,
// ShouldAttachPolicy: "waypoints never use selector"). istiod turns their
// jwtRules into one Envoy jwt_authn filter that requires, per provider, a
// valid token or none (pilot/pkg/security/authn/policy_applier.go,
// convertToEnvoyJwtConfig, "allow_missing"): a request without a token
// passes with no request.auth.* attributes; one whose token's issuer no
// rule names, or whose audience a rule with audiences does not accept, is
// refused with 401 before authorization (Envoy jwt_authn: JwtUnknownIssuer,
// JwtAudienceNotAllowed). Without any RequestAuthentication there is no
// jwt_authn filter: a token is never validated, and request.auth.*
// conditions never match.

// jwtPolicy is a RequestAuthentication as a waypoint applies it.
type jwtPolicy struct {
	key    string
	origin Origin
	rules  []jwtRule
}

// jwtRule is one jwtRules entry: its issuer and accepted audiences.
type jwtRule struct {
	issuer    string
	audiences []string
}

// compileRequestAuthentications files every RequestAuthentication with
// targetRefs under what it targets.
func (c *compiler) compileRequestAuthentications() {
	c.prog.jwt = newTargetIndex[*jwtPolicy]()
	ras := append([]*RequestAuthentication(nil), c.snap.RequestAuthentications...)
	sortByOrigin(ras, func(r *RequestAuthentication) Origin { return r.Origin })
	for _, ra := range ras {
		jp := &jwtPolicy{key: ra.Namespace + "/" + ra.Name, origin: ra.Origin}
		for _, r := range ra.Spec.GetJwtRules() {
			jp.rules = append(jp.rules, jwtRule{issuer: r.GetIssuer(), audiences: r.GetAudiences()})
		}
		refs := ra.Spec.GetTargetRefs()
		if r := ra.Spec.GetTargetRef(); len(refs) == 0 && r != nil {
			refs = []*typev1beta1.PolicyTargetReference{r}
		}
		if len(refs) == 0 {
			c.issues.add(SeverityInfo, ra.Origin, "spec.targetRefs",
				"no targetRefs: waypoints ignore this RequestAuthentication (they validate JWTs only for RequestAuthentications "+
					"targeting their Gateway, a ServiceEntry or Service they serve, or, from the root namespace, the istio-waypoint GatewayClass)")
			continue
		}
		for _, t := range c.waypointTargets(ra.Namespace, refs) {
			c.prog.jwt.file(t, jp)
		}
	}
}

// jwtPoliciesFor lists the RequestAuthentications a waypoint applies to a
// destination's traffic.
func (p *Program) jwtPoliciesFor(w *waypoint, d *destination) []*jwtPolicy {
	var out []*jwtPolicy
	for _, list := range [][]*jwtPolicy{p.jwt.waypointClass, p.jwt.byGateway[w.key()], p.jwt.byDestination[d.key()]} {
		for _, jp := range list {
			if !slices.Contains(out, jp) {
				out = append(out, jp)
			}
		}
	}
	return out
}

// checkJWT applies the waypoint's JWT validation to a request carrying a
// token: it returns why the request is refused (401), or "" when it goes on
// to authorization; a token nothing validates is dropped from the view.
func checkJWT(v *view, pols []*jwtPolicy) (refused string, note string) {
	if !v.hasJWT {
		return "", ""
	}
	if len(pols) == 0 {
		v.hasJWT, v.jwtIss, v.jwtSub = false, "", ""
		return "", "no RequestAuthentication applies here, so the waypoint validates no JWT: the token is ignored and request.auth.* attributes are empty"
	}
	iss := v.jwtIss
	if claim, ok := v.r.Claims["iss"].(string); ok && claim != "" {
		iss = claim
	}
	var issuers []string
	for _, jp := range pols {
		for _, r := range jp.rules {
			issuers = append(issuers, r.issuer)
			if r.issuer != iss {
				continue
			}
			if len(r.audiences) == 0 || audienceAccepted(v.r.Claims["aud"], r.audiences) {
				return "", fmt.Sprintf("the JWT of issuer %s is validated by RequestAuthentication %s", iss, jp.key)
			}
		}
	}
	if slices.Contains(issuers, iss) {
		return fmt.Sprintf("JWT rejected with 401 before authorization: no RequestAuthentication rule for issuer %s accepts the token's audience", iss), ""
	}
	return fmt.Sprintf("JWT rejected with 401 before authorization: issuer %s is not among those the waypoint validates (%s)",
		iss, strings.Join(issuers, ", ")), ""
}

// audienceAccepted reports whether the aud claim (a string or a list) has
// one of the accepted audiences.
func audienceAccepted(aud any, accepted []string) bool {
	switch a := aud.(type) {
	case string:
		return slices.Contains(accepted, a)
	case []any:
		for _, x := range a {
			if s, ok := x.(string); ok && slices.Contains(accepted, s) {
				return true
			}
		}
	case []string:
		for _, s := range a {
			if slices.Contains(accepted, s) {
				return true
			}
		}
	}
	return false
}
