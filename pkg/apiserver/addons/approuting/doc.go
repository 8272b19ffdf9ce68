// Package approuting is AKS's application routing add-on (managed NGINX ingress) as minaks runs
// it: the app routing operator that AKS runs, invisible, in its control plane for
// --enable-app-routing, here in the minaks daemon.
//
// The API is the operator's: the cluster-scoped CRD NginxIngressController
// (approuting.kubernetes.azure.com/v1alpha1, short name nic; CRD), and its object `default`
// for --app-routing-default-nginx-controller (DefaultController). Every NginxIngressController
// gets a set of objects (Objects), all named alike, in app-routing-system:
//
//	NginxIngressController default          (any other, e.g. name x, prefix p)
//	  IngressClass webapprouting.kubernetes.azure.com   IngressClass spec.ingressClassName
//	    controller webapprouting.kubernetes.azure.com/nginx   controller approuting.kubernetes.azure.com/x
//	  ServiceAccount, ClusterRole(+Binding), Role(+Binding), ConfigMap, Deployment, HPA (autoscaling/v1),
//	  PDB, Service (LoadBalancer, ETP Local) and Service <name>-metrics, named
//	    nginx                                    p-<status.collisionCount>
//
// owned by their NginxIngressController (controller reference), so that deleting it deletes
// them (the garbage collector; the operator deletes them too).
//
// Generating is pure (Objects, DefaultController, Status, Valid, Collides) and golden-tested
// against the operator's own fixtures; Operator applies it: it installs the CRD, keeps the
// default controller for its mode, server-side applies every controller's objects (field
// manager "minaks") whenever a controller or one of its objects changes or disappears, resolves
// name collisions as the operator does (a name taken by an object the controller does not own
// moves it to the next suffix, up to MaxCollisions; a taken IngressClass stops it), and writes
// each controller's status conditions with the operator's reasons and messages. Disable is
// `az aks approuting disable`.
//
// The controller image, mcr.microsoft.com/oss/kubernetes/ingress/nginx-ingress-controller, is
// one of minaks's built-in images: this package only says what runs, not how it serves.
package approuting
