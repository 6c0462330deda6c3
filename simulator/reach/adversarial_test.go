package reach

import "github.com/ambient-egress/ambient-egress-operator/simulator/reach/scalegen"

var (
	adversarialShapes = scalegen.AdversarialShapes
	advMethods        = scalegen.AdvMethods
	advPaths          = scalegen.AdvPaths
	advHeaders        = scalegen.AdvHeaders
	advValues         = scalegen.AdvValues
)

// adversarialManifests is the seed's namespaces, a waypoint and the
// ServiceEntry httpbin.org with n adversarial policies of the given shape.
func adversarialManifests(shape string, n int, seed uint64) string {
	return advBase + scalegen.AdversarialPolicies(shape, "istio-egress", "httpbin.org", n, seed)
}

// seedCallers is the seed's ambient namespace default with its service
// accounts default and admin.
const seedCallers = `apiVersion: v1
kind: Namespace
metadata: {name: default, labels: {istio.io/dataplane-mode: ambient}}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: default, namespace: default}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: admin, namespace: default}
`

const advBase = seedCallers + `---
apiVersion: v1
kind: Namespace
metadata: {name: istio-egress, labels: {istio.io/use-waypoint: waypoint}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: waypoint, namespace: istio-egress, labels: {istio.io/waypoint-for: all}}
spec:
  gatewayClassName: istio-waypoint
  listeners: [{name: mesh, port: 15008, protocol: HBONE}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: httpbin.org, namespace: istio-egress}
spec:
  hosts: [httpbin.org]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: DNS
`
