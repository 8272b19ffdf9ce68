// Package echobasic is the built-in echo-basic, the backend of the Gateway API conformance
// suite (registry.k8s.io/gateway-api/conformance/echo-basic, and the staging
// gcr.io/k8s-staging-gateway-api/echo-basic the suite's v1.5.1 manifests name), with the
// behaviour of echo-basic v1.5.1 (sigs.k8s.io/gateway-api/conformance/echo-basic):
//
//   - HTTP on HTTP_PORT (3000): every path answers with the request as indented JSON (path as
//     requested, host, method, proto, headers, httpPort, and the pod's namespace, ingress,
//     service and pod from NAMESPACE, INGRESS_NAME, SERVICE_NAME and POD_NAME; tls for
//     HTTPS); /health answers OK; /status/NNN answers status NNN; ?delay=<duration> waits
//     first; X-Echo-Set-Header "Name:value, …" sets response headers; /ws echoes WebSocket
//     frames; "//" in a path is folded for routing only, so the echoed path keeps it.
//   - h2c on H2C_PORT (3001): the echo for HTTP/2 without TLS (prior knowledge or Upgrade),
//     400 "Expected h2c request" otherwise.
//   - HTTPS on HTTPS_PORT (8443) when TLS_SERVER_CERT and TLS_SERVER_PRIVKEY name the
//     certificate files, verifying client certificates against TLS_CLIENT_CACERTS when given.
//   - GRPC_ECHO_SERVER or TCP_ECHO_SERVER set: the gRPC echo service or the TCP echo server
//     instead, run by the conformance module's own packages echo-basic/grpc and
//     echo-basic/tcpserver.
//
// The image is distroless: its entrypoint is /echo-basic. The gRPC server brings grpc-go, so
// the program lives in the Kubernetes-libraries binary (images.KubeBinary).
package echobasic
