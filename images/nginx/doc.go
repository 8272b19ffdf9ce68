// Package nginx is the built-in nginx image (docker.io/library/nginx and its unprivileged,
// Bitnami and Microsoft mirror variants): a static file server that answers as the stock
// image does — the "Welcome to nginx!" page, nginx's error pages and its access log on stdout —
// or serves /usr/share/nginx/html when a volume is mounted there.
package nginx
