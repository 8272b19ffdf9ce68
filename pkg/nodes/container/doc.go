// Package container starts a pod's container processes: each one is the minaks binary
// re-executed as a small init that enters the pod's network namespace, builds the container's
// root filesystem (the host's, as a copy-on-write overlay, with the pod's files and volumes
// mounted into it), switches to it, takes the container's hostname and user, and execs the
// container's command. The process then is the container: its parent (the node agent) waits
// for it, signals it and collects its output. A container with limits has a cgroup of its
// own, which it sees as its /sys/fs/cgroup and whose limits change in place on a resize
// (Process.Update). Containers are started from one thread that lives as long as the node
// agent, and take SIGKILL as their parent-death signal: they end with the agent's daemon.
package container
