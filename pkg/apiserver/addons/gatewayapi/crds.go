package gatewayapi

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/minaks/minaks/pkg/apiserver/apply"
)

// The managed Gateway API bundle AKS installs for Kubernetes 1.36 and later.
const (
	// BundleVersion is the Gateway API release of the embedded CRDs.
	BundleVersion = "v1.5.1"
	// Channel is the bundle's release channel; AKS installs no other.
	Channel = "standard"
	// Group is the Gateway API's API group.
	Group = "gateway.networking.k8s.io"

	// BundleVersionAnnotation and ChannelAnnotation are on every object of the bundle.
	BundleVersionAnnotation = Group + "/bundle-version"
	ChannelAnnotation       = Group + "/channel"
	// ManagedByAnnotation is the annotation AKS adds to the CRDs it manages
	// (`kubectl get crd gateways.gateway.networking.k8s.io -o jsonpath={.metadata.annotations}`),
	// with ManagedByAKS as its value.
	ManagedByAnnotation = "app.kubernetes.io/managed-by"
	ManagedByAKS        = "aks"

	// SafeUpgradesPolicy names the bundle's ValidatingAdmissionPolicy and its binding, which
	// deny experimental-channel CRDs over standard ones and bundles older than v1.5.0.
	SafeUpgradesPolicy = "safe-upgrades." + Group

	crdTimeout = time.Minute
)

// bundleFiles are the files of the standard channel in the order of the bundle's
// kustomization (config/crd/kustomization.yaml): the CRDs, then the safe-upgrades policy.
var bundleFiles = []string{
	"gateway.networking.k8s.io_gatewayclasses.yaml",
	"gateway.networking.k8s.io_gateways.yaml",
	"gateway.networking.k8s.io_grpcroutes.yaml",
	"gateway.networking.k8s.io_httproutes.yaml",
	"gateway.networking.k8s.io_referencegrants.yaml",
	"gateway.networking.k8s.io_backendtlspolicies.yaml",
	"gateway.networking.k8s.io_listenersets.yaml",
	"gateway.networking.k8s.io_tlsroutes.yaml",
	"gateway.networking.k8s.io_vap_safeupgrades.yaml",
}

// crdFiles holds the bundle's files exactly as the gateway-api module ships them.
//
//go:embed crds/*.yaml
var crdFiles embed.FS

// BundleObject is one object of the bundle: its kind, name and the manifest as JSON, kept as
// the files have it so that what is applied is the bundle's own text, not a typed round trip.
type BundleObject struct {
	Kind string
	Name string
	JSON []byte
}

// Bundle returns the objects of the standard-channel bundle in the order to apply them: the
// eight CustomResourceDefinitions (GatewayClass, Gateway, GRPCRoute, HTTPRoute, ReferenceGrant,
// BackendTLSPolicy, ListenerSet, TLSRoute), then the ValidatingAdmissionPolicy
// safe-upgrades.gateway.networking.k8s.io and its binding.
func Bundle() ([]BundleObject, error) {
	var out []BundleObject
	for _, file := range bundleFiles {
		data, err := crdFiles.ReadFile(path.Join("crds", file))
		if err != nil {
			return nil, fmt.Errorf("read Gateway API bundle file %s: %w", file, err)
		}
		dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
		for {
			var obj map[string]any
			if err := dec.Decode(&obj); err != nil {
				if errors.Is(err, io.EOF) {
					break
				}
				return nil, fmt.Errorf("decode Gateway API bundle file %s: %w", file, err)
			}
			if len(obj) == 0 {
				continue // an empty document
			}
			kind, _ := obj["kind"].(string)
			meta, _ := obj["metadata"].(map[string]any)
			name, _ := meta["name"].(string)
			if kind == "" || name == "" {
				return nil, fmt.Errorf("Gateway API bundle file %s: an object without kind or name", file)
			}
			js, err := json.Marshal(obj)
			if err != nil {
				return nil, fmt.Errorf("encode %s %s: %w", kind, name, err)
			}
			out = append(out, BundleObject{Kind: kind, Name: name, JSON: js})
		}
	}
	return out, nil
}

// CRDs returns the bundle's CustomResourceDefinitions, decoded.
func CRDs() ([]*apiextensionsv1.CustomResourceDefinition, error) {
	objs, err := Bundle()
	if err != nil {
		return nil, err
	}
	var crds []*apiextensionsv1.CustomResourceDefinition
	for _, o := range objs {
		if o.Kind != "CustomResourceDefinition" {
			continue
		}
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := json.Unmarshal(o.JSON, crd); err != nil {
			return nil, fmt.Errorf("decode CRD %s: %w", o.Name, err)
		}
		crds = append(crds, crd)
	}
	return crds, nil
}

// InstallCRDs is `az aks update --enable-gateway-api`: it refuses to go on when a Gateway API
// CRD of another channel is installed (AKS: "Experimental channel CRDs are disallowed, and you
// must uninstall them before enabling the Managed Gateway API"), then applies the bundle by
// server-side apply (field manager "minaks", forced) with AKS's managed-by annotation added,
// and waits until every CRD is Established. It is idempotent.
func InstallCRDs(ctx context.Context, ext apiextensionsclient.Interface, client kubernetes.Interface) error {
	objs, err := Bundle()
	if err != nil {
		return err
	}
	if err := checkChannels(ctx, ext); err != nil {
		return err
	}
	opts := metav1.PatchOptions{FieldManager: apply.FieldManager, Force: ptr.To(true)}
	var crdNames []string
	for _, o := range objs {
		data, err := withAnnotation(o.JSON, ManagedByAnnotation, ManagedByAKS)
		if err != nil {
			return fmt.Errorf("install Gateway API CRDs: %s %s: %w", o.Kind, o.Name, err)
		}
		switch o.Kind {
		case "CustomResourceDefinition":
			_, err = ext.ApiextensionsV1().CustomResourceDefinitions().Patch(ctx, o.Name, types.ApplyPatchType, data, opts)
			crdNames = append(crdNames, o.Name)
		case "ValidatingAdmissionPolicy":
			_, err = client.AdmissionregistrationV1().ValidatingAdmissionPolicies().Patch(ctx, o.Name, types.ApplyPatchType, data, opts)
		case "ValidatingAdmissionPolicyBinding":
			_, err = client.AdmissionregistrationV1().ValidatingAdmissionPolicyBindings().Patch(ctx, o.Name, types.ApplyPatchType, data, opts)
		default:
			err = fmt.Errorf("kind %s is not part of the bundle minaks knows", o.Kind)
		}
		if err != nil {
			return fmt.Errorf("install Gateway API CRDs: apply %s %s: %w", o.Kind, o.Name, err)
		}
	}
	for _, name := range crdNames {
		if err := apply.WaitEstablished(ctx, ext, name); err != nil {
			return fmt.Errorf("install Gateway API CRDs: %w", err)
		}
	}
	return nil
}

// checkChannels fails when a CRD of the Gateway API group is installed from another channel
// than the bundle's (or has no channel annotation), naming every such CRD.
func checkChannels(ctx context.Context, ext apiextensionsclient.Interface) error {
	list, err := ext.ApiextensionsV1().CustomResourceDefinitions().List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("install Gateway API CRDs: list CRDs: %w", err)
	}
	var errs []error
	for _, crd := range list.Items {
		if crd.Spec.Group != Group {
			continue
		}
		if ch := crd.Annotations[ChannelAnnotation]; ch != Channel {
			errs = append(errs, fmt.Errorf("CRD %s is of channel %q: only %s channel CRDs can be installed with the managed Gateway API; uninstall it first", crd.Name, ch, Channel))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("install Gateway API CRDs: %w", err)
	}
	return nil
}

// withAnnotation returns the JSON object data with metadata.annotations[key] = value.
func withAnnotation(data []byte, key, value string) ([]byte, error) {
	var obj map[string]any
	if err := json.Unmarshal(data, &obj); err != nil {
		return nil, err
	}
	meta, _ := obj["metadata"].(map[string]any)
	if meta == nil {
		meta = map[string]any{}
		obj["metadata"] = meta
	}
	ann, _ := meta["annotations"].(map[string]any)
	if ann == nil {
		ann = map[string]any{}
		meta["annotations"] = ann
	}
	ann[key] = value
	return json.Marshal(obj)
}

// UninstallCRDs is `az aks update --disable-gateway-api`, which uninstalls the managed CRDs:
// it deletes the safe-upgrades policy binding and policy and every CRD of the bundle (and with
// them every Gateway API object in the cluster), ignoring what is already gone, then waits
// until the CRDs have disappeared so that a new install does not meet them terminating.
func UninstallCRDs(ctx context.Context, ext apiextensionsclient.Interface, client kubernetes.Interface) error {
	objs, err := Bundle()
	if err != nil {
		return err
	}
	var errs []error
	var crdNames []string
	// The policy first, in reverse order of installation, so that nothing validates CRDs
	// against a half-removed bundle.
	for i := len(objs) - 1; i >= 0; i-- {
		o := objs[i]
		var err error
		switch o.Kind {
		case "ValidatingAdmissionPolicyBinding":
			err = client.AdmissionregistrationV1().ValidatingAdmissionPolicyBindings().Delete(ctx, o.Name, metav1.DeleteOptions{})
		case "ValidatingAdmissionPolicy":
			err = client.AdmissionregistrationV1().ValidatingAdmissionPolicies().Delete(ctx, o.Name, metav1.DeleteOptions{})
		case "CustomResourceDefinition":
			err = ext.ApiextensionsV1().CustomResourceDefinitions().Delete(ctx, o.Name, metav1.DeleteOptions{})
			crdNames = append(crdNames, o.Name)
		}
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("delete %s %s: %w", o.Kind, o.Name, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("uninstall Gateway API CRDs: %w", err)
	}
	for _, name := range crdNames {
		err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, crdTimeout, true, func(ctx context.Context) (bool, error) {
			_, err := ext.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return true, nil
			}
			return false, err
		})
		if err != nil {
			return fmt.Errorf("uninstall Gateway API CRDs: wait for CRD %s to be deleted: %w", name, err)
		}
	}
	return nil
}

// SafeUpgrades returns the bundle's ValidatingAdmissionPolicy and its binding, decoded.
func SafeUpgrades() (*admissionregistrationv1.ValidatingAdmissionPolicy, *admissionregistrationv1.ValidatingAdmissionPolicyBinding, error) {
	objs, err := Bundle()
	if err != nil {
		return nil, nil, err
	}
	var (
		policy  *admissionregistrationv1.ValidatingAdmissionPolicy
		binding *admissionregistrationv1.ValidatingAdmissionPolicyBinding
	)
	for _, o := range objs {
		var into runtime.Object
		switch o.Kind {
		case "ValidatingAdmissionPolicy":
			policy = &admissionregistrationv1.ValidatingAdmissionPolicy{}
			into = policy
		case "ValidatingAdmissionPolicyBinding":
			binding = &admissionregistrationv1.ValidatingAdmissionPolicyBinding{}
			into = binding
		default:
			continue
		}
		if err := json.Unmarshal(o.JSON, into); err != nil {
			return nil, nil, fmt.Errorf("decode %s %s: %w", o.Kind, o.Name, err)
		}
	}
	if policy == nil || binding == nil {
		return nil, nil, fmt.Errorf("the Gateway API bundle has no %s policy and binding", SafeUpgradesPolicy)
	}
	return policy, binding, nil
}
