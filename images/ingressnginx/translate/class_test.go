package translate

import (
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// TestIsOurs follows ingress-nginx's GetIngressClass and its IngressClass informer filter
// (internal/ingress/controller/store/store.go).
func TestIsOurs(t *testing.T) {
	classes := []*networkingv1.IngressClass{
		{ObjectMeta: metav1.ObjectMeta{Name: testClass}, Spec: networkingv1.IngressClassSpec{Controller: testController}},
		{ObjectMeta: metav1.ObjectMeta{Name: "nginx", Annotations: map[string]string{networkingv1.AnnotationIsDefaultIngressClass: "true"}},
			Spec: networkingv1.IngressClassSpec{Controller: "k8s.io/ingress-nginx"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "internal"}, Spec: networkingv1.IngressClassSpec{Controller: testController}},
	}
	cases := []struct {
		name string
		opts func(*Options)
		ing  *networkingv1.Ingress
		want bool
	}{
		{name: "ingressClassName of a class of our controller", ing: ingress("a"), want: true},
		{name: "ingressClassName of another class of our controller", ing: ingress("a", className(ptr.To("internal"))), want: true},
		{name: "ingressClassName of another controller's class", ing: ingress("a", className(ptr.To("nginx"))), want: false},
		{name: "ingressClassName of a class that does not exist", ing: ingress("a", className(ptr.To("missing"))), want: false},
		{name: "ingressClassName wins over a matching annotation", ing: ingress("a", className(ptr.To("nginx")), ann("kubernetes.io/ingress.class", testClass)), want: false},
		{name: "annotation equal to --ingress-class", ing: ingress("a", className(nil), ann("kubernetes.io/ingress.class", testClass)), want: true},
		{name: "annotation of another class", ing: ingress("a", className(nil), ann("kubernetes.io/ingress.class", "nginx")), want: false},
		{name: "empty annotation", ing: ingress("a", className(nil), ann("kubernetes.io/ingress.class", "")), want: false},
		{name: "no class at all", ing: ingress("a", className(nil)), want: false},
		{name: "no class at all with --watch-ingress-without-class", opts: func(o *Options) { o.WatchIngressWithoutClass = true }, ing: ingress("a", className(nil)), want: true},
		{name: "annotation of another class with --watch-ingress-without-class", opts: func(o *Options) { o.WatchIngressWithoutClass = true },
			ing: ingress("a", className(nil), ann("kubernetes.io/ingress.class", "nginx")), want: false},
		{name: "no class while another controller's class is the default", opts: func(o *Options) { o.IngressClass, o.ControllerClass = "nginx", "k8s.io/ingress-nginx" },
			ing: ingress("a", className(nil)), want: false},
		{name: "--ingress-class-by-name takes a class named --ingress-class whatever its controller", opts: func(o *Options) { o.IngressClass, o.IngressClassByName = "nginx", true },
			ing: ingress("a", className(ptr.To("nginx"))), want: true},
		{name: "without --ingress-class-by-name the name does not count", opts: func(o *Options) { o.IngressClass = "nginx" },
			ing: ingress("a", className(ptr.To("nginx"))), want: false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opts := testOptions()
			if tc.opts != nil {
				tc.opts(&opts)
			}
			if got := IsOurs(opts, tc.ing, classes); got != tc.want {
				t.Errorf("IsOurs = %v, want %v", got, tc.want)
			}
		})
	}
}
