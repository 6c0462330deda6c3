package main

import (
	"fmt"
	"maps"
	"slices"

	appsv1 "k8s.io/api/apps/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// kustomize builds dir and returns its objects in kustomize's order.
func kustomize(dir string) ([]*unstructured.Unstructured, error) {
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	m, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize %s: %w", dir, err)
	}
	var out []*unstructured.Unstructured
	for _, r := range m.Resources() {
		obj, err := r.Map()
		if err != nil {
			return nil, fmt.Errorf("kustomize %s: %w", dir, err)
		}
		out = append(out, &unstructured.Unstructured{Object: obj})
	}
	return out, nil
}

// parts is config/default sorted by where OLM wants each object: in the
// CSV's install strategy, or as a file of its own in bundle/manifests.
type parts struct {
	deployments        []appsv1.Deployment
	permissions        map[string][]rbacv1.PolicyRule // service account → namespaced rules
	clusterPermissions map[string][]rbacv1.PolicyRule // service account → cluster rules
	crds               []*unstructured.Unstructured
	others             []*unstructured.Unstructured // Services, unbound ClusterRoles
}

// split sorts objs into parts. Roles and ClusterRoles bound to the manager's
// ServiceAccount become CSV permissions (OLM creates and binds them); the
// Namespace and ServiceAccount are OLM's to create and are dropped.
func split(objs []*unstructured.Unstructured) (*parts, error) {
	p := &parts{permissions: map[string][]rbacv1.PolicyRule{}, clusterPermissions: map[string][]rbacv1.PolicyRule{}}
	roles := map[string][]rbacv1.PolicyRule{}
	clusterRoles := map[string]*unstructured.Unstructured{}
	var bindings []rbacv1.RoleBinding
	var clusterBindings []rbacv1.ClusterRoleBinding
	for _, u := range objs {
		var err error
		switch u.GetKind() {
		case "Namespace", "ServiceAccount":
		case "CustomResourceDefinition":
			p.crds = append(p.crds, u)
		case "Deployment":
			var d appsv1.Deployment
			err = fromUnstructured(u, &d)
			p.deployments = append(p.deployments, d)
		case "Role":
			var r rbacv1.Role
			err = fromUnstructured(u, &r)
			roles[r.Name] = r.Rules
		case "ClusterRole":
			clusterRoles[u.GetName()] = u
		case "RoleBinding":
			var b rbacv1.RoleBinding
			err = fromUnstructured(u, &b)
			bindings = append(bindings, b)
		case "ClusterRoleBinding":
			var b rbacv1.ClusterRoleBinding
			err = fromUnstructured(u, &b)
			clusterBindings = append(clusterBindings, b)
		default:
			u.SetNamespace("") // OLM installs namespaced objects in the operator's namespace
			p.others = append(p.others, u)
		}
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", u.GetKind(), u.GetName(), err)
		}
	}
	for _, b := range bindings {
		for _, s := range b.Subjects {
			p.permissions[s.Name] = append(p.permissions[s.Name], roles[b.RoleRef.Name]...)
		}
	}
	bound := map[string]bool{}
	for _, b := range clusterBindings {
		cr, ok := clusterRoles[b.RoleRef.Name]
		if !ok {
			return nil, fmt.Errorf("ClusterRoleBinding %s names missing ClusterRole %s", b.Name, b.RoleRef.Name)
		}
		var role rbacv1.ClusterRole
		if err := fromUnstructured(cr, &role); err != nil {
			return nil, err
		}
		bound[role.Name] = true
		for _, s := range b.Subjects {
			p.clusterPermissions[s.Name] = append(p.clusterPermissions[s.Name], role.Rules...)
		}
	}
	// A ClusterRole nobody binds (metrics-reader) is for users to bind: ship it.
	for _, name := range slices.Sorted(maps.Keys(clusterRoles)) {
		if !bound[name] {
			p.others = append(p.others, clusterRoles[name])
		}
	}
	return p, nil
}

func fromUnstructured(u *unstructured.Unstructured, into any) error {
	return runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, into)
}
